import type { KeyRepository } from '../domain/key-repository.js';
import { completedTransition } from '../domain/multi-region.js';

/**
 * Completes multi-Region transitions whose time has come (domain/multi-region.ts): a replica Creating becomes Enabled
 * (or PendingImport), keys Updating after UpdatePrimaryRegion get their state back, and a primary pending replica
 * deletion whose last replica is gone starts its waiting period (PendingDeletion). Run by the node that made the change
 * once the transition is due, and as a leased scheduler job (after a crash, or for several nodes).
 */
export class TransitionCompleter {
  constructor(
    private readonly keys: KeyRepository,
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
        // A primary pending replica deletion waits for its replicas: the related keys decide.
        const related = key.keyState === 'PendingReplicaDeletion' ? await this.keys.getRelatedKeys(key.account, key.keyId) : [key];
        let state: string | undefined;
        await this.keys.updateKey(key, key.keyId, (current) => {
          const next = completedTransition(current, related, this.keys.clock.now());
          state = next?.keyState;
          return next;
        });
        if (state !== undefined) {
          changed.push(key.arn);
          this.onCompleted(key.arn, state);
        }
      }
    }
    return changed;
  }
}
