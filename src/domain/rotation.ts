import type { RotationType } from '../model/kms-model.generated.js';
import { KmsError } from './errors.js';
import type { KeyRepository } from './key-repository.js';
import type { Clock, KeyRecord, KeyStore, MaterialRecord, RandomSource } from './ports.js';
import { isPrimary, notPrimaryMessage } from './multi-region.js';

/** EnableKeyRotation: RotationPeriodInDays 90–2560, 365 when omitted (API_EnableKeyRotation). */
export const DEFAULT_ROTATION_PERIOD_DAYS = 365;
export const MIN_ROTATION_PERIOD_DAYS = 90;
export const MAX_ROTATION_PERIOD_DAYS = 2560;
/** On-demand rotations per key: the resource quota "On-demand rotations: 25", not adjustable (developerguide/resource-limits). */
export const ON_DEMAND_ROTATION_LIMIT = 25;
/** ConflictException: "an automatic rotation of this key is currently in progress or scheduled to begin within the next 20 minutes". */
export const AUTOMATIC_ROTATION_CONFLICT_WINDOW_MS = 20 * 60 * 1000;

export const DAY_MS = 24 * 60 * 60 * 1000;

export type RotationOperation = 'EnableKeyRotation' | 'DisableKeyRotation' | 'GetKeyRotationStatus' | 'RotateKeyOnDemand' | 'ListKeyRotations';

/**
 * Only symmetric encryption keys can be rotated: not asymmetric or HMAC keys, not keys in a custom key store. Keys
 * with imported material (origin EXTERNAL) are not rotated automatically (Enable/DisableKeyRotation refused); they
 * rotate on demand to new material imported with ImportType NEW_KEY_MATERIAL, and list their materials.
 */
export function assertRotatable(key: KeyRecord, operation: RotationOperation): void {
  if (key.origin === 'AWS_CLOUDHSM' || key.origin === 'EXTERNAL_KEY_STORE') {
    throw new KmsError('UnsupportedOperationException', `${key.arn} is in a custom key store, which is not valid for this operation.`);
  }
  if (key.origin === 'EXTERNAL' && operation !== 'RotateKeyOnDemand' && operation !== 'ListKeyRotations') {
    throw new KmsError('UnsupportedOperationException', `${key.arn} origin is EXTERNAL which is not valid for this operation.`);
  }
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('UnsupportedOperationException', `${operation} is not supported for ${key.keySpec} keys: only symmetric encryption keys are rotated (${key.arn}).`);
  }
}

export const rotationEnabled = (key: KeyRecord): boolean => key.rotationPeriodDays !== undefined && key.nextRotationDate !== undefined;

/** The key after a rotation at `at` to `materialId`: an automatic one schedules the next; an on-demand one is counted. */
export function rotated(key: KeyRecord, materialId: string, type: RotationType, at: Date): KeyRecord {
  switch (type) {
    case 'AUTOMATIC':
      // "every [period] thereafter": counted from this rotation, so a key rotated late (it was disabled, or the clock
      // jumped) is not rotated again at once to catch up.
      return { ...key, currentMaterialId: materialId, nextRotationDate: new Date(at.getTime() + key.rotationPeriodDays! * DAY_MS) };
    case 'ON_DEMAND':
      // "On-demand rotations do not change existing automatic rotation schedules."
      return { ...key, currentMaterialId: materialId, onDemandRotations: (key.onDemandRotations ?? 0) + 1 };
    default:
      return type satisfies never;
  }
}

export interface RotationServices {
  readonly keys: KeyRepository;
  readonly keystore: KeyStore;
  readonly random: RandomSource;
  readonly clock: Clock;
}

/**
 * Rotates a key: fresh material becomes its current material, in one compare-and-set write with the new material
 * (nothing half-written). `check` sees the freshest stored key before each attempt: it may throw to refuse, or
 * return false to leave the key alone (the job: no longer due). Returns the key as stored, or undefined if left alone.
 */
export async function rotateKeyMaterial(
  svc: RotationServices,
  key: KeyRecord,
  type: RotationType,
  check: (current: KeyRecord, at: Date) => boolean,
): Promise<KeyRecord | undefined> {
  if (key.multiRegion) return rotateRelatedKeys(svc, key, type, check);
  let changed = false;
  const stored = await svc.keys.rotateKey(key, key.keyId, async (current) => {
    const at = svc.clock.now();
    if (!check(current, at)) return undefined;
    const materialId = svc.random.bytes(32).toString('hex');
    const made = await svc.keystore.createMaterial(current.arn, materialId, current.keySpec);
    const material: MaterialRecord = { ...made, createdAt: at, rotationType: type };
    changed = true;
    return { key: rotated(current, materialId, type, at), material };
  });
  return changed ? stored : undefined;
}

/** A multi-Region key's shared properties (API_ReplicateKey): its related key `k` takes them from the primary `from`. */
export function withSharedProperties(k: KeyRecord, from: KeyRecord): KeyRecord {
  return {
    ...k, currentMaterialId: from.currentMaterialId, rotationPeriodDays: from.rotationPeriodDays, nextRotationDate: from.nextRotationDate,
    onDemandRotations: from.onDemandRotations,
  };
}

/**
 * Multi-Region keys rotate on the primary, and every related key at once: the new material (one copy per related key,
 * each wrapped for its own ARN) and the shared properties are written to all of them in one transaction. A key that is
 * not (or no longer) the primary is left alone (the rotation job meets replicas too).
 */
async function rotateRelatedKeys(
  svc: RotationServices,
  key: KeyRecord,
  type: RotationType,
  check: (current: KeyRecord, at: Date) => boolean,
): Promise<KeyRecord | undefined> {
  let changed = false;
  const stored = await svc.keys.updateRelated(key.account, key.keyId, async (related) => {
    const current = related.find((k) => k.region === key.region);
    if (!current || !isPrimary(current)) return undefined;
    const at = svc.clock.now();
    if (!check(current, at)) return undefined;
    const materialId = svc.random.bytes(32).toString('hex');
    const made = await svc.keystore.createMaterial(current.arn, materialId, current.keySpec);
    const material: MaterialRecord = { ...made, createdAt: at, rotationType: type };
    const next = rotated(current, materialId, type, at);
    const others = related.filter((k) => k !== current);
    const copies = await Promise.all(others.map((k) => svc.keystore.copyMaterial(material, k.arn)));
    changed = true;
    return { keys: [next, ...others.map((k) => withSharedProperties(k, next))], materials: [material, ...copies] };
  });
  return changed ? stored.find((k) => k.region === key.region) : undefined;
}

/**
 * A change of rotation settings (EnableKeyRotation, DisableKeyRotation): on a single-Region key, that key; on a
 * multi-Region key, made on the primary and applied to every related key in one transaction ("To enable or disable
 * automatic rotation of a set of related multi-Region keys, set the property on the primary key"). A replica is refused
 * (UnsupportedOperationException). `change` returns undefined to leave the keys as they are.
 */
export async function changeRotationSettings(keys: KeyRepository, key: KeyRecord, change: (current: KeyRecord) => KeyRecord | undefined): Promise<void> {
  if (!key.multiRegion) {
    await keys.updateKey(key, key.keyId, change);
    return;
  }
  assertPrimaryForRotation(key);
  await keys.updateRelated(key.account, key.keyId, async (related) => {
    const current = related.find((k) => k.region === key.region);
    if (!current) throw new KmsError('NotFoundException', `Key '${key.arn}' does not exist`);
    assertPrimaryForRotation(current);
    const next = change(current);
    if (!next) return undefined;
    return { keys: related.map((k) => (k === current ? next : withSharedProperties(k, next))), materials: [] };
  });
}

/** Rotation of a multi-Region key is set and performed on its primary key only. */
export function assertPrimaryForRotation(key: KeyRecord): void {
  if (key.multiRegion && !isPrimary(key)) throw new KmsError('UnsupportedOperationException', notPrimaryMessage(key));
}
