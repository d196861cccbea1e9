import type { GetKeyLastUsageRequest, GetKeyLastUsageResponse, KeyLastUsageTrackingOperation } from '../../model/kms-model.generated.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * The last successful cryptographic operation with the key, from the audit trail (an index on the key's tracked
 * events: one row read). Key id or key ARN of the caller's own account; no aliases (API_GetKeyLastUsage).
 */
export const getKeyLastUsage = defineOperation<GetKeyLastUsageRequest, GetKeyLastUsageResponse>('GetKeyLastUsage', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'GetKeyLastUsage', ctx, svc, OWN_KEY);
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
