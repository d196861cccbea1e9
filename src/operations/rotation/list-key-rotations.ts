import type { ListKeyRotationsRequest, ListKeyRotationsResponse, RotationsListEntry } from '../../model/kms-model.generated.js';
import { validationError } from '../../domain/errors.js';
import { assertRotatable } from '../../domain/rotation.js';
import { isErased } from '../../domain/ports.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
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
  const rotations: RotationsListEntry[] = page.map((m) => ({
    KeyId: key.arn,
    KeyMaterialId: m.materialId,
    KeyMaterialState: m.materialId === key.currentMaterialId ? 'CURRENT' : m.pendingRotation ? 'PENDING_ROTATION' : 'NON_CURRENT',
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
