import type { EncryptRequest, EncryptResponse } from '../../model/kms-model.generated.js';
import { sealSymmetric } from '../../domain/symmetric.js';
import { CRYPTO_KEY, dryRunCheck, keyForOperation } from '../common.js';
import { currentMaterial, requireSymmetricEncryption } from './symmetric-key.js';
import { defineOperation } from '../operation.js';

export const encrypt = defineOperation<EncryptRequest, EncryptResponse>('Encrypt', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'Encrypt', ctx, svc, CRYPTO_KEY);
  requireSymmetricEncryption(key, input.EncryptionAlgorithm);
  const material = await currentMaterial(key, svc);
  dryRunCheck(input.DryRun);
  const blob = await sealSymmetric(svc.keystore, key, material, input.Plaintext.unsafeBytes(), input.EncryptionContext);
  return { CiphertextBlob: blob, KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
});
