import type { RevokeGrantRequest } from '../../model/kms-model.generated.js';
import { dryRunCheck, keyForOperation } from '../common.js';
import { defineOperation } from '../operation.js';
import { checkGrantId, GRANT_KEY, grantNotFound } from './grant-rules.js';

/** API_RevokeGrant: deletes a grant of a key (key ID or key ARN), authorized as kms:RevokeGrant on the key. */
export const revokeGrant = defineOperation<RevokeGrantRequest, void>('RevokeGrant', async (input, ctx, svc) => {
  checkGrantId(input.GrantId);
  const key = await keyForOperation(input.KeyId, 'RevokeGrant', ctx, svc, GRANT_KEY, { grantIsForAwsResource: false });
  if (!(await svc.storage.getGrant(key.arn, input.GrantId))) throw grantNotFound(input.GrantId);
  dryRunCheck(input.DryRun);
  if (!(await svc.grants.delete(key.arn, input.GrantId))) throw grantNotFound(input.GrantId);
});
