import { KmsError } from '../../domain/errors.js';

/** The only key policy name AWS has: "default" (API_GetKeyPolicy / API_PutKeyPolicy PolicyName). */
export const DEFAULT_POLICY_NAME = 'default';

export function checkPolicyName(name: string | undefined, operation: 'GetKeyPolicy' | 'PutKeyPolicy'): string {
  const policyName = name ?? DEFAULT_POLICY_NAME;
  if (policyName !== DEFAULT_POLICY_NAME) {
    throw operation === 'GetKeyPolicy'
      ? new KmsError('NotFoundException', 'No such policy exists')
      : new KmsError('UnsupportedOperationException', 'Only default policy is supported');
  }
  return policyName;
}
