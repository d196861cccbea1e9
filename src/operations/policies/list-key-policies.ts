import type { ListKeyPoliciesRequest, ListKeyPoliciesResponse } from '../../model/kms-model.generated.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
import { pageLimit } from '../paging.js';
import { DEFAULT_POLICY_NAME } from './policy-name.js';

/** API_ListKeyPolicies: key ID or key ARN; always one policy, "default"; Limit 1–1000, default 100. */
export const listKeyPolicies = defineOperation<ListKeyPoliciesRequest, ListKeyPoliciesResponse>('ListKeyPolicies', async (input, ctx, svc) => {
  pageLimit(input.Limit, 100, 1000);
  await keyForOperation(input.KeyId, 'ListKeyPolicies', ctx, svc, OWN_KEY);
  return { PolicyNames: [DEFAULT_POLICY_NAME], Truncated: false };
});
