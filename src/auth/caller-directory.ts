// Who an access key belongs to, with the identity policies that apply: read from the store, cached per access key,
// and dropped when the IAM generation moves (another process or node changed principals, policies or access keys).
import type { Storage } from '../domain/ports.js';
import { compilePolicy, type CompiledPolicy } from '../domain/policy/index.js';
import { IAM_GENERATION_SETTING, isAccountRootArn } from '../domain/principals.js';
import type { AccessKeyRecord } from '../domain/ports.js';

/** How long a node may go on using what it cached about callers after a change committed elsewhere (ms). */
export const IAM_REFRESH_MS = 1000;

/**
 * Watches the IAM generation setting that every principal, policy and access key write increments (in its own
 * transaction). A request re-reads it when the last successful read started more than `refreshMs` ago (one indexed
 * read per node per interval while requests arrive, shared by concurrent requests); when it moved, every listener
 * drops its cache. So a change committed at time C is seen by every request that starts after C + refreshMs, on every
 * node and whichever process made it (the `trent iam` CLI included).
 *
 * While the store does not answer (the last read failed, or the current one has taken longer than `refreshMs`),
 * requests do not wait for it: they go on with what is cached for at most `maxStaleMs` after the last successful
 * read (the --cache-ttl-seconds bound that also applies to cached keys), then fail.
 */
export class IamGenerationWatch {
  #generation: string | undefined | null = null;
  #lastSuccessStart = -Infinity;
  #inFlight: { promise: Promise<void>; startedAt: number } | undefined;
  #failing = false;
  readonly #listeners: (() => void)[] = [];
  private readonly refreshMs: number;
  private readonly maxStaleMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Pick<Storage, 'getSetting'>,
    opts: { refreshMs?: number; maxStaleMs?: number; now?: () => number } = {},
  ) {
    this.refreshMs = opts.refreshMs ?? IAM_REFRESH_MS;
    this.maxStaleMs = opts.maxStaleMs ?? Infinity;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Called after the generation moved. */
  subscribe(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Nothing when the generation was read within refreshMs (the hot path); else a promise of reading it. */
  fresh(): void | Promise<void> {
    const now = this.now();
    const age = now - this.#lastSuccessStart;
    if (age < this.refreshMs) return;
    const inFlight = this.#read(now);
    const troubled = this.#failing || now - inFlight.startedAt >= this.refreshMs;
    if (troubled && age < this.maxStaleMs) return;
    // Wait for the read, but no longer than refreshMs: a store that stalls now is in trouble too.
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => (timer = setTimeout(() => resolve('stalled'), this.refreshMs)));
    return Promise.race([inFlight.promise.then(() => 'read' as const), stalled]).then(
      (outcome) => {
        clearTimeout(timer);
        if (outcome === 'stalled' && !(this.now() - this.#lastSuccessStart < this.maxStaleMs)) return inFlight.promise;
        return undefined;
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (this.now() - this.#lastSuccessStart < this.maxStaleMs) return;
        throw err;
      },
    );
  }

  #read(now: number): { promise: Promise<void>; startedAt: number } {
    if (this.#inFlight) return this.#inFlight;
    const promise = (async () => {
      try {
        const generation = await this.store.getSetting(IAM_GENERATION_SETTING);
        if (generation !== this.#generation) {
          const first = this.#generation === null;
          this.#generation = generation;
          if (!first) for (const listener of this.#listeners) listener();
        }
        this.#lastSuccessStart = now;
        this.#failing = false;
      } catch (err) {
        this.#failing = true;
        throw err;
      } finally {
        this.#inFlight = undefined;
      }
    })();
    promise.catch(() => {}); // a read nobody waits for must not be an unhandled rejection
    this.#inFlight = { promise, startedAt: now };
    return this.#inFlight;
  }
}

/** An access key with its principal and, for a user or role, its compiled identity policies (roots: none). */
export interface ResolvedAccessKey {
  readonly record: AccessKeyRecord;
  readonly identityPolicies?: readonly CompiledPolicy[] | undefined;
}

type DirectoryStore = Pick<Storage, 'getAccessKey' | 'getPrincipalByArn' | 'getIdentityPolicies'>;

const MAX_ENTRIES = 10_000;

/**
 * Access key → principal and policies (or: no such key), cached; `derive` adds what a user of the directory wants kept with each entry
 * (SigV4: the unwrapped secret). An entry loaded while the generation moved is not kept (it may predate the change).
 */
export class CallerDirectory<T = undefined> {
  /** null: no such access key (cached too: every access key write moves the generation). */
  readonly #cache = new Map<string, { resolved: ResolvedAccessKey; extra: T } | null>();
  #epoch = 0;

  constructor(
    private readonly store: DirectoryStore,
    private readonly watch: IamGenerationWatch,
    private readonly derive: (resolved: ResolvedAccessKey) => T,
  ) {
    watch.subscribe(() => {
      this.#cache.clear();
      this.#epoch++;
    });
  }

  /** Undefined when the access key does not exist (deleted, never issued), or its user or role is gone. */
  async resolve(accessKeyId: string): Promise<{ resolved: ResolvedAccessKey; extra: T } | undefined> {
    const pending = this.watch.fresh();
    if (pending) await pending;
    const hit = this.#cache.get(accessKeyId);
    if (hit !== undefined) return hit ?? undefined;
    const epoch = this.#epoch;
    const keep = (entry: { resolved: ResolvedAccessKey; extra: T } | null) => {
      if (epoch !== this.#epoch) return; // loaded while the generation moved: may predate the change
      if (this.#cache.size >= MAX_ENTRIES) this.#cache.clear();
      this.#cache.set(accessKeyId, entry);
    };
    const record = await this.store.getAccessKey(accessKeyId);
    if (!record) return keep(null), undefined;
    let identityPolicies: CompiledPolicy[] | undefined;
    if (!isAccountRootArn(record.principalArn)) {
      if (!(await this.store.getPrincipalByArn(record.principalArn))) return keep(null), undefined;
      const policies = await this.store.getIdentityPolicies(record.principalArn);
      identityPolicies = policies.map((p) => {
        try {
          return compilePolicy(p.document, 'identity');
        } catch (err) {
          // Checked when stored: a document that no longer parses is a server fault, and the caller gets nothing.
          throw new Error(`identity policy ${p.policyName} of ${p.principalArn} does not parse: ${(err as Error).message}`);
        }
      });
    }
    const resolved: ResolvedAccessKey = { record, identityPolicies };
    const entry = { resolved, extra: this.derive(resolved) };
    keep(entry);
    return entry;
  }
}
