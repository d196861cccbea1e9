import type { VerifyMacRequest, VerifyMacResponse } from '../../model/kms-model.generated.js';
import { constantTimeEqual } from '../../crypto/hmac.js';
import { KmsError } from '../../domain/errors.js';
import { macRequest } from '../../domain/key-specs.js';
import { CRYPTO_KEY, dryRunCheck, keyForOperation } from '../common.js';
import { currentMaterial } from '../crypto/symmetric-key.js';
import { defineOperation } from '../operation.js';

/** Recomputes the MAC and compares in constant time: MacValid true, or KMSInvalidMacException. */
export const verifyMac = defineOperation<VerifyMacRequest, VerifyMacResponse>('VerifyMac', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'VerifyMac', ctx, svc, CRYPTO_KEY, { macAlgorithm: input.MacAlgorithm, grantTokens: input.GrantTokens });
  const hash = macRequest(key, input.MacAlgorithm, 'VerifyMac');
  const material = await currentMaterial(key, svc);
  dryRunCheck(input.DryRun);
  const expected = await svc.keystore.mac(material, key.keySpec, hash, input.Message.unsafeBytes());
  if (!constantTimeEqual(expected, input.Mac)) {
    throw new KmsError('KMSInvalidMacException', 'The MAC is not valid for this message, key and MAC algorithm.');
  }
  return { KeyId: key.arn, MacValid: true, MacAlgorithm: input.MacAlgorithm };
});
