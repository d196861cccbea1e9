import type { DisableKeyRotationRequest } from '../../model/kms-model.generated.js';
import { assertKeyState } from '../../domain/key-state.js';
import { assertPrimaryForRotation, assertRotatable, changeRotationSettings, rotationEnabled } from '../../domain/rotation.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * API_DisableKeyRotation: no more automatic rotations; the current material stays current. Enabling again starts a
 * new period from that day ("rotates the key material based on the new rotation-enable date"). On-demand rotation
 * is not affected.
 */
export const disableKeyRotation = defineOperation<DisableKeyRotationRequest, void>('DisableKeyRotation', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'DisableKeyRotation', ctx, svc, OWN_KEY);
  assertRotatable(key, 'DisableKeyRotation');
  assertPrimaryForRotation(key);
  await changeRotationSettings(svc.keys, key, (current) => {
    assertKeyState(current, 'DisableKeyRotation');
    if (!rotationEnabled(current)) return undefined;
    return { ...current, rotationPeriodDays: undefined, nextRotationDate: undefined };
  });

});
