import type { RetireGrantRequest } from '../../model/kms-model.generated.js';
import { parseKeyReference } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import type { KeyRecord } from '../../domain/ports.js';
import { isGrantee } from '../../domain/grants.js';
import { authorizeOnKey, dryRunCheck, resolveKey } from '../common.js';
import { defineOperation } from '../operation.js';
import { checkGrantId, GRANT_KEY, grantNotFound } from './grant-rules.js';

/**
 * API_RetireGrant: by GrantToken, or by KeyId (key ID or key ARN) and GrantId. Allowed for the grant's retiring
 * principal, its grantee when the grant includes RetireGrant, and principals allowed kms:RetireGrant on the key (the
 * key's account through its default key policy: "the account in which the grant was created"). Every key state.
 */
export const retireGrant = defineOperation<RetireGrantRequest, void>('RetireGrant', async (input, ctx, svc) => {
  let key: KeyRecord;
  let grantId: string;
  if (input.GrantToken !== undefined) {
    const named = svc.grants.tokens.open(input.GrantToken);
    const ref = parseKeyReference(named.keyArn);
    const found = ref?.kind === 'keyArn' ? await svc.keys.getKey(ref.scope, ref.keyId) : undefined;
    if (!found) throw grantNotFound(named.grantId);
    key = found;
    grantId = named.grantId;
    ctx.resourceArn = key.arn;
  } else {
    if (input.KeyId === undefined || input.GrantId === undefined) {
      throw new KmsError('ValidationException', 'Either a GrantToken, or both a KeyId and a GrantId, must be specified.');
    }
    checkGrantId(input.GrantId);
    key = await resolveKey(input.KeyId, ctx, svc, GRANT_KEY);
    grantId = input.GrantId;
  }
  const grant = await svc.storage.getGrant(key.arn, grantId);
  if (!grant) throw grantNotFound(grantId);
  // An account named as retiring principal or grantee delegates to its IAM principals (isGrantee).
  const byGrant =
    (grant.retiringPrincipal !== undefined && isGrantee({ ...grant, granteePrincipal: grant.retiringPrincipal }, ctx.caller, 'RetireGrant')) ||
    (grant.operations.includes('RetireGrant') && isGrantee(grant, ctx.caller, 'RetireGrant'));
  if (!byGrant) {
    const granted = authorizeOnKey('kms:RetireGrant', key, input.KeyId, ctx, svc);
    if (granted) await granted;
  }
  dryRunCheck(input.DryRun);
  if (!(await svc.grants.delete(key.arn, grantId))) throw grantNotFound(grantId);
});
