import type { PutKeyPolicyRequest } from '../../model/kms-model.generated.js';
import { checkKeyPolicy } from '../../domain/key-policy.js';
import { assertKeyState } from '../../domain/key-state.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
import { checkPolicyName } from './policy-name.js';
import { checkPolicyLockout } from './lockout.js';

/**
 * API_PutKeyPolicy: key ID or key ARN; PolicyName optional, "default". The document is validated (size, policy
 * language) and must pass the lockout safety check unless BypassPolicyLockoutSafetyCheck.
 */
export const putKeyPolicy = defineOperation<PutKeyPolicyRequest, void>('PutKeyPolicy', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'PutKeyPolicy', ctx, svc, OWN_KEY);
  checkPolicyName(input.PolicyName, 'PutKeyPolicy');
  checkKeyPolicy(input.Policy);
  await checkPolicyLockout(input.Policy, input.BypassPolicyLockoutSafetyCheck, key, ctx, svc);
  await svc.keys.updateKey(key, key.keyId, (current) => {
    assertKeyState(current, 'PutKeyPolicy');
    return current.policy === input.Policy ? undefined : { ...current, policy: input.Policy };
  });
});
