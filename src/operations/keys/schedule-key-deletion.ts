import type { ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse } from '../../model/kms-model.generated.js';
import { validationError } from '../../domain/errors.js';
import { assertKeyState } from '../../domain/key-state.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
import { isPrimary } from '../../domain/multi-region.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * API_ScheduleKeyDeletion: key ID or key ARN; PendingWindowInDays 7–30, default 30 (the model allows 1–365, for
 * other resource types). The key becomes PendingDeletion; the DeletionSweeper deletes it after DeletionDate.
 */
export const scheduleKeyDeletion = defineOperation<ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse>('ScheduleKeyDeletion', async (input, ctx, svc) => {
  const days = input.PendingWindowInDays ?? 30;
  if (days < 7 || days > 30) throw validationError(`PendingWindowInDays should be between 7 and 30, but it is ${days}`);
  const key = await keyForOperation(input.KeyId, 'ScheduleKeyDeletion', ctx, svc, OWN_KEY, { pendingWindowInDays: days });
  const now = svc.clock.now();
  const deletionDate = new Date(now.getTime() + days * DAY_MS);
  // A multi-Region primary with replicas is not deleted while they exist: PendingReplicaDeletion, its waiting period
  // starting when the last replica is deleted (the transition job then makes it PendingDeletion).
  const hasReplicas = isPrimary(key) && (await svc.keys.getRelatedKeys(key.account, key.keyId)).some((k) => k.region !== key.region);
  const updated = await svc.keys.updateKey(key, key.keyId, (current) => {
    assertKeyState(current, 'ScheduleKeyDeletion');
    const base = { ...current, transitionState: undefined, transitionDate: undefined, pendingDeletionWindowInDays: undefined };
    if (hasReplicas && isPrimary(current)) {
      return { ...base, keyState: 'PendingReplicaDeletion', deletionDate: undefined, pendingDeletionWindowInDays: days, transitionState: 'PendingDeletion', transitionDate: now };
    }
    return { ...base, keyState: 'PendingDeletion', deletionDate };
  });
  return { KeyId: updated.arn, DeletionDate: updated.keyState === 'PendingDeletion' ? updated.deletionDate : undefined, KeyState: updated.keyState, PendingWindowInDays: days };
});
