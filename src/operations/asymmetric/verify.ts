import type { VerifyRequest, VerifyResponse } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { signingRequest } from '../../domain/key-specs.js';
import { CRYPTO_KEY, dryRunCheck, keyForOperation } from '../common.js';
import { currentMaterial } from '../crypto/symmetric-key.js';
import { defineOperation } from '../operation.js';

/** Answers SignatureValid true, or KMSInvalidSignatureException: AWS never answers false. */
export const verify = defineOperation<VerifyRequest, VerifyResponse>('Verify', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'Verify', ctx, svc, CRYPTO_KEY, { signingAlgorithm: input.SigningAlgorithm, grantTokens: input.GrantTokens });
  const message = input.Message.unsafeBytes();
  const { scheme, prehashed } = signingRequest(key, input.SigningAlgorithm, input.MessageType, message.length, 'Verify');
  const material = await currentMaterial(key, svc);
  dryRunCheck(input.DryRun);
  if (!(await svc.keystore.verify(material, key.keySpec, scheme, message, prehashed, input.Signature))) {
    throw new KmsError('KMSInvalidSignatureException', 'The signature is not valid for this message, key and signing algorithm.');
  }
  return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: input.SigningAlgorithm };
});
