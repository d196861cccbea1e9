import type { ExpirationModelType, ImportKeyMaterialRequest, ImportKeyMaterialResponse } from '../../model/kms-model.generated.js';
import { KmsError, validationError } from '../../domain/errors.js';
import { allMaterialsPresent, assertExternal, MAX_VALID_TO_MS } from '../../domain/import.js';
import { assertKeyState } from '../../domain/key-state.js';
import type { KeyRecord, MaterialRecord } from '../../domain/ports.js';
import { isPrimary } from '../../domain/multi-region.js';
import type { Services } from '../operation.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * API_ImportKeyMaterial. The token must be this key's and unexpired; the material must unwrap and be material of the
 * key spec. EXISTING_KEY_MATERIAL (the default): the key's first material, or the same material again (to restore it
 * after expiry or deletion, or to change its expiration); NEW_KEY_MATERIAL: new material for a symmetric key that
 * RotateKeyOnDemand then makes current. The key becomes Enabled once none of its materials is missing.
 */
export const importKeyMaterial = defineOperation<ImportKeyMaterialRequest, ImportKeyMaterialResponse>('ImportKeyMaterial', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'ImportKeyMaterial', ctx, svc, OWN_KEY, {
    expirationModel: input.ExpirationModel ?? (input.ValidTo !== undefined ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE'),
    validTo: input.ValidTo,
  });
  assertExternal(key);
  const now = svc.clock.now();
  const model: ExpirationModelType = input.ExpirationModel ?? (input.ValidTo !== undefined ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE');
  if (model === 'KEY_MATERIAL_EXPIRES' && input.ValidTo === undefined) {
    throw validationError('A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES');
  }
  if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && input.ValidTo !== undefined) {
    throw validationError('A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE');
  }
  const validTo = model === 'KEY_MATERIAL_EXPIRES' ? input.ValidTo : undefined;
  if (validTo && (validTo.getTime() <= now.getTime() || validTo.getTime() > now.getTime() + MAX_VALID_TO_MS)) {
    throw validationError('The validTo date must be in the future and no more than 365 days from now.');
  }
  const importType = input.ImportType ?? 'EXISTING_KEY_MATERIAL';
  if (importType !== 'EXISTING_KEY_MATERIAL' && importType !== 'NEW_KEY_MATERIAL') {
    throw validationError(`1 validation error detected: Value '${String(importType)}' at 'importType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_KEY_MATERIAL, EXISTING_KEY_MATERIAL]`);
  }
  if (importType === 'NEW_KEY_MATERIAL' && input.KeyMaterialId !== undefined) {
    throw validationError('KeyMaterialId is valid only when ImportType is EXISTING_KEY_MATERIAL.');
  }

  const result = await svc.keystore.importMaterial(key.arn, key.keySpec, input.ImportToken, input.EncryptedKeyMaterial, now);
  switch (result.kind) {
    case 'ok':
      break;
    case 'invalid-token':
      throw new KmsError('InvalidImportTokenException', result.why);
    case 'expired-token':
      throw new KmsError('ExpiredImportTokenException', result.why);
    case 'invalid-ciphertext':
      throw new KmsError('InvalidCiphertextException', result.why);
    case 'incorrect-material':
      throw new KmsError('IncorrectKeyMaterialException', result.why);
    default:
      return result satisfies never;
  }
  const imported = result.material;
  if (input.KeyMaterialId !== undefined && input.KeyMaterialId !== imported.materialId) {
    throw new KmsError('IncorrectKeyMaterialException', `The key material is not the key material ${input.KeyMaterialId} of ${key.arn}.`);
  }

  // A multi-Region replica takes only material its primary has (the same material); new material goes to the primary.
  const fromReplicaOf = key.multiRegion && !isPrimary(key) ? await replicaImportSource(key, importType, svc) : undefined;
  const primaryMaterials = fromReplicaOf?.materials;
  if (primaryMaterials && !primaryMaterials.some((m) => m.materialId === imported.materialId)) {
    throw new KmsError('IncorrectKeyMaterialException', `The key material is not the key material of the multi-Region primary key of ${key.arn}: import the same key material that was imported into the primary key.`);
  }
  const fromPrimary = primaryMaterials?.find((m) => m.materialId === imported.materialId);

  await svc.keys.putMaterial(key, key.keyId, async (current, materials) => {
    assertKeyState(current, 'ImportKeyMaterial');
    const existing = materials.find((m) => m.materialId === imported.materialId);
    const first = materials.length === 0;
    if (!first && importType === 'EXISTING_KEY_MATERIAL' && !existing && !fromPrimary) {
      // "After you import key material into a KMS key, you can reimport the same key material ... but you cannot import different key material."
      throw new KmsError('IncorrectKeyMaterialException', `The key material is not the key material previously imported into ${key.arn}. To import new key material for on-demand rotation, use ImportType NEW_KEY_MATERIAL.`);
    }
    if (!first && importType === 'NEW_KEY_MATERIAL') {
      if (current.keySpec !== 'SYMMETRIC_DEFAULT') {
        throw new KmsError('UnsupportedOperationException', `New key material can be imported only into symmetric encryption keys; ${key.arn} is ${current.keySpec}.`);
      }
      if (existing) throw new KmsError('IncorrectKeyMaterialException', `This key material was already imported into ${key.arn}: it is not new key material.`);
      if (materials.some((m) => m.pendingRotation)) {
        throw new KmsError('KMSInvalidStateException', `${key.arn} already has new key material waiting for RotateKeyOnDemand.`);
      }
    }
    // A replica's material keeps the primary's history of it (when it was made, by which rotation, whether it waits
    // for RotateKeyOnDemand); the primary's current material is the replica's current one.
    const source = existing ?? fromPrimary;
    const material: MaterialRecord = {
      ...imported,
      createdAt: source?.createdAt ?? now,
      rotationType: source?.rotationType,
      expirationModel: model,
      validTo,
      description: input.KeyMaterialDescription ?? existing?.description,
      pendingRotation: source ? source.pendingRotation : !first && importType === 'NEW_KEY_MATERIAL',
    };
    const after = [...materials.filter((m) => m.materialId !== material.materialId), material];
    // A replica's current material is its primary's: it is Enabled once that one (and none missing) is imported.
    const currentMaterialId = current.currentMaterialId ?? fromReplicaOf?.currentMaterialId ?? material.materialId;
    const usable = allMaterialsPresent(after) && after.some((m) => m.materialId === currentMaterialId);
    const keyState = current.keyState === 'PendingImport' && usable ? 'Enabled' : current.keyState;
    return { key: { ...current, keyState, currentMaterialId }, material };
  });
  ctx.resourceArn = key.arn;
  return { KeyId: key.arn, KeyMaterialId: imported.materialId };
});

/**
 * The materials a multi-Region replica may take (its primary's), or UnsupportedOperationException for new material:
 * "You cannot directly import new key material into the replica Region keys" (API_ImportKeyMaterial).
 */
async function replicaImportSource(key: KeyRecord, importType: string, svc: Services): Promise<{ materials: readonly MaterialRecord[]; currentMaterialId?: string | undefined }> {
  if (importType === 'NEW_KEY_MATERIAL') {
    throw new KmsError('UnsupportedOperationException', `${key.arn} is a multi-Region replica key: import new key material into its primary key, then the same key material into each replica with ImportType EXISTING_KEY_MATERIAL.`);
  }
  const primary = await svc.keys.getKey({ account: key.account, region: key.primaryRegion! }, key.keyId);
  return primary ? { materials: await svc.storage.getMaterials(primary.arn), currentMaterialId: primary.currentMaterialId } : { materials: [] };
}

