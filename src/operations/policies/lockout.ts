import { KmsError } from '../../domain/errors.js';
import type { KeyRecord } from '../../domain/ports.js';
import type { AuthorizationContext } from '../../domain/authorizer.js';
import { authorizationContext } from '../common.js';
import { withResourceConditions } from '../request-conditions.js';
import type { RequestContext, Services } from '../operation.js';

/**
 * The policy lockout safety check of CreateKey and PutKeyPolicy: unless BypassPolicyLockoutSafetyCheck, the new
 * policy must allow the caller a later PutKeyPolicy on the key (API_PutKeyPolicy). The message is AWS's.
 */
export async function checkPolicyLockout(
  policy: string,
  bypass: boolean | undefined,
  key: KeyRecord,
  ctx: RequestContext,
  svc: Services,
  /** A key not stored yet (CreateKey): its aliases (none) and tags, instead of reading them. */
  resource?: AuthorizationContext,
): Promise<void> {
  if (bypass) return;
  let context = authorizationContext(undefined, ctx, resource, svc);
  if (!resource) {
    // The new policy may test the key's aliases or tags (kms:ResourceAliases, aws:ResourceTag/*).
    const needs = svc.authorizer.resourceConditionNeeds(ctx.caller, { ...key, policy });
    if (needs.aliases || needs.tags) context = await withResourceConditions(context, key, needs, svc);
  }
  if (svc.authorizer.decide(policy, ctx.caller, 'kms:PutKeyPolicy', key, context) !== 'allow') {
    throw new KmsError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
  }
}
