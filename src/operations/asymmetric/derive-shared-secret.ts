import type { DeriveSharedSecretRequest, DeriveSharedSecretResponse } from '../../model/kms-model.generated.js';
import { parsePeerPublicKey } from '../../crypto/ecdh.js';
import { KmsError } from '../../domain/errors.js';
import { keyAgreementRequest, requirePeerKey } from '../../domain/key-specs.js';
import { CRYPTO_KEY, dryRunCheck, keyForOperation } from '../common.js';
import { currentMaterial } from '../crypto/symmetric-key.js';
import { defineOperation } from '../operation.js';

/** ECDH between a KEY_AGREEMENT key's private key and the caller's public key (DER SPKI): the raw shared secret. */
export const deriveSharedSecret = defineOperation<DeriveSharedSecretRequest, DeriveSharedSecretResponse>('DeriveSharedSecret', async (input, ctx, svc) => {
  if (input.Recipient) {
    throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available outside AWS.');
  }
  const key = await keyForOperation(input.KeyId, 'DeriveSharedSecret', ctx, svc, CRYPTO_KEY, { grantTokens: input.GrantTokens });
  const curve = keyAgreementRequest(key, input.KeyAgreementAlgorithm);
  const peer = requirePeerKey(parsePeerPublicKey(input.PublicKey, curve), key);
  const material = await currentMaterial(key, svc);
  dryRunCheck(input.DryRun);
  const secret = await svc.keystore.deriveSharedSecret(material, key.keySpec, peer);
  return { KeyId: key.arn, SharedSecret: secret, KeyAgreementAlgorithm: input.KeyAgreementAlgorithm, KeyOrigin: key.origin };
});
