import type { KeyState } from '../model/kms-model.generated.js';
import type { KeyRecord, RandomSource } from './ports.js';
import { KmsError } from './errors.js';
import { AWS_PARTITION_REGIONS } from './regions.js';

/**
 * Multi-Region keys (docs/multi-region.md): related keys share account and key id (`mrk-` + 32 hex digits), one per
 * Region, each with its own copy of the same materials (wrapped for its own ARN). Every related key records the Region
 * of the current primary (`primaryRegion`). Transient states (Creating, Updating) are stored with the state they end
 * in and when; the node that made the change completes them, or the transition job (scheduler/transitions.ts).
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** How long a replica stays Creating and an UpdatePrimaryRegion Updating, unless configured (AWS: "a few seconds"). */
export const DEFAULT_TRANSITION_MS = 1500;

export const isMultiRegionKeyId = (keyId: string): boolean => keyId.startsWith('mrk-');

/** A new multi-Region key id: `mrk-` and 32 lowercase hex digits, as AWS's. */
export const newMultiRegionKeyId = (random: RandomSource): string => `mrk-${random.bytes(16).toString('hex')}`;

export const isPrimary = (key: KeyRecord): boolean => key.primaryRegion !== undefined && key.primaryRegion === key.region;

/** The key in a transient state until `at`, then `state`. */
export function inTransition(key: KeyRecord, transient: 'Creating' | 'Updating', state: KeyState, at: Date): KeyRecord {
  return { ...key, keyState: transient, transitionState: state, transitionDate: at };
}

/**
 * The key once its transition is due (`now` at or after transitionDate): Creating and Updating end in the state they
 * recorded. A primary pending replica deletion whose replicas are all gone (`related` holds only itself) becomes
 * PendingDeletion, its waiting period starting now; while replicas remain it is left as it is (undefined).
 */
export function completedTransition(key: KeyRecord, related: readonly KeyRecord[], now: Date): KeyRecord | undefined {
  if (key.transitionDate === undefined || key.transitionDate.getTime() > now.getTime()) return undefined;
  const done = { ...key, transitionState: undefined, transitionDate: undefined };
  switch (key.keyState) {
    case 'Creating':
    case 'Updating':
      return { ...done, keyState: key.transitionState ?? 'Enabled' };
    case 'PendingReplicaDeletion': {
      if (related.some((k) => k.region !== key.region)) return undefined;
      const days = key.pendingDeletionWindowInDays ?? 30;
      return { ...done, keyState: 'PendingDeletion', deletionDate: new Date(now.getTime() + days * DAY_MS), pendingDeletionWindowInDays: undefined };
    }
    default:
      // A transition left on a key in another state (it was changed since): dropped.
      return done;
  }
}

/** "<arn> is not a multi-region primary key." (AWS's words, recorded for ReplicateKey of a replica.) */
export const notPrimaryMessage = (key: KeyRecord): string => `${key.arn} is not a multi-region primary key.`;

/**
 * ReplicateKey and UpdatePrimaryRegion start alike: the key must be a multi-Region primary, and the Region they name
 * (`member`: ReplicaRegion, PrimaryRegion) a Region of the partition; else UnsupportedOperationException.
 */
export function requirePrimaryAndRegion(key: KeyRecord, member: 'ReplicaRegion' | 'PrimaryRegion', region: string): void {
  if (!isPrimary(key)) throw new KmsError('UnsupportedOperationException', notPrimaryMessage(key));
  if (!AWS_PARTITION_REGIONS.has(region)) {
    throw new KmsError('UnsupportedOperationException', `${member} ${region} is not a Region of the aws partition where KMS is available.`);
  }
}
