import type { CancelKeyDeletionRequest, CancelKeyDeletionResponse } from '../../model/kms-model.generated.js';
import { allMaterialsPresent } from '../../domain/import.js';
import { assertKeyState } from '../../domain/key-state.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * API_CancelKeyDeletion: key ID or key ARN; the key comes back Disabled, or PendingImport when it has imported material
 * missing (never imported, deleted or expired): such a key cannot be enabled until its material is imported again.
 * Response KeyId is the key ARN.
 */
export const cancelKeyDeletion = defineOperation<CancelKeyDeletionRequest, CancelKeyDeletionResponse>('CancelKeyDeletion', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'CancelKeyDeletion', ctx, svc, OWN_KEY);
  // While the key is pending deletion no material can be imported (key-state table), so this read stays true.
  const materialMissing = key.origin === 'EXTERNAL' && (key.currentMaterialId === undefined || !allMaterialsPresent(await svc.storage.getMaterials(key.arn)));
  const updated = await svc.keys.updateKey(key, key.keyId, (current) => {
    assertKeyState(current, 'CancelKeyDeletion');
    return {
      ...current, keyState: materialMissing ? 'PendingImport' : 'Disabled', deletionDate: undefined,
      // A primary pending replica deletion: no waiting period any more.
      pendingDeletionWindowInDays: undefined, transitionState: undefined, transitionDate: undefined,
    };
  });
  return { KeyId: updated.arn };
});
