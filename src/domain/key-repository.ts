import type { AliasRecord, CacheChange, ChangeFeed, Clock, KeyRecord, MaterialRecord, Scope, Storage, TagRecord } from './ports.js';
import { StorageConflictError } from './ports.js';
import { KmsError } from './errors.js';
import { BoundedMap } from './bounded-map.js';

const scopeKey = (scope: Scope, name: string): string => `${scope.account}/${scope.region}/${name}`;

/**
 * The most entries each of the repository's caches holds (keys, materials, aliases and names that are not aliases,
 * a key's aliases and tags): past it the oldest entry goes, and is read from storage again when next asked for.
 */
export const MAX_CACHED_KEYS = 100_000;

/** A cached value and the time (clock milliseconds) after which it is read from storage again. */
interface Entry<T> {
  readonly value: T;
  readonly expires: number;
}

export interface KeyRepositoryOptions {
  /** Invalidations from the other nodes of a shared store (and from this one); the repository publishes its writes to it. */
  readonly feed?: ChangeFeed;
  /**
   * How long a cached entry is used before it is read from storage again, whatever the feed says: the bound on a
   * missed notification. Infinity (the default): until invalidated.
   */
  readonly ttlMs?: number;
}

/**
 * Keys, materials and aliases as the operations see them: reads come from an in-memory cache (the hot path
 * never touches storage once a key is warm), every write goes through here, refreshes the cache and is published
 * on the change feed, so that every node drops the entries it changed.
 *
 * Entries expire after `ttlMs` (one timestamp compare per lookup, no timers). A read from storage that overlaps an
 * invalidation is not cached (it may have read the state from before the change): `#epoch` counts invalidations.
 */
export class KeyRepository {
  readonly #keys = new BoundedMap<string, Entry<KeyRecord>>(MAX_CACHED_KEYS);
  readonly #materials = new BoundedMap<string, Entry<Map<string, MaterialRecord>>>(MAX_CACHED_KEYS);
  /** null: no such alias (so that a missing alias does not cost a read per request); bounded like the rest. */
  readonly #aliases = new BoundedMap<string, Entry<AliasRecord | null>>(MAX_CACHED_KEYS);
  /** Per key ARN, for policies that test kms:ResourceAliases / aws:ResourceTag: filled only when a policy asks. */
  readonly #keyAliases = new BoundedMap<string, Entry<readonly string[]>>(MAX_CACHED_KEYS);
  readonly #keyTags = new BoundedMap<string, Entry<readonly TagRecord[]>>(MAX_CACHED_KEYS);
  readonly #feed: ChangeFeed | undefined;
  readonly #ttlMs: number;
  #epoch = 0;

  constructor(
    readonly storage: Storage,
    readonly clock: Clock,
    options: KeyRepositoryOptions = {},
  ) {
    this.#feed = options.feed;
    this.#ttlMs = options.ttlMs ?? Infinity;
    if (!(this.#ttlMs > 0)) throw new RangeError('ttlMs must be positive (Infinity: no expiry)');
    this.#feed?.subscribe((change) => this.apply(change));
  }

  #fresh<T>(entry: Entry<T> | undefined): entry is Entry<T> {
    return entry !== undefined && (entry.expires === Infinity || entry.expires > this.clock.now().getTime());
  }

  #entry<T>(value: T): Entry<T> {
    return { value, expires: this.#ttlMs === Infinity ? Infinity : this.clock.now().getTime() + this.#ttlMs };
  }

  async getKey(scope: Scope, keyId: string): Promise<KeyRecord | undefined> {
    const k = scopeKey(scope, keyId);
    const cached = this.#keys.get(k);
    if (this.#fresh(cached)) return cached.value;
    const epoch = this.#epoch;
    const key = await this.storage.getKey(scope, keyId);
    if (!key) this.#keys.delete(k);
    else if (epoch === this.#epoch) this.#keys.set(k, this.#entry(key));
    return key;
  }

  async getMaterial(key: KeyRecord, materialId: string): Promise<MaterialRecord | undefined> {
    const cached = this.#materials.get(key.arn);
    if (this.#fresh(cached) && cached.value.has(materialId)) return cached.value.get(materialId);
    const epoch = this.#epoch;
    const byId = new Map((await this.storage.getMaterials(key.arn)).map((m) => [m.materialId, m]));
    if (epoch === this.#epoch) this.#materials.set(key.arn, this.#entry(byId));
    return byId.get(materialId);
  }

  async createKey(key: KeyRecord, materials: readonly MaterialRecord[], tags: readonly TagRecord[]): Promise<void> {
    await this.storage.insertKey(key, materials, tags);
    // Not published: a new key id was in no node's cache (absent keys are not cached). The materials are cached too,
    // so the first Encrypt under a new key needs no read either.
    this.#keys.set(scopeKey(key, key.keyId), this.#entry(key));
    this.#materials.set(key.arn, this.#entry(new Map(materials.map((m) => [m.materialId, m]))));
  }

  /**
   * Read-modify-write of a key with compare-and-set; retried on a concurrent update. `change` may throw a
   * KmsError to refuse the change, and returns undefined to leave the key as it is.
   */
  async updateKey(scope: Scope, keyId: string, change: (key: KeyRecord) => KeyRecord | undefined): Promise<KeyRecord> {
    // Metadata only: this node's cached materials stay valid (other nodes drop theirs on the published change).
    return this.#write(scope, keyId, { keepMaterials: true }, async (current) => {
      const next = change(current);
      return next && (() => this.storage.updateKey(next));
    });
  }

  /**
   * Rotation: `change` makes the next key record (its new currentMaterialId) and the new material; both are written in
   * one compare-and-set (Storage.rotateKey), retried on a concurrent update with the freshest key. `change` may throw
   * a KmsError to refuse, or return undefined to leave the key as it is. Every node drops its cached key and materials.
   */
  async rotateKey(
    scope: Scope,
    keyId: string,
    change: (key: KeyRecord) => Promise<{ key: KeyRecord; material: MaterialRecord } | undefined>,
  ): Promise<KeyRecord> {
    return this.#write(scope, keyId, {}, async (current) => {
      const next = await change(current);
      return next && (() => this.storage.rotateKey(next.key, next.material));
    });
  }

  /**
   * Import: `change` makes the next key record and the material to insert or replace (Storage.putMaterial), written in
   * one compare-and-set, retried with the freshest key on a concurrent update. As rotateKey otherwise.
   */
  async putMaterial(
    scope: Scope,
    keyId: string,
    change: (key: KeyRecord, materials: readonly MaterialRecord[]) => Promise<{ key: KeyRecord; material: MaterialRecord } | undefined>,
  ): Promise<KeyRecord> {
    return this.#write(scope, keyId, {}, async (current) => {
      const next = await change(current, await this.storage.getMaterials(current.arn));
      return next && (() => this.storage.putMaterial(next.key, next.material));
    });
  }

  /**
   * Cryptographic erasure of imported material: `change` names the next key record and the materials to erase
   * (Storage.eraseMaterials), one compare-and-set, retried. Every node drops its unwrapped copies of the key's materials.
   */
  async eraseMaterials(
    scope: Scope,
    keyId: string,
    change: (key: KeyRecord, materials: readonly MaterialRecord[]) => { key: KeyRecord; materialIds: readonly string[] } | undefined,
  ): Promise<KeyRecord> {
    return this.#write(scope, keyId, { erased: true }, async (current) => {
      const next = change(current, await this.storage.getMaterials(current.arn));
      return next && (() => this.storage.eraseMaterials(next.key, next.materialIds));
    });
  }

  /**
   * Every write of a key: read (cache first, then the store on retries), `plan` the write or refuse (KmsError) or skip
   * (undefined), write with compare-and-set, refresh this node's cache and publish the change; retried on a conflict.
   */
  async #write(
    scope: Scope,
    keyId: string,
    opts: { readonly erased?: boolean; readonly keepMaterials?: boolean },
    plan: (current: KeyRecord) => Promise<(() => Promise<KeyRecord>) | undefined>,
  ): Promise<KeyRecord> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = attempt === 0 ? await this.getKey(scope, keyId) : await this.storage.getKey(scope, keyId);
      if (!current) throw new KmsError('NotFoundException', `Key '${keyId}' does not exist`);
      const write = await plan(current);
      if (!write) return current;
      try {
        const stored = await write();
        const change: CacheChange = { kind: 'key', account: scope.account, region: scope.region, keyId, arn: stored.arn, ...(opts.erased && { erased: true }) };
        if (opts.keepMaterials) this.#epoch++;
        else this.apply(change);
        this.#keys.set(scopeKey(scope, keyId), this.#entry(stored));
        await this.#publish(change);
        return stored;
      } catch (err) {
        if (!(err instanceof StorageConflictError)) throw err;
        this.#epoch++;
        this.#keys.delete(scopeKey(scope, keyId));
      }
    }
    throw new KmsError('ConflictException', 'The key was changed concurrently; retry the request.');
  }

  /** The related keys of a multi-Region key, every Region, read from storage (not the hot path: DescribeKey, management). */
  getRelatedKeys(account: string, keyId: string): Promise<KeyRecord[]> {
    return this.storage.getRelatedKeys(account, keyId);
  }

  /**
   * A change to several related keys of a multi-Region key at once (UpdatePrimaryRegion, rotation): `plan` sees the
   * related keys as stored and returns the next records and materials to write (Storage.updateKeys, one transaction with
   * compare-and-set on each key), or undefined to write nothing; it may throw a KmsError. Retried on a concurrent
   * update. Every node drops the changed keys and their materials. Returns the keys as stored.
   */
  async updateRelated(
    account: string,
    keyId: string,
    plan: (related: readonly KeyRecord[]) => Promise<{ keys: readonly KeyRecord[]; materials: readonly MaterialRecord[] } | undefined>,
  ): Promise<KeyRecord[]> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const related = await this.storage.getRelatedKeys(account, keyId);
      const next = await plan(related);
      if (!next) return related;
      try {
        const stored = await this.storage.updateKeys(next.keys, next.materials);
        for (const k of stored) {
          const change: CacheChange = { kind: 'key', account: k.account, region: k.region, keyId: k.keyId, arn: k.arn };
          this.apply(change);
          this.#keys.set(scopeKey(k, k.keyId), this.#entry(k));
          await this.#publish(change);
        }
        return stored;
      } catch (err) {
        if (!(err instanceof StorageConflictError)) throw err;
        this.#epoch++;
        for (const k of next.keys) this.#keys.delete(scopeKey(k, k.keyId));
      }
    }
    throw new KmsError('ConflictException', 'The key was changed concurrently; retry the request.');
  }

  /**
   * Deletes the key with its materials, aliases and tags, if it is still at `key.version` (a concurrent
   * CancelKeyDeletion wins). Returns whether it was deleted.
   */
  async deleteKey(key: KeyRecord): Promise<boolean> {
    const deleted = await this.storage.deleteKey(key, key.keyId, key.version);
    const change: CacheChange = { kind: 'key', account: key.account, region: key.region, keyId: key.keyId, arn: key.arn, deleted };
    this.apply(change);
    if (deleted) await this.#publish(change);
    return deleted;
  }

  forgetKey(scope: Scope & { keyId: string; arn: string }): void {
    this.apply({ kind: 'key', account: scope.account, region: scope.region, keyId: scope.keyId, arn: scope.arn });
  }

  async getAlias(scope: Scope, aliasName: string): Promise<AliasRecord | undefined> {
    const k = scopeKey(scope, aliasName);
    const cached = this.#aliases.get(k);
    if (this.#fresh(cached)) return cached.value ?? undefined;
    const epoch = this.#epoch;
    const alias = await this.storage.getAlias(scope, aliasName);
    // An absent alias/aws/* is not remembered: `trent aws-managed-key create` may add it from another process, which
    // a single SQLite node hears of through no change feed.
    if (epoch === this.#epoch && (alias || !aliasName.startsWith('alias/aws/'))) this.#aliases.set(k, this.#entry(alias ?? null));
    else this.#aliases.delete(k);
    return alias;
  }

  /** Creates an alias; StorageDuplicateError / StorageLimitError from the store. The cache sees it at once. */
  async createAlias(alias: AliasRecord, maxPerTarget?: number): Promise<void> {
    try {
      await this.storage.insertAlias(alias, maxPerTarget);
    } finally {
      this.forgetAlias(alias, alias.aliasName);
    }
    this.#aliases.set(scopeKey(alias, alias.aliasName), this.#entry(alias));
    // Other nodes may have cached "no such alias".
    await this.#publishAlias(alias, alias.aliasName);
  }

  /** Points an alias at another key; false if it does not exist. Encrypt through the alias sees the move at once. */
  async updateAlias(scope: Scope, aliasName: string, targetKeyId: string, maxPerTarget?: number): Promise<boolean> {
    try {
      const moved = await this.storage.updateAlias(scope, aliasName, targetKeyId, this.clock.now(), maxPerTarget);
      if (moved) await this.#publishAlias(scope, aliasName);
      return moved;
    } finally {
      this.forgetAlias(scope, aliasName);
    }
  }

  async deleteAlias(scope: Scope, aliasName: string): Promise<boolean> {
    try {
      const deleted = await this.storage.deleteAlias(scope, aliasName);
      if (deleted) await this.#publishAlias(scope, aliasName);
      return deleted;
    } finally {
      this.forgetAlias(scope, aliasName);
    }
  }

  /** The key's tags as stored (ListResourceTags): not cached. */
  getTags(key: KeyRecord): Promise<TagRecord[]> {
    return this.storage.getTags(key.arn);
  }

  /**
   * The key's tags for aws:ResourceTag conditions: cached per key once a policy has asked, dropped on every node when
   * the key's tags change (published as a change of the key) or the key changes.
   */
  async getResourceTags(key: KeyRecord): Promise<readonly TagRecord[]> {
    const cached = this.#keyTags.get(key.arn);
    if (this.#fresh(cached)) return cached.value;
    const epoch = this.#epoch;
    const tags = await this.storage.getTags(key.arn);
    if (epoch === this.#epoch) this.#keyTags.set(key.arn, this.#entry(tags));
    return tags;
  }

  /**
   * The names of the aliases pointing at the key, for kms:ResourceAliases: cached per key once a policy has asked;
   * any alias change drops them all (alias changes are rare, and a change names the alias, not its old target).
   */
  async getKeyAliases(key: KeyRecord): Promise<readonly string[]> {
    const cached = this.#keyAliases.get(key.arn);
    if (this.#fresh(cached)) return cached.value;
    const epoch = this.#epoch;
    const names: string[] = [];
    let after: string | undefined;
    do {
      const page = await this.storage.listAliases(key, 100, after, key.keyId);
      for (const a of page.items) names.push(a.aliasName);
      after = page.next;
    } while (after !== undefined);
    if (epoch === this.#epoch) this.#keyAliases.set(key.arn, this.#entry(names));
    return names;
  }

  async putTags(key: KeyRecord, tags: readonly TagRecord[], maxTags?: number): Promise<void> {
    try {
      await this.storage.putTags(key.arn, tags, maxTags);
    } finally {
      await this.#tagsChanged(key);
    }
  }

  async removeTags(key: KeyRecord, tagKeys: readonly string[]): Promise<void> {
    try {
      await this.storage.removeTags(key.arn, tagKeys);
    } finally {
      await this.#tagsChanged(key);
    }
  }

  /** Tags are cached only for aws:ResourceTag: a change is published as a change of the key (every node re-reads it). */
  async #tagsChanged(key: KeyRecord): Promise<void> {
    const change: CacheChange = { kind: 'key', account: key.account, region: key.region, keyId: key.keyId, arn: key.arn };
    this.apply(change);
    await this.#publish(change);
  }

  /** Call after any alias change (create, update, delete). */
  forgetAlias(scope: Scope, aliasName: string): void {
    this.apply({ kind: 'alias', account: scope.account, region: scope.region, aliasName });
  }

  /** Removes every key, material, alias and tag from the store, on every node's cache too (dev reset). */
  async wipe(): Promise<void> {
    await this.storage.wipe();
    this.clear();
    await this.#publish({ kind: 'all' });
  }

  /** Drops every cached entry. */
  clear(): void {
    this.apply({ kind: 'all' });
  }

  /** Drops the entries a change names (from the feed: another node's write, or this node's own). */
  apply(change: CacheChange): void {
    this.#epoch++;
    switch (change.kind) {
      case 'key': {
        this.#keys.delete(scopeKey(change, change.keyId));
        this.#materials.delete(change.arn);
        this.#keyTags.delete(change.arn);
        if (change.deleted) {
          this.#keyAliases.delete(change.arn);
          // The store deleted the key's aliases with it.
          const prefix = scopeKey(change, '');
          for (const [k, e] of this.#aliases) if (e.value?.targetKeyId === change.keyId && k.startsWith(prefix)) this.#aliases.delete(k);
        }
        return;
      }
      case 'alias':
        this.#aliases.delete(scopeKey(change, change.aliasName));
        this.#keyAliases.clear();
        return;
      case 'grants': // the GrantRepository's
        return;
      case 'custom-key-store':
        return; // CustomKeyStores' own cache
      case 'all':
        this.#keyAliases.clear();
        this.#keyTags.clear();
        this.#keys.clear();
        this.#materials.clear();
        this.#aliases.clear();
        return;
      default:
        return change satisfies never;
    }
  }

  #publishAlias(scope: Scope, aliasName: string): Promise<void> {
    return this.#publish({ kind: 'alias', account: scope.account, region: scope.region, aliasName });
  }

  async #publish(change: CacheChange): Promise<void> {
    await this.#feed?.publish(change);
  }
}
