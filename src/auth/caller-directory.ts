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
 * transaction). A request re-reads it when the last read started more than `refreshMs` ago (one indexed read per
 * node per interval, shared by concurrent requests); when it moved, every listener drops its cache. So a change
 * committed at time C is seen by every request that starts after C + refreshMs, on every node and whichever process
 * made it (the `trent iam` CLI included). If the store cannot be read, requests fail rather than use what may have
 * been revoked.
 */
export class IamGenerationWatch {
  #generation: string | undefined | null = null;
  #checkedAt = -Infinity;
  #pending: Promise<void> | undefined;
  readonly #listeners: (() => void)[] = [];

  constructor(
    private readonly store: Pick<Storage, 'getSetting'>,
    private readonly refreshMs: number = IAM_REFRESH_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Called after the generation moved. */
  subscribe(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Nothing when the generation was read within refreshMs (the hot path); else a promise of reading it. */
  fresh(): void | Promise<void> {
    if (this.now() - this.#checkedAt < this.refreshMs) return;
    return (this.#pending ??= this.#check().finally(() => (this.#pending = undefined)));
  }

  async #check(): Promise<void> {
    const startedAt = this.now();
    const generation = await this.store.getSetting(IAM_GENERATION_SETTING);
    if (generation !== this.#generation) {
      const first = this.#generation === null;
      this.#generation = generation;
      if (!first) for (const listener of this.#listeners) listener();
    }
    this.#checkedAt = startedAt;
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
 * Access key → principal and policies, cached; `derive` adds what a user of the directory wants kept with each entry
 * (SigV4: the unwrapped secret). An entry loaded while the generation moved is not kept (it may predate the change).
 */
export class CallerDirectory<T = undefined> {
  readonly #cache = new Map<string, { resolved: ResolvedAccessKey; extra: T }>();
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
    if (hit) return hit;
    const epoch = this.#epoch;
    const record = await this.store.getAccessKey(accessKeyId);
    if (!record) return undefined;
    let identityPolicies: CompiledPolicy[] | undefined;
    if (!isAccountRootArn(record.principalArn)) {
      if (!(await this.store.getPrincipalByArn(record.principalArn))) return undefined;
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
    if (epoch === this.#epoch) {
      if (this.#cache.size >= MAX_ENTRIES) this.#cache.clear();
      this.#cache.set(accessKeyId, entry);
    }
    return entry;
  }
}
