import { KmsError } from '../../domain/errors.js';
import type { KeyRecord } from '../../domain/ports.js';
import { authorizationContext } from '../common.js';
import type { RequestContext, Services } from '../operation.js';

/**
 * The policy lockout safety check of CreateKey and PutKeyPolicy: unless BypassPolicyLockoutSafetyCheck, the new
 * policy must allow the caller a later PutKeyPolicy on the key (API_PutKeyPolicy). The message is AWS's.
 */
export function checkPolicyLockout(policy: string, bypass: boolean | undefined, key: KeyRecord, ctx: RequestContext, svc: Services): void {
  if (bypass) return;
  if (svc.authorizer.decide(policy, ctx.caller, 'kms:PutKeyPolicy', key, authorizationContext(undefined, ctx, undefined, svc)) !== 'allow') {
    throw new KmsError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
  }
}
