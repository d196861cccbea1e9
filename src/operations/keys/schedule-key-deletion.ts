import type { ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse } from '../../model/kms-model.generated.js';
import { validationError } from '../../domain/errors.js';
import { assertKeyState } from '../../domain/key-state.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * API_ScheduleKeyDeletion: key ID or key ARN; PendingWindowInDays 7–30, default 30 (the model allows 1–365, for
 * other resource types). The key becomes PendingDeletion; the DeletionSweeper deletes it after DeletionDate.
 */
export const scheduleKeyDeletion = defineOperation<ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse>('ScheduleKeyDeletion', async (input, ctx, svc) => {
  const days = input.PendingWindowInDays ?? 30;
  if (days < 7 || days > 30) throw validationError(`PendingWindowInDays should be between 7 and 30, but it is ${days}`);
  const key = await keyForOperation(input.KeyId, 'ScheduleKeyDeletion', ctx, svc, OWN_KEY, { pendingWindowInDays: days });
  const deletionDate = new Date(svc.clock.now().getTime() + days * DAY_MS);
  const updated = await svc.keys.updateKey(key, key.keyId, (current) => {
    assertKeyState(current, 'ScheduleKeyDeletion');
    return { ...current, keyState: 'PendingDeletion', deletionDate };
  });
  return { KeyId: updated.arn, DeletionDate: updated.deletionDate, KeyState: updated.keyState, PendingWindowInDays: days };
});
