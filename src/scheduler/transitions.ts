import type { KeyRepository } from '../domain/key-repository.js';
import { completedTransition, isPrimary } from '../domain/multi-region.js';
import type { KeyRecord, KeyStore, MaterialRecord } from '../domain/ports.js';
import { withSharedProperties } from '../domain/rotation.js';

/**
 * Completes multi-Region transitions whose time has come (domain/multi-region.ts): a replica Creating becomes Enabled
 * (or PendingImport), keys Updating after UpdatePrimaryRegion get their state back, and a primary pending replica
 * deletion whose last replica is gone starts its waiting period (PendingDeletion). Run by the node that made the change
 * once the transition is due, and as a leased scheduler job (after a crash, or for several nodes).
 *
 * A replica that completes Creating first takes what its primary has now: a rotation that ran while the replica was
 * being made (and so did not see it) gave the primary material the replica's copy lacks; it is copied here.
 */
export class TransitionCompleter {
  constructor(
    private readonly keys: KeyRepository,
    private readonly keystore: KeyStore,
    private readonly onCompleted: (arn: string, state: string) => void = () => {},
  ) {}

  /** One pass; returns the ARNs whose state changed. */
  async completeDue(): Promise<string[]> {
    const changed: string[] = [];
    const now = this.keys.clock.now();
    const seen = new Set<string>();
    for (let pass = 0; pass < 100; pass++) {
      const due = (await this.keys.storage.listKeysInTransition(now, 100)).filter((k) => !seen.has(k.arn));
      if (due.length === 0) break;
      for (const key of due) {
        seen.add(key.arn);
        const state = await this.#complete(key);
        if (state !== undefined) {
          changed.push(key.arn);
          this.onCompleted(key.arn, state);
        }
      }
    }
    return changed;
  }

  /** The related keys decide (a primary waits for its replicas; a new replica catches up with its primary). */
  async #complete(key: KeyRecord): Promise<string | undefined> {
    let state: string | undefined;
    await this.keys.updateRelated(key.account, key.keyId, async (related) => {
      const current = related.find((k) => k.region === key.region);
      if (!current) return undefined;
      let next = completedTransition(current, related, this.keys.clock.now());
      if (!next) return undefined;
      const materials: MaterialRecord[] = [];
      const primary = related.find(isPrimary);
      if (current.keyState === 'Creating' && current.origin !== 'EXTERNAL' && primary && primary !== current) {
        const have = new Set((await this.keys.storage.getMaterials(current.arn)).map((m) => m.materialId));
        for (const m of await this.keys.storage.getMaterials(primary.arn)) {
          if (!have.has(m.materialId)) materials.push(await this.keystore.copyMaterial(m, current.arn));
        }
        next = withSharedProperties(next, primary);
      }
      state = next.keyState;
      return { keys: [next], materials };
    });
    return state;
  }
}
