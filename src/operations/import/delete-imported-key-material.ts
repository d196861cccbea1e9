import type { DeleteImportedKeyMaterialRequest, DeleteImportedKeyMaterialResponse } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { assertExternal } from '../../domain/import.js';
import { assertKeyState } from '../../domain/key-state.js';
import { isErased } from '../../domain/ports.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * API_DeleteImportedKeyMaterial: cryptographic erasure. The wrapped material is removed from the store (its row keeps
 * only the id and import fields, so the same material can be imported again) and from every node's memory; the key
 * goes to PendingImport. Without KeyMaterialId: the current material (and any material waiting for rotation); with
 * it: that material.
 */
export const deleteImportedKeyMaterial = defineOperation<DeleteImportedKeyMaterialRequest, DeleteImportedKeyMaterialResponse>('DeleteImportedKeyMaterial', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'DeleteImportedKeyMaterial', ctx, svc, OWN_KEY);
  assertExternal(key);
  let deletedId: string | undefined;
  await svc.keys.eraseMaterials(key, key.keyId, (current, materials) => {
    assertKeyState(current, 'DeleteImportedKeyMaterial');
    let targets = materials.filter((m) => !isErased(m));
    if (input.KeyMaterialId !== undefined) {
      if (!materials.some((m) => m.materialId === input.KeyMaterialId)) {
        throw new KmsError('NotFoundException', `Key material ${input.KeyMaterialId} of ${key.arn} does not exist.`);
      }
      targets = targets.filter((m) => m.materialId === input.KeyMaterialId);
    } else {
      targets = targets.filter((m) => m.materialId === current.currentMaterialId || m.pendingRotation);
    }
    deletedId = input.KeyMaterialId ?? current.currentMaterialId;
    const keyState = current.keyState === 'Enabled' || current.keyState === 'Disabled' ? 'PendingImport' : current.keyState;
    if (targets.length === 0 && keyState === current.keyState) return undefined;
    return { key: { ...current, keyState }, materialIds: targets.map((m) => m.materialId) };
  });
  ctx.resourceArn = key.arn;
  return { KeyId: key.arn, ...(deletedId !== undefined && { KeyMaterialId: deletedId }) };
});
