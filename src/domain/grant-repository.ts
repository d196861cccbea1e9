import type { GrantChecker, AuthorizationContext } from './authorizer.js';
import type { CallerIdentity } from './identity.js';
import type { CacheChange, ChangeFeed, Clock, GrantRecord, KeyRecord, Storage } from './ports.js';
import { grantAllows, grantOperationOf, type GrantTokens } from './grants.js';

/** More keys than this with cached grants: the cache starts over (a bound on memory, not an eviction policy). */
const MAX_CACHED_KEYS = 100_000;

interface Entry {
  readonly grants: readonly GrantRecord[];
  readonly expires: number;
}

export interface GrantRepositoryOptions {
  readonly feed?: ChangeFeed;
  /** As KeyRepository: how long a key's cached grants are used before they are read again (Infinity: until invalidated). */
  readonly ttlMs?: number;
}

/**
 * The grants of each key, cached in memory (loaded per key on first use), and the GrantChecker the authorizer consults
 * when the policies do not allow a request. Every grant write goes through here and is published on the change feed
 * (`{ kind: 'grants', arn }`), so every node drops the key's cached grants; a deleted key or `all` drops them too.
 * A request with grant tokens naming grants of the key that the cache does not hold reads those grants from the store:
 * a new grant works through its token at once, on any node.
 */
export class GrantRepository implements GrantChecker {
  readonly #byKey = new Map<string, Entry>();
  readonly #feed: ChangeFeed | undefined;
  readonly #ttlMs: number;
  #epoch = 0;

  constructor(
    readonly storage: Storage,
    readonly clock: Clock,
    readonly tokens: GrantTokens,
    options: GrantRepositoryOptions = {},
  ) {
    this.#feed = options.feed;
    this.#ttlMs = options.ttlMs ?? Infinity;
    this.#feed?.subscribe((change) => this.apply(change));
  }

  #cached(keyArn: string): readonly GrantRecord[] | undefined {
    const e = this.#byKey.get(keyArn);
    return e !== undefined && (e.expires === Infinity || e.expires > this.clock.now().getTime()) ? e.grants : undefined;
  }

  /** Every grant of a key (cache first). */
  async getGrants(keyArn: string): Promise<readonly GrantRecord[]> {
    const cached = this.#cached(keyArn);
    if (cached) return cached;
    const epoch = this.#epoch;
    const grants = await this.storage.getGrants(keyArn);
    // A read that overlapped an invalidation may predate the change: used once, not cached.
    if (epoch === this.#epoch) {
      if (this.#byKey.size >= MAX_CACHED_KEYS) this.#byKey.clear();
      this.#byKey.set(keyArn, { grants, expires: this.#ttlMs === Infinity ? Infinity : this.clock.now().getTime() + this.#ttlMs });
    }
    return grants;
  }

  allows(caller: CallerIdentity, action: string, key: KeyRecord, request: AuthorizationContext | undefined): boolean | Promise<boolean> {
    // Tokens are opened first: a token this store did not make is InvalidGrantTokenException, as AWS answers.
    const named: string[] = [];
    for (const token of request?.grantTokens ?? []) {
      const t = this.tokens.open(token);
      if (t.keyArn === key.arn) named.push(t.grantId);
    }
    const operation = grantOperationOf(action);
    if (!operation) return false;
    const matches = (g: GrantRecord) => grantAllows(g, caller, operation, request);
    const cached = this.#cached(key.arn);
    if (cached) {
      if (cached.some(matches)) return true;
      if (named.every((id) => cached.some((g) => g.grantId === id))) return false;
    }
    return (async () => {
      const grants = cached ?? (await this.getGrants(key.arn));
      if (grants.some(matches)) return true;
      for (const id of named) {
        if (grants.some((g) => g.grantId === id)) continue;
        const g = await this.storage.getGrant(key.arn, id);
        if (g && matches(g)) return true;
      }
      return false;
    })();
  }

  /** Inserts a grant (StorageLimitError past the quotas); every node drops the key's cached grants. */
  async create(grant: GrantRecord, limits: { readonly perKey: number; readonly perGrantee: number }): Promise<void> {
    try {
      await this.storage.insertGrant(grant, limits);
    } finally {
      this.#forget(grant.keyArn);
    }
    await this.#feed?.publish({ kind: 'grants', arn: grant.keyArn });
  }

  /** Deletes a grant (retire, revoke); false if it was not there. */
  async delete(keyArn: string, grantId: string): Promise<boolean> {
    try {
      const deleted = await this.storage.deleteGrant(keyArn, grantId);
      if (deleted) await this.#feed?.publish({ kind: 'grants', arn: keyArn });
      return deleted;
    } finally {
      this.#forget(keyArn);
    }
  }

  #forget(keyArn: string): void {
    this.apply({ kind: 'grants', arn: keyArn });
  }

  /** Drops what a change names (from the feed: any node's write, this one's included). */
  apply(change: CacheChange): void {
    this.#epoch++;
    switch (change.kind) {
      case 'grants':
        this.#byKey.delete(change.arn);
        return;
      case 'key':
        if (change.deleted) this.#byKey.delete(change.arn);
        return;
      case 'alias':
        return;
      case 'all':
        this.#byKey.clear();
        return;
      default:
        return change satisfies never;
    }
  }
}
