import type { DecryptRequest, DecryptResponse } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { dryRunCheck } from '../common.js';
import { defineOperation } from '../operation.js';
import { openCiphertext } from './open-ciphertext.js';

export const decrypt = defineOperation<DecryptRequest, DecryptResponse>('Decrypt', async (input, ctx, svc) => {
  if (input.Recipient) {
    throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available outside AWS.');
  }
  const opened = await openCiphertext(input.CiphertextBlob, input.KeyId, input.EncryptionContext, input.EncryptionAlgorithm, 'Decrypt', ctx, svc, input.GrantTokens);
  dryRunCheck(input.DryRun);
  return { KeyId: opened.key.arn, Plaintext: opened.plaintext, EncryptionAlgorithm: opened.algorithm, KeyMaterialId: opened.materialId };
});
