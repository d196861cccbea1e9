import type { EnableKeyRotationRequest } from '../../model/kms-model.generated.js';
import { validationError } from '../../domain/errors.js';
import { assertKeyState } from '../../domain/key-state.js';
import {
  assertPrimaryForRotation, assertRotatable, changeRotationSettings, DAY_MS, DEFAULT_ROTATION_PERIOD_DAYS, MAX_ROTATION_PERIOD_DAYS,
  MIN_ROTATION_PERIOD_DAYS, rotationEnabled,
} from '../../domain/rotation.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * API_EnableKeyRotation: automatic rotation every RotationPeriodInDays (90–2560, default 365), the first one that many
 * days after enabling. On a key whose rotation is already enabled it changes the period: the next rotation moves to
 * the last rotation (or enabling) plus the new period, which may be due at once.
 */
export const enableKeyRotation = defineOperation<EnableKeyRotationRequest, void>('EnableKeyRotation', async (input, ctx, svc) => {
  const days = input.RotationPeriodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS;
  if (!Number.isInteger(days) || days < MIN_ROTATION_PERIOD_DAYS || days > MAX_ROTATION_PERIOD_DAYS) {
    throw validationError(
      `1 validation error detected: Value '${days}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between ${MIN_ROTATION_PERIOD_DAYS} and ${MAX_ROTATION_PERIOD_DAYS}`,
    );
  }
  const key = await keyForOperation(input.KeyId, 'EnableKeyRotation', ctx, svc, OWN_KEY, { rotationPeriodInDays: days });
  assertRotatable(key, 'EnableKeyRotation');
  assertPrimaryForRotation(key);
  const now = svc.clock.now();
  await changeRotationSettings(svc.keys, key, (current) => {
    assertKeyState(current, 'EnableKeyRotation');
    const since = rotationEnabled(current) ? current.nextRotationDate!.getTime() - current.rotationPeriodDays! * DAY_MS : now.getTime();
    const nextRotationDate = new Date(since + days * DAY_MS);
    if (current.rotationPeriodDays === days && current.nextRotationDate?.getTime() === nextRotationDate.getTime()) return undefined;
    return { ...current, rotationPeriodDays: days, nextRotationDate };
  });

});
