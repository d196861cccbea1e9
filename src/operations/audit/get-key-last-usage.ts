import type { GetKeyLastUsageRequest, GetKeyLastUsageResponse, KeyLastUsageTrackingOperation } from '../../model/kms-model.generated.js';
import { authorizationContext, OWN_KEY, resolveKey } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * The last successful cryptographic operation with the key, from the audit trail (an index on the key's tracked
 * events: one row read). Key id or key ARN of the caller's own account; no aliases (API_GetKeyLastUsage).
 */
export const getKeyLastUsage = defineOperation<GetKeyLastUsageRequest, GetKeyLastUsageResponse>('GetKeyLastUsage', async (input, ctx, svc) => {
  const key = await resolveKey(input.KeyId, ctx, svc, OWN_KEY);
  svc.authorizer.authorize(ctx.caller, 'kms:GetKeyLastUsage', key, authorizationContext(input.KeyId, ctx));
  // No key-state check: AWS's key-state table does not list GetKeyLastUsage; like DescribeKey it answers in every state.
  const [last, trackingStart] = await Promise.all([svc.keyUsage.lastKeyUsage(key.arn), svc.keyUsage.trackingStart()]);
  return {
    KeyId: key.keyId,
    // TrackingStartDate: when tracking began, or the key's creation, whichever is later.
    TrackingStartDate: trackingStart > key.creationDate ? trackingStart : key.creationDate,
    KeyCreationDate: key.creationDate,
    ...(last && {
      KeyLastUsage: {
        Operation: last.usage as KeyLastUsageTrackingOperation,
        Timestamp: new Date(last.eventTime),
        CloudTrailEventId: last.eventId,
        KmsRequestId: last.requestId,
      },
    }),
  };
});
