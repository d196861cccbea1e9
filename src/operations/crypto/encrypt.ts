import type { EncryptRequest, EncryptResponse } from '../../model/kms-model.generated.js';
import { encryptionScheme } from '../../domain/key-specs.js';
import { CRYPTO_KEY, keyForOperation } from '../common.js';
import { currentMaterial } from './symmetric-key.js';
import { defineOperation } from '../operation.js';
import { seal } from './seal.js';

export const encrypt = defineOperation<EncryptRequest, EncryptResponse>('Encrypt', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'Encrypt', ctx, svc, CRYPTO_KEY, {
    encryptionContext: input.EncryptionContext, encryptionAlgorithm: input.EncryptionAlgorithm, grantTokens: input.GrantTokens,
  });
  const scheme = encryptionScheme(key, input.EncryptionAlgorithm, 'Encrypt');
  const material = await currentMaterial(key, svc);
  const sealed = await seal(svc, key, scheme, material, input.Plaintext.unsafeBytes(), input.EncryptionContext, input.DryRun);
  return { CiphertextBlob: sealed.blob, KeyId: key.arn, EncryptionAlgorithm: sealed.algorithm };
});
