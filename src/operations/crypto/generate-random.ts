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
  if (input.NumberOfBytes === undefined) {
    throw new KmsError('ValidationException', "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy constraint: Member must not be null");
  }
  if (input.CustomKeyStoreId !== undefined) {
    // API_GenerateRandom: from the HSM of a connected AWS CloudHSM key store; external key stores are not supported.
    const store = await svc.customKeyStores.get(ctx.scope, input.CustomKeyStoreId);
    if (!store) throw new KmsError('CustomKeyStoreNotFoundException', `Custom key store '${input.CustomKeyStoreId}' does not exist in this account and Region.`);
    if (store.type === 'EXTERNAL_KEY_STORE') throw new KmsError('UnsupportedOperationException', 'GenerateRandom does not support external key stores.');
    if (store.connectionState !== 'CONNECTED') {
      throw new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${store.customKeyStoreId} is ${store.connectionState}: GenerateRandom needs a CONNECTED store.`);
    }
    svc.quotas?.admitCustomKeyStore(store.customKeyStoreId); // the store's request quota, on top of the account's
    return { Plaintext: SecretBytes.adopt(await svc.hsm.random(store, input.NumberOfBytes)) };
  }
  return { Plaintext: SecretBytes.adopt(svc.random.bytes(input.NumberOfBytes)) };
});
