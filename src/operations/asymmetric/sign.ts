import type { SignRequest, SignResponse } from '../../model/kms-model.generated.js';
import { signingRequest } from '../../domain/key-specs.js';
import { CRYPTO_KEY, dryRunCheck, keyForOperation } from '../common.js';
import { currentMaterial } from '../crypto/symmetric-key.js';
import { defineOperation } from '../operation.js';

export const sign = defineOperation<SignRequest, SignResponse>('Sign', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'Sign', ctx, svc, CRYPTO_KEY, { signingAlgorithm: input.SigningAlgorithm, grantTokens: input.GrantTokens });
  const message = input.Message.unsafeBytes();
  const { scheme, prehashed } = signingRequest(key, input.SigningAlgorithm, input.MessageType, message.length, 'Sign');
  const material = await currentMaterial(key, svc);
  dryRunCheck(input.DryRun);
  const signature = await svc.keystore.sign(material, key.keySpec, scheme, message, prehashed);
  return { KeyId: key.arn, Signature: signature, SigningAlgorithm: input.SigningAlgorithm };
});
