import type { CreateGrantRequest, CreateGrantResponse } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import {
  checkGrantRequest, checkPrincipal, MAX_GRANTS_PER_GRANTEE_PER_KEY, MAX_GRANTS_PER_KEY, sameGrantParameters, type GrantRecord,
} from '../../domain/grants.js';
import { assertKeyState } from '../../domain/key-state.js';
import { StorageLimitError } from '../../domain/ports.js';
import { authorizeOnKey, dryRunCheck, resolveKey } from '../common.js';
import { defineOperation } from '../operation.js';
import { GRANT_KEY } from './grant-rules.js';

/**
 * API_CreateGrant: a grant on a key (of this account, or of another by key ARN) for a grantee principal, authorized as
 * kms:CreateGrant (the key policy, or a grant that includes CreateGrant: then the new grant may only narrow it).
 * With a Name, a retry with the same parameters returns the existing grant's id (and a new token).
 */
export const createGrant = defineOperation<CreateGrantRequest, CreateGrantResponse>('CreateGrant', async (input, ctx, svc) => {
  checkPrincipal(input.GranteePrincipal);
  if (input.RetiringPrincipal !== undefined) checkPrincipal(input.RetiringPrincipal);
  const key = await resolveKey(input.KeyId, ctx, svc, GRANT_KEY);
  const { operations, constraints } = checkGrantRequest(key, input.Operations, input.Constraints);
  const granted = authorizeOnKey('kms:CreateGrant', key, input.KeyId, ctx, svc, {
    grantTokens: input.GrantTokens, grantOperations: operations, granteePrincipal: input.GranteePrincipal,
    retiringPrincipal: input.RetiringPrincipal, grantConstraints: constraints, grantIsForAwsResource: false,
  });
  if (granted) await granted;
  assertKeyState(key, 'CreateGrant');
  const wanted = {
    keyArn: key.arn, account: key.account, region: key.region, name: input.Name, granteePrincipal: input.GranteePrincipal,
    retiringPrincipal: input.RetiringPrincipal, operations, constraints,
  };
  if (input.Name !== undefined) {
    const existing = (await svc.grants.getGrants(key.arn)).find((g) => sameGrantParameters(wanted, g));
    if (existing) {
      dryRunCheck(input.DryRun);
      return { GrantId: existing.grantId, GrantToken: svc.grants.tokens.issue(key.arn, existing.grantId) };
    }
  }
  dryRunCheck(input.DryRun);
  const grant: GrantRecord = {
    ...wanted,
    grantId: svc.random.bytes(32).toString('hex'),
    issuingAccount: `arn:aws:iam::${key.account}:root`,
    creationDate: svc.clock.now(),
  };
  try {
    await svc.grants.create(grant, { perKey: MAX_GRANTS_PER_KEY, perGrantee: MAX_GRANTS_PER_GRANTEE_PER_KEY });
  } catch (err) {
    if (err instanceof StorageLimitError) {
      throw new KmsError('LimitExceededException', `The request was rejected because a quota was exceeded: at most ${MAX_GRANTS_PER_KEY} grants per KMS key and ${MAX_GRANTS_PER_GRANTEE_PER_KEY} grants per grantee principal per KMS key (${key.arn}).`);
    }
    throw err;
  }
  return { GrantId: grant.grantId, GrantToken: svc.grants.tokens.issue(key.arn, grant.grantId) };
});
