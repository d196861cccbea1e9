import type { GetKeyRotationStatusRequest, GetKeyRotationStatusResponse } from '../../model/kms-model.generated.js';
import { assertRotatable, rotationEnabled } from '../../domain/rotation.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * API_GetKeyRotationStatus: KeyRotationEnabled, and while enabled RotationPeriodInDays and NextRotationDate. A key
 * pending deletion reports false (AWS: "the key rotation status is set to false" while deletion is pending); its
 * setting comes back if the deletion is cancelled. OnDemandRotationStartDate is never present: Trent performs an
 * on-demand rotation within the RotateKeyOnDemand request, so none is ever in progress afterwards.
 */
export const getKeyRotationStatus = defineOperation<GetKeyRotationStatusRequest, GetKeyRotationStatusResponse>('GetKeyRotationStatus', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'GetKeyRotationStatus', ctx, svc, OWN_KEY);
  assertRotatable(key, 'GetKeyRotationStatus');
  const pendingDeletion = key.keyState === 'PendingDeletion' || key.keyState === 'PendingReplicaDeletion';
  if (!rotationEnabled(key) || pendingDeletion) return { KeyId: key.arn, KeyRotationEnabled: false };
  return { KeyId: key.arn, KeyRotationEnabled: true, RotationPeriodInDays: key.rotationPeriodDays, NextRotationDate: key.nextRotationDate };
});
