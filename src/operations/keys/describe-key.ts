import type { DescribeKeyRequest, DescribeKeyResponse } from '../../model/kms-model.generated.js';
import { keyMetadata } from '../../domain/key-metadata.js';
import { CRYPTO_KEY, keyForOperation } from '../common.js';
import { defineOperation } from '../operation.js';

export const describeKey = defineOperation<DescribeKeyRequest, DescribeKeyResponse>('DescribeKey', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'DescribeKey', ctx, svc, CRYPTO_KEY, { grantTokens: input.GrantTokens });
  const current = key.origin === 'EXTERNAL' && key.currentMaterialId ? await svc.keys.getMaterial(key, key.currentMaterialId) : undefined;
  return { KeyMetadata: keyMetadata(key, current) };
});
