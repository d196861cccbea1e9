import type { GetPublicKeyRequest, GetPublicKeyResponse } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { customerMasterKeySpec } from '../../domain/key-metadata.js';
import { algorithmLists, isAsymmetric } from '../../domain/key-specs.js';
import { CRYPTO_KEY, keyForOperation } from '../common.js';
import { currentMaterial } from '../crypto/symmetric-key.js';
import { defineOperation } from '../operation.js';

/** The DER SubjectPublicKeyInfo of an asymmetric key, with what AWS returns beside it. */
export const getPublicKey = defineOperation<GetPublicKeyRequest, GetPublicKeyResponse>('GetPublicKey', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'GetPublicKey', ctx, svc, CRYPTO_KEY, { grantTokens: input.GrantTokens });
  if (!isAsymmetric(key.keySpec)) {
    throw new KmsError('UnsupportedOperationException', `${key.arn} is a ${key.keySpec} key: only asymmetric KMS keys have a public key.`);
  }
  const material = await currentMaterial(key, svc);
  return {
    KeyId: key.arn,
    PublicKey: await svc.keystore.publicKey(material, key.keySpec),
    CustomerMasterKeySpec: customerMasterKeySpec(key.keySpec),
    KeySpec: key.keySpec,
    KeyUsage: key.keyUsage,
    ...algorithmLists(key.keySpec, key.keyUsage),
  };
});
