import type { CancelKeyDeletionRequest, CancelKeyDeletionResponse } from '../../model/kms-model.generated.js';
import { assertKeyState } from '../../domain/key-state.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/** API_CancelKeyDeletion: key ID or key ARN; the key comes back Disabled. Response KeyId is the key ARN. */
export const cancelKeyDeletion = defineOperation<CancelKeyDeletionRequest, CancelKeyDeletionResponse>('CancelKeyDeletion', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'CancelKeyDeletion', ctx, svc, OWN_KEY);
  const updated = await svc.keys.updateKey(key, key.keyId, (current) => {
    assertKeyState(current, 'CancelKeyDeletion');
    return { ...current, keyState: 'Disabled', deletionDate: undefined };
  });
  return { KeyId: updated.arn };
});
