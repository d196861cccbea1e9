// What makes several Trent nodes on one PostgreSQL database act as one: cache invalidations over LISTEN/NOTIFY, and a
// lease row per scheduled job so that one node runs it.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { CacheChange, ChangeFeed, JobLease } from '../../domain/ports.js';

/** The NOTIFY channel (per database: nodes on other databases of the same server do not hear it). */
export const CHANGE_CHANNEL = 'trent_cache';

export interface PostgresChangeFeedOptions {
  /** Connection problems: logged, never thrown. */
  readonly onError?: (message: string, err: Error) => void;
  /** The LISTEN connection is back after a loss; every subscriber has been sent `{ kind: 'all' }`. */
  readonly onReconnect?: () => void;
  /** How often the LISTEN connection is checked (a query with a timeout), so that a silently dead one is replaced. */
  readonly heartbeatMs?: number;
  /** Bound on connecting and on each statement (see PostgresStorageOptions.timeoutMs); default 5 s to connect. */
  readonly timeoutMs?: number;
}

/** Connection and statement bounds for a coordination connection. */
export const timeouts = (timeoutMs: number | undefined) => ({
  connectionTimeoutMillis: timeoutMs ?? 5_000,
  ...(timeoutMs === undefined ? {} : { statement_timeout: timeoutMs, query_timeout: timeoutMs + 1_000 }),
});

const MAX_RECONNECT_DELAY_MS = 5_000;

/**
 * Cache invalidations between nodes. Each node holds one dedicated connection that LISTENs on `trent_cache`;
 * `publish` sends `pg_notify` on a separate small pool after the write committed. PostgreSQL delivers a notification
 * to every listening session, the sender's included, once its transaction commits.
 *
 * A notification sent while a node's LISTEN connection is down is lost for that node: when the connection breaks
 * (error, end, or a heartbeat that does not answer) the feed reconnects with backoff and, once listening again,
 * tells its subscribers to drop everything (`{ kind: 'all' }`). Until then the cache expiry bounds the staleness.
 */
export class PostgresChangeFeed implements ChangeFeed {
  readonly #listeners: ((change: CacheChange) => void)[] = [];
  readonly #publisher: pg.Pool;
  readonly #heartbeatMs: number;
  #client: pg.Client | undefined;
  #closed = false;
  #reconnect: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  private constructor(
    private readonly url: string,
    private readonly options: PostgresChangeFeedOptions,
  ) {
    this.#heartbeatMs = options.heartbeatMs ?? 5_000;
    this.#publisher = new pg.Pool({ connectionString: url, max: 2, idleTimeoutMillis: 30_000, keepAlive: true, application_name: 'trent-notify', ...timeouts(options.timeoutMs) });
    this.#publisher.on('error', (err) => this.#error('PostgreSQL notify connection error', err));
  }

  /** Connects and starts listening; throws when PostgreSQL cannot be reached. */
  static async open(url: string, options: PostgresChangeFeedOptions = {}): Promise<PostgresChangeFeed> {
    const feed = new PostgresChangeFeed(url, options);
    try {
      await feed.#connect();
    } catch (err) {
      await feed.close();
      throw err;
    }
    feed.#heartbeat = setInterval(() => void feed.#check(), feed.#heartbeatMs);
    feed.#heartbeat.unref();
    return feed;
  }

  /** Whether the LISTEN connection is up (for tests and health). */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  async publish(change: CacheChange): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#publisher.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, JSON.stringify(change)]);
    } catch (err) {
      // The write has committed; the other nodes' caches expire. Not the caller's failure.
      this.#error('could not publish a cache invalidation', err as Error);
    }
  }

  subscribe(listener: (change: CacheChange) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    clearInterval(this.#heartbeat);
    const c = this.#client;
    this.#client = undefined;
    await Promise.all([c?.end().catch(() => {}), this.#publisher.end().catch(() => {})]);
  }

  async #connect(): Promise<void> {
    const c = new pg.Client({ connectionString: this.url, keepAlive: true, application_name: 'trent-listen', connectionTimeoutMillis: this.options.timeoutMs ?? 5_000 });
    c.on('error', (err) => this.#lost(c, err));
    c.on('end', () => this.#lost(c, new Error('connection ended')));
    c.on('notification', (msg) => {
      if (msg.channel === CHANGE_CHANNEL) this.#emit(parseChange(msg.payload));
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      await c.end().catch(() => {});
      throw err;
    }
    if (this.#closed) {
      await c.end().catch(() => {});
      return;
    }
    this.#client = c;
  }

  /** A query with a deadline on the LISTEN connection: a connection that does not answer is treated as lost. */
  async #check(): Promise<void> {
    const c = this.#client;
    if (!c) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.query('SELECT 1'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('heartbeat timed out')), this.#heartbeatMs))),
      ]);
    } catch (err) {
      this.#lost(c, err as Error);
    } finally {
      clearTimeout(timer);
    }
  }

  #lost(c: pg.Client, err: Error): void {
    if (this.#client !== c) return;
    this.#client = undefined;
    c.removeAllListeners('notification');
    c.on('error', () => {});
    void c.end().catch(() => {});
    if (this.#closed) return;
    this.#error('cache invalidation feed lost its PostgreSQL connection; reconnecting', err);
    this.#scheduleReconnect(100);
  }

  #scheduleReconnect(delayMs: number): void {
    this.#reconnect = setTimeout(() => {
      this.#connect().then(
        () => {
          if (this.#closed || !this.#client) return;
          // Changes published while we were not listening are lost: drop everything.
          this.#emit({ kind: 'all' });
          this.options.onReconnect?.();
        },
        (err: Error) => {
          if (this.#closed) return;
          this.#error('cache invalidation feed could not reconnect', err);
          this.#scheduleReconnect(Math.min(delayMs * 2, MAX_RECONNECT_DELAY_MS));
        },
      );
    }, delayMs);
    this.#reconnect.unref();
  }

  #emit(change: CacheChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#error('cache invalidation listener failed', err as Error);
      }
    }
  }

  #error(message: string, err: Error): void {
    this.options.onError?.(message, err);
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** A payload this version does not understand drops everything: never a stale entry because of a format change. */
export function parseChange(payload: string | undefined): CacheChange {
  try {
    const v = JSON.parse(payload ?? '') as Record<string, unknown>;
    if (v.kind === 'key' && isString(v.account) && isString(v.region) && isString(v.keyId) && isString(v.arn)) {
      return { kind: 'key', account: v.account, region: v.region, keyId: v.keyId, arn: v.arn, deleted: v.deleted === true, ...(v.erased === true && { erased: true }) };
    }
    if (v.kind === 'grants' && isString(v.arn)) return { kind: 'grants', arn: v.arn };
    if (v.kind === 'alias' && isString(v.account) && isString(v.region) && isString(v.aliasName)) {
      return { kind: 'alias', account: v.account, region: v.region, aliasName: v.aliasName };
    }
  } catch {
    // fall through
  }
  return { kind: 'all' };
}

/** The database's clock in milliseconds: lease times never depend on the nodes' clocks agreeing. */
const DB_NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * A lease row per job in `scheduler_leases` (job, holder, expires_at), taken or renewed by one INSERT … ON CONFLICT
 * DO UPDATE … WHERE the holder is this node or the lease has expired. Times are the database's. A node that dies stops
 * renewing and another takes the job over once the lease expires; a node that stops cleanly deletes its row.
 * A row rather than an advisory lock: it needs no session pinned to one server connection (works through
 * transaction-pooling proxies such as PgBouncer, and on databases without advisory locks such as CockroachDB).
 */
export class PostgresJobLease implements JobLease {
  readonly #pool: pg.Pool;
  /** Who holds the lease: host, process and a random part (a restarted process with the same pid is another holder). */
  readonly holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    url: string,
    private readonly ttlMs: number,
    onError: (err: Error) => void = () => {},
    timeoutMs?: number,
  ) {
    this.#pool = new pg.Pool({ connectionString: url, max: 1, idleTimeoutMillis: 30_000, keepAlive: true, application_name: 'trent-lease', ...timeouts(timeoutMs) });
    this.#pool.on('error', onError);
  }

  /**
   * Takes or renews the lease. Throws when the database cannot be reached: the caller then does not run the job
   * (LeasedJob treats a throw as "not held"). An answer that took more than half the lease is not trusted
   * either: the lease it granted may be about to expire.
   */
  async tryAcquire(job: string): Promise<boolean> {
    const started = Date.now();
    const r = await this.#pool.query(
      `INSERT INTO scheduler_leases (job, holder, expires_at) VALUES ($1, $2, ${DB_NOW_MS} + $3)
       ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE scheduler_leases.holder = excluded.holder OR scheduler_leases.expires_at < ${DB_NOW_MS}
       RETURNING holder`,
      [job, this.holder, this.ttlMs],
    );
    return r.rowCount === 1 && Date.now() - started < this.ttlMs / 2;
  }

  async release(job: string): Promise<void> {
    await this.#pool.query('DELETE FROM scheduler_leases WHERE job = $1 AND holder = $2', [job, this.holder]);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
