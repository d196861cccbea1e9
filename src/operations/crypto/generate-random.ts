import type { GenerateRandomRequest, GenerateRandomResponse } from '../../model/kms-model.generated.js';
import { SecretBytes } from '../../crypto/secret-bytes.js';
import { KmsError } from '../../domain/errors.js';
import { defineOperation } from '../operation.js';

export const generateRandom = defineOperation<GenerateRandomRequest, GenerateRandomResponse>('GenerateRandom', async (input, ctx, svc) => {
  // An IAM-only permission (no key): a user or role needs an identity policy allowing kms:GenerateRandom on "*".
  svc.authorizer.authorize(ctx.caller, 'kms:GenerateRandom');
  if (input.Recipient) {
    throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available outside AWS.');
  }
  if (input.CustomKeyStoreId !== undefined) {
    throw new KmsError('CustomKeyStoreNotFoundException', `Custom key store '${input.CustomKeyStoreId}' does not exist.`);
  }
  if (input.NumberOfBytes === undefined) {
    throw new KmsError('ValidationException', "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy constraint: Member must not be null");
  }
  return { Plaintext: SecretBytes.adopt(svc.random.bytes(input.NumberOfBytes)) };
});
