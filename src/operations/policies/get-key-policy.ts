import type { GetKeyPolicyRequest, GetKeyPolicyResponse } from '../../model/kms-model.generated.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
import { checkPolicyName } from './policy-name.js';

/** API_GetKeyPolicy: key ID or key ARN; PolicyName optional, "default". */
export const getKeyPolicy = defineOperation<GetKeyPolicyRequest, GetKeyPolicyResponse>('GetKeyPolicy', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'GetKeyPolicy', ctx, svc, OWN_KEY);
  const policyName = checkPolicyName(input.PolicyName, 'GetKeyPolicy');
  return { Policy: key.policy, PolicyName: policyName };
});
