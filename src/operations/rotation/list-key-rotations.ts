import type { ListKeyRotationsRequest, ListKeyRotationsResponse, RotationsListEntry } from '../../model/kms-model.generated.js';
import { validationError } from '../../domain/errors.js';
import { assertRotatable } from '../../domain/rotation.js';
import { isErased, type KeyRecord } from '../../domain/ports.js';
import { isPrimary } from '../../domain/multi-region.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation, type Services } from '../operation.js';
import { decodeMarker, pageFields, pageLimit } from '../paging.js';

const LISTING = 'rotations';

/**
 * API_ListKeyRotations: the key's materials in the order they were made. IncludeKeyMaterial ROTATIONS_ONLY (the
 * default): those made by automatic or on-demand rotation, with RotationDate and RotationType; ALL_KEY_MATERIAL: the
 * first material too (no RotationDate or RotationType: it was not made by a rotation). Every entry names its
 * KeyMaterialId and whether it is the CURRENT material. Limit 1–1000, default 100.
 */
export const listKeyRotations = defineOperation<ListKeyRotationsRequest, ListKeyRotationsResponse>('ListKeyRotations', async (input, ctx, svc) => {
  const include = input.IncludeKeyMaterial ?? 'ROTATIONS_ONLY';
  if (include !== 'ROTATIONS_ONLY' && include !== 'ALL_KEY_MATERIAL') {
    throw validationError(`1 validation error detected: Value '${String(include)}' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]`);
  }
  const limit = pageLimit(input.Limit, 100, 1000);
  const key = await keyForOperation(input.KeyId, 'ListKeyRotations', ctx, svc, OWN_KEY);
  assertRotatable(key, 'ListKeyRotations');
  // ROTATIONS_ONLY: materials made by rotation, and (imported keys) new material waiting to be rotated to.
  const materials = (await svc.storage.getMaterials(key.arn)).filter((m) => include === 'ALL_KEY_MATERIAL' || m.rotationType !== undefined || m.pendingRotation);
  const after = decodeMarker(LISTING, input.Marker, (id) => materials.some((m) => m.materialId === id));
  const start = after === undefined ? 0 : materials.findIndex((m) => m.materialId === after) + 1;
  const page = materials.slice(start, start + limit);
  const more = start + limit < materials.length;
  // An imported multi-Region primary: new material not yet imported into every replica is
  // PENDING_MULTI_REGION_IMPORT_AND_ROTATION; once every replica has it, PENDING_ROTATION.
  const notEverywhere = key.origin === 'EXTERNAL' && isPrimary(key) && page.some((m) => m.pendingRotation)
    ? await missingInSomeReplica(key, page.filter((m) => m.pendingRotation).map((m) => m.materialId), svc)
    : new Set<string>();
  const rotations: RotationsListEntry[] = page.map((m) => ({
    KeyId: key.arn,
    KeyMaterialId: m.materialId,
    KeyMaterialState: m.materialId === key.currentMaterialId ? 'CURRENT'
      : m.pendingRotation ? (notEverywhere.has(m.materialId) ? 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION' : 'PENDING_ROTATION')
      : 'NON_CURRENT',
    ...(m.rotationType !== undefined && { RotationDate: m.createdAt, RotationType: m.rotationType }),
    // Imported material: whether it is there, how it expires, its description.
    ...(key.origin === 'EXTERNAL' && {
      ImportState: isErased(m) ? 'PENDING_IMPORT' : 'IMPORTED',
      ...(m.expirationModel !== undefined && { ExpirationModel: m.expirationModel }),
      ...(m.validTo !== undefined && { ValidTo: m.validTo }),
      ...(m.description !== undefined && { KeyMaterialDescription: m.description }),
    }),
  }));
  return { Rotations: rotations, ...pageFields(LISTING, more ? page[page.length - 1]!.materialId : undefined) };
});

/** Of `materialIds`, those that some replica of the primary `key` does not have (imported and not erased). */
async function missingInSomeReplica(key: KeyRecord, materialIds: readonly string[], svc: Services): Promise<Set<string>> {
  const missing = new Set<string>();
  for (const replica of (await svc.keys.getRelatedKeys(key.account, key.keyId)).filter((k) => k.region !== key.region)) {
    const has = new Set((await svc.storage.getMaterials(replica.arn)).filter((m) => !isErased(m)).map((m) => m.materialId));
    for (const id of materialIds) if (!has.has(id)) missing.add(id);
  }
  return missing;
}
