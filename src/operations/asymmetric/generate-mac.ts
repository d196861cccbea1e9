import type { GenerateMacRequest, GenerateMacResponse } from '../../model/kms-model.generated.js';
import { macRequest } from '../../domain/key-specs.js';
import { CRYPTO_KEY, dryRunCheck, keyForOperation } from '../common.js';
import { currentMaterial } from '../crypto/symmetric-key.js';
import { defineOperation } from '../operation.js';

export const generateMac = defineOperation<GenerateMacRequest, GenerateMacResponse>('GenerateMac', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'GenerateMac', ctx, svc, CRYPTO_KEY, { macAlgorithm: input.MacAlgorithm, grantTokens: input.GrantTokens });
  const hash = macRequest(key, input.MacAlgorithm, 'GenerateMac');
  const material = await currentMaterial(key, svc);
  dryRunCheck(input.DryRun);
  const mac = await svc.keystore.mac(material, key.keySpec, hash, input.Message.unsafeBytes());
  return { Mac: mac, MacAlgorithm: input.MacAlgorithm, KeyId: key.arn };
});
