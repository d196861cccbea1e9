import type { AliasRecord, Clock, KeyRecord, MaterialRecord, Scope, Storage, TagRecord } from './ports.js';
import { StorageConflictError } from './ports.js';
import { KmsError } from './errors.js';

const scopeKey = (scope: Scope, name: string): string => `${scope.account}/${scope.region}/${name}`;

/**
 * Keys, materials and aliases as the operations see them: reads come from an in-memory cache (the hot path
 * never touches storage once a key is warm), every write goes through here and refreshes the cache.
 */
export class KeyRepository {
  readonly #keys = new Map<string, KeyRecord>();
  readonly #materials = new Map<string, Map<string, MaterialRecord>>();
  readonly #aliases = new Map<string, AliasRecord | null>();

  constructor(
    readonly storage: Storage,
    readonly clock: Clock,
  ) {}

  async getKey(scope: Scope, keyId: string): Promise<KeyRecord | undefined> {
    const k = scopeKey(scope, keyId);
    const cached = this.#keys.get(k);
    if (cached) return cached;
    const key = await this.storage.getKey(scope, keyId);
    if (key) this.#keys.set(k, key);
    return key;
  }

  async getMaterial(key: KeyRecord, materialId: string): Promise<MaterialRecord | undefined> {
    let byId = this.#materials.get(key.arn);
    if (!byId?.has(materialId)) {
      byId = new Map((await this.storage.getMaterials(key.arn)).map((m) => [m.materialId, m]));
      this.#materials.set(key.arn, byId);
    }
    return byId.get(materialId);
  }

  async createKey(key: KeyRecord, materials: readonly MaterialRecord[], tags: readonly TagRecord[]): Promise<void> {
    await this.storage.insertKey(key, materials, tags);
    this.#keys.set(scopeKey(key, key.keyId), key);
  }

  /**
   * Read-modify-write of a key with compare-and-set; retried on a concurrent update. `change` may throw a
   * KmsError to refuse the change, and returns undefined to leave the key as it is.
   */
  async updateKey(scope: Scope, keyId: string, change: (key: KeyRecord) => KeyRecord | undefined): Promise<KeyRecord> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = attempt === 0 ? await this.getKey(scope, keyId) : await this.storage.getKey(scope, keyId);
      if (!current) throw new KmsError('NotFoundException', `Key '${keyId}' does not exist`);
      const next = change(current);
      if (!next) return current;
      try {
        const stored = await this.storage.updateKey(next);
        this.#keys.set(scopeKey(scope, keyId), stored);
        return stored;
      } catch (err) {
        if (!(err instanceof StorageConflictError)) throw err;
        this.#keys.delete(scopeKey(scope, keyId));
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
    this.forgetKey(key);
    if (deleted) {
      for (const [k, alias] of this.#aliases) if (alias && alias.targetKeyId === key.keyId && k.startsWith(scopeKey(key, ''))) this.#aliases.delete(k);
    }
    return deleted;
  }

  forgetKey(scope: Scope & { keyId: string; arn: string }): void {
    this.#keys.delete(scopeKey(scope, scope.keyId));
    this.#materials.delete(scope.arn);
  }

  async getAlias(scope: Scope, aliasName: string): Promise<AliasRecord | undefined> {
    const k = scopeKey(scope, aliasName);
    const cached = this.#aliases.get(k);
    if (cached !== undefined) return cached ?? undefined;
    const alias = await this.storage.getAlias(scope, aliasName);
    this.#aliases.set(k, alias ?? null);
    return alias;
  }

  /** Creates an alias; StorageDuplicateError / StorageLimitError from the store. The cache sees it at once. */
  async createAlias(alias: AliasRecord, maxPerTarget?: number): Promise<void> {
    try {
      await this.storage.insertAlias(alias, maxPerTarget);
    } finally {
      this.forgetAlias(alias, alias.aliasName);
    }
    this.#aliases.set(scopeKey(alias, alias.aliasName), alias);
  }

  /** Points an alias at another key; false if it does not exist. Encrypt through the alias sees the move at once. */
  async updateAlias(scope: Scope, aliasName: string, targetKeyId: string, maxPerTarget?: number): Promise<boolean> {
    try {
      return await this.storage.updateAlias(scope, aliasName, targetKeyId, this.clock.now(), maxPerTarget);
    } finally {
      this.forgetAlias(scope, aliasName);
    }
  }

  async deleteAlias(scope: Scope, aliasName: string): Promise<boolean> {
    try {
      return await this.storage.deleteAlias(scope, aliasName);
    } finally {
      this.forgetAlias(scope, aliasName);
    }
  }

  /** Tags are not on the hot path and not cached; they still go through here so a cache can be added in one place. */
  getTags(key: KeyRecord): Promise<TagRecord[]> {
    return this.storage.getTags(key.arn);
  }

  putTags(key: KeyRecord, tags: readonly TagRecord[], maxTags?: number): Promise<void> {
    return this.storage.putTags(key.arn, tags, maxTags);
  }

  removeTags(key: KeyRecord, tagKeys: readonly string[]): Promise<void> {
    return this.storage.removeTags(key.arn, tagKeys);
  }

  /** Call after any alias change (create, update, delete). */
  forgetAlias(scope: Scope, aliasName: string): void {
    this.#aliases.delete(scopeKey(scope, aliasName));
  }

  /** Drops every cached entry (dev reset). */
  clear(): void {
    this.#keys.clear();
    this.#materials.clear();
    this.#aliases.clear();
  }
}
