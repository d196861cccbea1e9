import type { RotateKeyOnDemandRequest, RotateKeyOnDemandResponse } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { assertKeyState } from '../../domain/key-state.js';
import { assertPrimaryForRotation, assertRotatable, AUTOMATIC_ROTATION_CONFLICT_WINDOW_MS, ON_DEMAND_ROTATION_LIMIT, rotated, rotateKeyMaterial } from '../../domain/rotation.js';
import type { KeyRecord, MaterialRecord } from '../../domain/ports.js';
import { isErased } from '../../domain/ports.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation, type Services } from '../operation.js';

/**
 * API_RotateKeyOnDemand: new material becomes current at once (Trent rotates within the request; AWS in the
 * background). At most 25 per key (LimitExceededException); ConflictException while another rotation of the key is
 * under way (a concurrent request won) or an automatic rotation is due within 20 minutes. The automatic schedule
 * does not move.
 */
export const rotateKeyOnDemand = defineOperation<RotateKeyOnDemandRequest, RotateKeyOnDemandResponse>('RotateKeyOnDemand', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'RotateKeyOnDemand', ctx, svc, OWN_KEY);
  assertRotatable(key, 'RotateKeyOnDemand');
  // Multi-Region keys: "invoke the on-demand rotation on the primary Region key" (API_RotateKeyOnDemand).
  assertPrimaryForRotation(key);
  const check = (current: KeyRecord, at: Date): true => {
    assertKeyState(current, 'RotateKeyOnDemand');
    if (current.currentMaterialId !== key.currentMaterialId) {
      throw new KmsError('ConflictException', `A rotation of ${key.arn} was in progress; it has completed. Retry the request to rotate again.`);
    }
    if ((current.onDemandRotations ?? 0) >= ON_DEMAND_ROTATION_LIMIT) {
      throw new KmsError('LimitExceededException', `${key.arn} has reached the limit of ${ON_DEMAND_ROTATION_LIMIT} on-demand rotations.`);
    }
    if (current.nextRotationDate && current.nextRotationDate.getTime() - at.getTime() <= AUTOMATIC_ROTATION_CONFLICT_WINDOW_MS) {
      throw new KmsError('ConflictException', `An automatic rotation of ${key.arn} is in progress or scheduled to begin within the next 20 minutes.`);
    }
    return true;
  };
  if (key.origin === 'EXTERNAL' && key.multiRegion) {
    await rotateImportedRelatedKeys(key, check, svc);
  } else if (key.origin === 'EXTERNAL') {
    // Imported material: the material imported with ImportType NEW_KEY_MATERIAL becomes current.
    await svc.keys.putMaterial(key, key.keyId, async (current, materials) => {
      const at = svc.clock.now();
      check(current, at);
      const pending = materials.find((m) => m.pendingRotation && !isErased(m));
      if (!pending) {
        throw new KmsError('KMSInvalidStateException', `${key.arn} has no new key material to rotate to: import it first with ImportKeyMaterial and ImportType NEW_KEY_MATERIAL.`);
      }
      return { key: rotated(current, pending.materialId, 'ON_DEMAND', at), material: { ...pending, pendingRotation: false, rotationType: 'ON_DEMAND', createdAt: at } };
    });
  } else {
    await rotateKeyMaterial(svc, key, 'ON_DEMAND', check);
  }
  return { KeyId: key.arn };
});

/**
 * An imported multi-Region key: "import new key material in the primary Region key, import the same key material in
 * each replica Region key, and invoke the on-demand rotation on the primary Region key" (API_RotateKeyOnDemand). The
 * new material becomes current on every related key in one transaction; until every replica has it, KMSInvalidState.
 */
async function rotateImportedRelatedKeys(key: KeyRecord, check: (current: KeyRecord, at: Date) => true, svc: Services): Promise<void> {
  await svc.keys.updateRelated(key.account, key.keyId, async (related) => {
    const at = svc.clock.now();
    const current = related.find((k) => k.region === key.region);
    if (!current) throw new KmsError('NotFoundException', `Key '${key.arn}' does not exist`);
    assertPrimaryForRotation(current);
    check(current, at);
    const pending = (await svc.storage.getMaterials(current.arn)).find((m) => m.pendingRotation && !isErased(m));
    if (!pending) {
      throw new KmsError('KMSInvalidStateException', `${key.arn} has no new key material to rotate to: import it first with ImportKeyMaterial and ImportType NEW_KEY_MATERIAL.`);
    }
    const keys: KeyRecord[] = [];
    const materials: MaterialRecord[] = [];
    for (const k of related) {
      const copy = k === current ? pending : (await svc.storage.getMaterials(k.arn)).find((m) => m.materialId === pending.materialId && !isErased(m));
      if (!copy) {
        throw new KmsError('KMSInvalidStateException', `The new key material ${pending.materialId} of ${key.arn} is not yet imported into the replica key ${k.arn}: import the same key material into every replica key first.`);
      }
      keys.push(rotated(k, pending.materialId, 'ON_DEMAND', at));
      materials.push({ ...copy, pendingRotation: false, rotationType: 'ON_DEMAND', createdAt: at });
    }
    return { keys, materials };
  });
}
