import type { ConnectionStateType } from '../model/kms-model.generated.js';
import type { ChangeFeed, Clock, CustomKeyStoreRecord, HsmBackend, KeyRecord, Page, Scope, Storage, XksBackend } from './ports.js';
import { StorageConflictError } from './ports.js';
import { BoundedMap } from './bounded-map.js';

/** AWS's quota: custom key stores per account and Region. */
export const CUSTOM_KEY_STORES_PER_ACCOUNT = 10;

/** AWS's id form: `cks-` and 17 hex digits. */
export const customKeyStoreId = (random: Buffer): string => `cks-${random.toString('hex').slice(0, 17)}`;

interface Entry {
  readonly value: CustomKeyStoreRecord | null;
  readonly expires: number;
}

const cacheKey = (scope: Scope, id: string) => `${scope.account}\u0000${scope.region}\u0000${id}`;

/**
 * Custom key stores as the operations see them: storage with a cache in front, so that a crypto request on a key in
 * a custom key store learns its store's connection state without a storage read. Writes go through here, refresh the
 * cache and tell the other nodes (ChangeFeed); entries also expire after `ttlMs`, as the key cache's do.
 *
 * CONNECTING and DISCONNECTING are shown (DescribeCustomKeyStores) while this node is connecting or disconnecting the
 * store; they are not stored, since Trent completes both within the request.
 */
export class CustomKeyStores {
  /** Bounded: ids that name no store are cached too (null), and a client may send any number of them. */
  readonly #cache = new BoundedMap<string, Entry>(10_000);
  readonly #transient = new Map<string, ConnectionStateType>();
  #epoch = 0;

  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly options: { readonly feed?: ChangeFeed | undefined; readonly ttlMs?: number | undefined } = {},
  ) {
    options.feed?.subscribe((change) => {
      if (change.kind === 'all') {
        this.#epoch++;
        this.#cache.clear();
      } else if (change.kind === 'custom-key-store') {
        this.#epoch++;
        this.#cache.delete(cacheKey(change, change.customKeyStoreId));
      }
    });
  }

  async get(scope: Scope, id: string): Promise<CustomKeyStoreRecord | undefined> {
    const k = cacheKey(scope, id);
    const hit = this.#cache.get(k);
    const now = this.clock.now().getTime();
    if (hit && hit.expires > now) return hit.value ?? undefined;
    const epoch = this.#epoch;
    const value = await this.storage.getCustomKeyStore(scope, id);
    // A read that overlapped an invalidation is returned but not cached.
    if (epoch === this.#epoch) this.#cache.set(k, { value: value ?? null, expires: now + (this.options.ttlMs ?? Infinity) });
    return value;
  }

  list(scope: Scope, limit: number, after?: string): Promise<Page<CustomKeyStoreRecord>> {
    return this.storage.listCustomKeyStores(scope, limit, after);
  }

  async insert(store: CustomKeyStoreRecord, maxPerScope: number): Promise<void> {
    await this.storage.insertCustomKeyStore(store, maxPerScope);
    await this.#changed(store, store.customKeyStoreId);
  }

  /**
   * Compare-and-set update: `change` sees the stored record and returns the new one (undefined: nothing to write);
   * retried on a concurrent writer. Returns the stored record.
   */
  async update(scope: Scope, id: string, change: (current: CustomKeyStoreRecord) => CustomKeyStoreRecord | undefined): Promise<CustomKeyStoreRecord | undefined> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.storage.getCustomKeyStore(scope, id);
      if (!current) return undefined;
      const next = change(current);
      if (!next) return current;
      try {
        const stored = await this.storage.updateCustomKeyStore(next);
        await this.#changed(scope, id);
        return stored;
      } catch (err) {
        if (!(err instanceof StorageConflictError) || attempt >= 4) throw err;
      }
    }
  }

  async delete(scope: Scope, id: string, version: number): Promise<'deleted' | 'has-keys' | 'not-found'> {
    const result = await this.storage.deleteCustomKeyStore(scope, id, version);
    await this.#changed(scope, id);
    return result;
  }

  /** The state DescribeCustomKeyStores shows: CONNECTING/DISCONNECTING while this node is changing it. */
  shownState(store: CustomKeyStoreRecord): ConnectionStateType {
    return this.#transient.get(cacheKey(store, store.customKeyStoreId)) ?? store.connectionState;
  }

  /** Marks the store CONNECTING or DISCONNECTING on this node while `work` runs. */
  async transition<T>(store: CustomKeyStoreRecord, state: 'CONNECTING' | 'DISCONNECTING', work: () => Promise<T>): Promise<T> {
    const k = cacheKey(store, store.customKeyStoreId);
    this.#transient.set(k, state);
    try {
      return await work();
    } finally {
      this.#transient.delete(k);
    }
  }

  /** Whether another request on this node is connecting or disconnecting the store. */
  inTransition(store: CustomKeyStoreRecord): ConnectionStateType | undefined {
    return this.#transient.get(cacheKey(store, store.customKeyStoreId));
  }

  /**
   * The key as the key-state table sees it: a key in a custom key store that is not connected is Unavailable
   * (AWS's key state for "the custom key store is disconnected"), unless it is being deleted or awaits import.
   * Never stored: only for state checks and DescribeKey.
   */
  async effective(key: KeyRecord): Promise<KeyRecord> {
    if (key.customKeyStoreId === undefined || (key.keyState !== 'Enabled' && key.keyState !== 'Disabled')) return key;
    const store = await this.get(key, key.customKeyStoreId);
    return store?.connectionState === 'CONNECTED' ? key : { ...key, keyState: 'Unavailable' };
  }

  async #changed(scope: Scope, id: string): Promise<void> {
    this.#epoch++;
    this.#cache.delete(cacheKey(scope, id));
    await this.options.feed?.publish({ kind: 'custom-key-store', account: scope.account, region: scope.region, customKeyStoreId: id });
  }

  /** Dev reset. */
  clear(): void {
    this.#epoch++;
    this.#cache.clear();
  }
}

/** An HsmBackend with no clusters (tests and tools that have no HSM): every cluster is unknown. */
export const NO_HSM: HsmBackend = Object.freeze({
  hasCluster: () => false,
  checkTrustAnchor: () => 'No HSM cluster is configured.',
  related: () => false,
  wrapPassword: () => {
    throw new Error('no HSM is configured');
  },
  connect: async () => 'CLUSTER_NOT_FOUND' as const,
  disconnect: () => {},
  createMaterial: async () => {
    throw new Error('no HSM is configured');
  },
  random: async () => {
    throw new Error('no HSM is configured');
  },
});

/** An XksBackend that reaches no proxy (tests and tools without external key stores). */
export const NO_XKS: XksBackend = Object.freeze({
  wrapSecret: () => {
    throw new Error('no XKS client is configured');
  },
  healthCheck: async () => ({ ok: false as const, exception: 'XksProxyUriUnreachableException', connectionErrorCode: 'XKS_PROXY_NOT_REACHABLE' as const, message: 'No XKS client is configured.' }),
  checkKey: async () => ({ ok: false as const, exception: 'XksProxyUriUnreachableException', connectionErrorCode: 'XKS_PROXY_NOT_REACHABLE' as const, message: 'No XKS client is configured.' }),
  createMaterial: async () => {
    throw new Error('no XKS client is configured');
  },
});
