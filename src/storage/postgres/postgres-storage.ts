import pg from 'pg';
import type {
  AccessKeyRecord, AliasRecord, AuditEventInput, AuditEventRecord, AuditEventSource, AuditQuery, AuditStore, CustomKeyStoreRecord, KeyRecord, MaterialRecord,
  Page, Scope, SnapshotCounts, SnapshotRecord, SnapshotStorage, Storage, TagRecord, RewrapCounts, RootKeyStorage, WrappedSecretRecord,
} from '../../domain/ports.js';
import { decodeXksConfig, encodeXksConfig } from '../xks-config.js';
import { CKS_COLUMNS, toCustomKeyStore, type CustomKeyStoreRow } from '../custom-key-store-rows.js';
import { AuditAppender } from '../audit-appender.js';
import { appendChain, appendInTransaction, AUDIT_COLUMNS, auditValues, poolConfig, pruneChain } from './postgres-audit.js';
import { AUDIT_ANCHOR_SETTING, decodeAnchor, type AuditAnchor } from '../../domain/audit-chain.js';
import {
  emptySnapshotCounts, StorageConflictError, StorageDuplicateError, StorageLimitError, StorageNotEmptyError, StorageInUseError,
} from '../../domain/ports.js';
import { IAM_GENERATION_SETTING, type IdentityPolicyRecord, type PrincipalRecord } from '../../domain/principals.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { GRANT_COLUMNS, grantValues, retirableSortKey, splitRetirableSortKey, toGrant, type GrantRow } from '../grant-rows.js';
import type { GrantRecord } from '../../domain/ports.js';
import { translatePgError, unavailableReason } from './pg-errors.js';
import { DECODING_TYPES, encodeValues } from './text-codec.js';

// bigint columns arrive as strings (node-postgres does not guess at precision): millisecond timestamps and versions
// stay far below 2^53, so Number() is exact.
interface KeyRow {
  account: string; region: string; key_id: string; arn: string; creation_date: string; description: string;
  key_usage: string; key_spec: string; origin: string; key_manager: string; key_state: string;
  deletion_date: string | null; current_material_id: string | null; multi_region: boolean; policy: string; version: string;
  rotation_period_days: number | null; next_rotation_date: string | null; on_demand_rotations: number;
  custom_key_store_id: string | null; xks_key_id: string | null;
  primary_region: string | null; transition_state: string | null; transition_date: string | null; pending_deletion_window_days: number | null;
}
const customKeyStoreValues = (c: CustomKeyStoreRecord): unknown[] => [
  c.account, c.region, c.customKeyStoreId, c.name, c.type, c.cloudHsmClusterId ?? null, c.trustAnchorCertificate ?? null,
  c.passwordWrapped ?? null, c.connectionState, c.connectionErrorCode ?? null, c.creationDate.getTime(), c.version,
  encodeXksConfig(c.xks),
];
interface AliasRow {
  account: string; region: string; alias_name: string; target_key_id: string; creation_date: string; last_updated_date: string;
}

const toKey = (r: KeyRow): KeyRecord => ({
  account: r.account,
  region: r.region,
  keyId: r.key_id,
  arn: r.arn,
  creationDate: new Date(Number(r.creation_date)),
  description: r.description,
  keyUsage: r.key_usage as KeyRecord['keyUsage'],
  keySpec: r.key_spec as KeyRecord['keySpec'],
  origin: r.origin as KeyRecord['origin'],
  keyManager: r.key_manager as KeyRecord['keyManager'],
  keyState: r.key_state as KeyRecord['keyState'],
  deletionDate: r.deletion_date === null ? undefined : new Date(Number(r.deletion_date)),
  currentMaterialId: r.current_material_id ?? undefined,
  multiRegion: r.multi_region,
  policy: r.policy,
  version: Number(r.version),
  // Rotation fields only when set, so that a key without rotation reads back exactly as it was written.
  ...(r.rotation_period_days !== null && { rotationPeriodDays: r.rotation_period_days }),
  ...(r.next_rotation_date !== null && { nextRotationDate: new Date(Number(r.next_rotation_date)) }),
  ...(r.on_demand_rotations > 0 && { onDemandRotations: r.on_demand_rotations }),
  ...(r.custom_key_store_id !== null && { customKeyStoreId: r.custom_key_store_id }),
  ...(r.xks_key_id !== null && { xksKeyId: r.xks_key_id }),
  ...(r.primary_region !== null && { primaryRegion: r.primary_region }),
  ...(r.transition_state !== null && { transitionState: r.transition_state as KeyRecord['keyState'] }),
  ...(r.transition_date !== null && { transitionDate: new Date(Number(r.transition_date)) }),
  ...(r.pending_deletion_window_days !== null && { pendingDeletionWindowInDays: r.pending_deletion_window_days }),
});
const toAlias = (r: AliasRow): AliasRecord => ({
  account: r.account, region: r.region, aliasName: r.alias_name, targetKeyId: r.target_key_id,
  creationDate: new Date(Number(r.creation_date)), lastUpdatedDate: new Date(Number(r.last_updated_date)),
});

interface MaterialRow {
  key_arn: string; material_id: string; wrapped: Buffer; created_at: string; rotation_type: string | null;
  expiration_model: string | null; valid_to: string | null; description: string | null; pending_rotation: boolean;
}
interface AccessKeyRow {
  access_key_id: string; account: string; principal_arn: string; secret_wrapped: Buffer; created_at: string;
}
const toMaterial = (m: MaterialRow): MaterialRecord => ({
  keyArn: m.key_arn, materialId: m.material_id, wrapped: m.wrapped, createdAt: new Date(Number(m.created_at)),
  ...(m.rotation_type !== null && { rotationType: m.rotation_type as MaterialRecord['rotationType'] }),
  // Import fields only when set, so that generated material reads back exactly as it was written.
  ...(m.expiration_model !== null && { expirationModel: m.expiration_model as MaterialRecord['expirationModel'] }),
  ...(m.valid_to !== null && { validTo: new Date(Number(m.valid_to)) }),
  ...(m.description !== null && { description: m.description }),
  ...(m.pending_rotation && { pendingRotation: true }),
});
const MATERIAL_COLUMNS = 'key_arn, material_id, wrapped, created_at, rotation_type, expiration_model, valid_to, description, pending_rotation';
const INSERT_MATERIAL = `INSERT INTO key_materials (${MATERIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
const UPSERT_MATERIAL = `${INSERT_MATERIAL} ON CONFLICT (key_arn, material_id) DO UPDATE SET wrapped = excluded.wrapped,
  created_at = excluded.created_at, rotation_type = excluded.rotation_type, expiration_model = excluded.expiration_model,
  valid_to = excluded.valid_to, description = excluded.description, pending_rotation = excluded.pending_rotation`;
const materialValues = (m: MaterialRecord): unknown[] => [
  m.keyArn, m.materialId, m.wrapped, m.createdAt.getTime(), m.rotationType ?? null, m.expirationModel ?? null,
  m.validTo?.getTime() ?? null, m.description ?? null, m.pendingRotation === true,
];
const toAccessKey = (a: AccessKeyRow): AccessKeyRecord => ({
  accessKeyId: a.access_key_id, account: a.account, principalArn: a.principal_arn, secretWrapped: a.secret_wrapped, createdAt: new Date(Number(a.created_at)),
});
interface PrincipalRow {
  account: string; kind: string; name_key: string; name: string; path: string; arn: string; created_at: string;
}
interface IdentityPolicyRow {
  principal_arn: string; policy_name: string; document: string;
}
const toPrincipal = (r: PrincipalRow): PrincipalRecord => ({
  account: r.account, kind: r.kind as PrincipalRecord['kind'], name: r.name, path: r.path, arn: r.arn, createdAt: new Date(Number(r.created_at)),
});
const principalValues = (p: PrincipalRecord): unknown[] => [p.account, p.kind, p.name.toLowerCase(), p.name, p.path, p.arn, p.createdAt.getTime()];
const INSERT_PRINCIPAL = 'INSERT INTO principals (account, kind, name_key, name, path, arn, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)';
const PRINCIPAL_COLUMNS = 'account, kind, name_key, name, path, arn, created_at';
const toIdentityPolicy = (r: IdentityPolicyRow): IdentityPolicyRecord => ({ principalArn: r.principal_arn, policyName: r.policy_name, document: r.document });
/** Increments the IAM generation (inside the caller's transaction; concurrent writers queue on the row lock). */
const BUMP_IAM_GENERATION = `INSERT INTO settings (name, value) VALUES ('${IAM_GENERATION_SETTING}', '1')
  ON CONFLICT (name) DO UPDATE SET value = (settings.value::bigint + 1)::text`;
const keyValues = (key: KeyRecord): unknown[] => [
  key.account, key.region, key.keyId, key.arn, key.creationDate.getTime(), key.description, key.keyUsage, key.keySpec,
  key.origin, key.keyManager, key.keyState, key.deletionDate?.getTime() ?? null, key.currentMaterialId ?? null,
  key.multiRegion, key.policy, key.version, key.rotationPeriodDays ?? null, key.nextRotationDate?.getTime() ?? null,
  key.onDemandRotations ?? 0, key.customKeyStoreId ?? null, key.xksKeyId ?? null, ...multiRegionValues(key),
];
/** The multi-Region columns (migration 20), last in KEY_COLUMNS and in UPDATE_KEY. */
const multiRegionValues = (key: KeyRecord): unknown[] => [
  key.primaryRegion ?? null, key.transitionState ?? null, key.transitionDate?.getTime() ?? null, key.pendingDeletionWindowInDays ?? null,
];

/** The tables a snapshot covers, in export order, with the order of their rows (the primary key). */
const SNAPSHOT_TABLES = [
  { table: 'settings', order: 'name' },
  { table: 'access_keys', order: 'access_key_id' },
  { table: 'principals', order: 'account, kind, name_key' },
  { table: 'identity_policies', order: 'principal_arn, policy_name' },
  { table: 'custom_key_stores', order: 'account, region, custom_key_store_id' },
  { table: 'keys', order: 'account, region, key_id' },
  { table: 'key_materials', order: 'key_arn, material_id' },
  { table: 'aliases', order: 'account, region, alias_name' },
  { table: 'tags', order: 'key_arn, tag_key' },
  { table: 'grants', order: 'key_arn, grant_id' },
  { table: 'audit_events', order: 'seq' },
] as const;
const INSERT_GRANT = `INSERT INTO grants (${GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;

interface AuditRow {
  seq: string; event_id: string; event_time: string; event_name: string; account: string; resource_account: string | null;
  key_arn: string | null; principal: string | null; username: string | null; read_only: boolean; usage: string | null;
  request_id: string; event: string; prev_hash: string; hash: string;
}
const toAuditEvent = (r: AuditRow): AuditEventRecord => ({
  seq: Number(r.seq), eventId: r.event_id, eventTime: Number(r.event_time), eventName: r.event_name, account: r.account,
  resourceAccount: r.resource_account ?? undefined, keyArn: r.key_arn ?? undefined, principal: r.principal ?? undefined,
  username: r.username ?? undefined, readOnly: r.read_only, usage: r.usage ?? undefined, requestId: r.request_id,
  json: r.event, prevHash: r.prev_hash, hash: r.hash,
});
const SNAPSHOT_FETCH = 500;

const KEY_COLUMNS = `account, region, key_id, arn, creation_date, description, key_usage, key_spec, origin, key_manager,
  key_state, deletion_date, current_material_id, multi_region, policy, version, rotation_period_days, next_rotation_date,
  on_demand_rotations, custom_key_store_id, xks_key_id, primary_region, transition_state, transition_date, pending_deletion_window_days`;

const INSERT_KEY = `INSERT INTO keys (${KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`;
/** Compare-and-set of every mutable column: one statement, so under any isolation level a second writer with the same
 * version finds version + 1 and matches no row (PostgreSQL re-checks the WHERE clause after waiting for the row lock). */
const UPDATE_KEY = `UPDATE keys SET description = $4, key_usage = $5, key_spec = $6, origin = $7, key_manager = $8, key_state = $9,
    deletion_date = $10, current_material_id = $11, multi_region = $12, policy = $13, rotation_period_days = $15,
    next_rotation_date = $16, on_demand_rotations = $17, primary_region = $18, transition_state = $19, transition_date = $20,
    pending_deletion_window_days = $21, version = version + 1
  WHERE account = $1 AND region = $2 AND key_id = $3 AND version = $14`;
const updateValues = (key: KeyRecord): unknown[] => [
  key.account, key.region, key.keyId, key.description, key.keyUsage, key.keySpec, key.origin, key.keyManager, key.keyState,
  key.deletionDate?.getTime() ?? null, key.currentMaterialId ?? null, key.multiRegion, key.policy, key.version,
  key.rotationPeriodDays ?? null, key.nextRotationDate?.getTime() ?? null, key.onDemandRotations ?? 0, ...multiRegionValues(key),
];

const sqlState = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
/** 23505 unique_violation. */
const isUniqueViolation = (err: unknown): boolean => sqlState(err) === '23505';
/** 40001 serialization_failure, 40P01 deadlock_detected: the transaction did nothing and may simply run again. */
const isRetryable = (err: unknown): boolean => sqlState(err) === '40001' || sqlState(err) === '40P01';

/** Session advisory lock taken while migrating, so that nodes starting together migrate one at a time ("trent" + 1). */
const MIGRATION_LOCK = 0x7472_656e_7401;
const MAX_TX_ATTEMPTS = 20;

/**
 * The row a transaction locks (INSERT ... ON CONFLICT DO UPDATE: it makes the row if it is missing) before it checks a
 * limit and writes: writers of one limit queue on it, and in READ COMMITTED each statement after the lock sees what the
 * previous holder committed. One round trip, no serialization failures; portable (no advisory locks).
 */
const TAKE_WRITE_LOCK = 'INSERT INTO write_locks (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name';
/** The write locks of the per-key limits (aliases of a key, tags of a key, grants of a key), and of a scope's key stores. */
const aliasesLock = (scope: Scope, targetKeyId: string) => `aliases ${scope.account} ${scope.region} ${targetKeyId}`;
const tagsLock = (keyArn: string) => `tags ${keyArn}`;
const grantsLock = (keyArn: string) => `grants ${keyArn}`;
const customKeyStoresLock = (scope: Scope) => `custom key stores ${scope.account} ${scope.region}`;

export interface PostgresStorageOptions {
  /** Pool size per process (default 10). */
  readonly maxConnections?: number;
  /** Errors of idle pooled connections (server restart, network); they must not crash the process. */
  readonly onError?: (err: Error) => void;
  /**
   * The bound on waiting for the database, in ms: for a pooled connection (connectionTimeoutMillis), and for each
   * statement (statement_timeout on the server, plus a client-side read timeout 1 s later for a server that does not
   * answer at all). Past it a call fails with StorageUnavailableError. Default: 10 s for a connection, statements
   * unbounded (backup and restore).
   */
  readonly timeoutMs?: number;
  /** The request under way's audit event, appended by every write transaction a request makes (docs/audit.md). */
  readonly audit?: AuditEventSource;
}

/** What the methods query through: the pool's query with connection failures translated, or a transaction's client. */
interface Queryable {
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** A pooled connection whose statements' string parameters are encoded (text-codec.ts). */
interface Connection extends Queryable {
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  query<R extends pg.QueryResultRow = any>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
  release(err?: Error): void;
}

function encoding(client: pg.PoolClient): Connection {
  return {
    query: (q: string | pg.QueryConfig, values?: unknown[]) =>
      typeof q === 'string' ? client.query(q, encodeValues(values)) : client.query({ ...q, values: encodeValues(q.values) }),
    release: (err?: Error) => client.release(err),
  } as Connection;
}

const swallow = () => {};

/**
 * The store for many nodes: PostgreSQL 15 through a connection pool. Every multi-row change is one READ COMMITTED
 * transaction; keys are updated by compare-and-set on their version; per-key limits are checked under a write lock
 * (a row of write_locks), so concurrent writers on any number of nodes can never pass a limit.
 */
export class PostgresStorage implements Storage, SnapshotStorage, AuditStore, RootKeyStorage {
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #timeoutMs: number | undefined;
  #appender: AuditAppender | undefined;
  readonly #audit: AuditEventSource | undefined;
  /** The pool's query, with connection failures turned into StorageUnavailableError. */
  readonly #db: Queryable;

  constructor(url: string, options: PostgresStorageOptions = {}) {
    const t = options.timeoutMs;
    this.#audit = options.audit;
    this.#url = url;
    this.#timeoutMs = t;
    // Text columns are decoded as they are parsed; parameters are encoded by #db and encoding() (text-codec.ts).
    this.#pool = new pg.Pool({ ...poolConfig(url, options.maxConnections ?? 10, t), types: DECODING_TYPES });
    const onError = options.onError ?? (() => {});
    this.#pool.on('error', onError);
    // A checked-out client (in a transaction) has no error listener of the pool's: without one, a connection that
    // breaks between two statements would emit an unhandled 'error' and end the process. The statement in flight, or
    // the next one, fails anyway.
    this.#pool.on('connect', (client) => client.on('error', swallow));
    const pool = this.#pool;
    this.#db = {
      async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
        try {
          return await pool.query<R>(text, encodeValues(values));
        } catch (err) {
          throw translatePgError(err);
        }
      },
    };
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (err) {
      throw translatePgError(err);
    }
  }

  async migrate(): Promise<void> {
    const c = await this.#connect();
    let failed: Error | undefined;
    try {
      await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)');
      const applied = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const known = Math.max(0, ...POSTGRES_MIGRATIONS.map((m) => m.version));
      const newest = Math.max(0, ...applied);
      if (newest > known) {
        throw new Error(`the database schema (version ${newest}) is newer than this Trent knows (version ${known}): upgrade Trent`);
      }
      // In version order; versions need not be contiguous (each is applied once, whichever are missing).
      for (const m of [...POSTGRES_MIGRATIONS].sort((a, b) => a.version - b.version)) {
        if (applied.has(m.version)) continue;
        await c.query('BEGIN');
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
        await c.query('COMMIT');
      }
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    } catch (err) {
      failed = err as Error;
      throw translatePgError(err);
    } finally {
      // On failure the connection is destroyed, not reused: the server then rolls back an open migration and drops
      // the advisory lock with the session.
      c.release(failed);
    }
  }

  async close(): Promise<void> {
    await this.#appender?.close();
    await this.#pool.end();
  }

  /**
   * Runs `fn` in one READ COMMITTED transaction; a serialization failure or deadlock (neither expected on PostgreSQL,
   * where limits are kept by write locks, but possible on distributed databases) rolls back and runs it again. When a
   * request is under way, its audit event is appended in the same transaction if the write changed something
   * (`changed`): the change and its event commit together. Locks are taken in one order: a write lock (limits) first,
   * then rows, the audit chain head last, so transactions never deadlock on them.
   */
  async #tx<T>(what: string, fn: (c: Queryable) => Promise<T>, changed: (result: T) => boolean = () => true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = encoding(await this.#connect());
      let broken: Error | undefined;
      try {
        await c.query('BEGIN');
        const result = await fn(c);
        const event = this.#audit?.pending();
        const appended = event !== undefined && changed(result);
        if (appended) await appendChain(c, [event, ...(this.#audit!.companions?.() ?? [])]);
        await c.query('COMMIT');
        if (appended) this.#audit!.committed(event);
        return result;
      } catch (err) {
        if (unavailableReason(err)) {
          // No ROLLBACK on a broken or stalled connection: it is destroyed, and the server rolls back with the session.
          broken = err as Error;
          throw translatePgError(err);
        }
        await c.query('ROLLBACK').catch((e: Error) => (broken = e));
        if (!isRetryable(err)) throw err;
        if (attempt >= MAX_TX_ATTEMPTS) throw new StorageConflictError(what);
      } finally {
        c.release(broken);
      }
      // Jittered backoff, so that writers that collided do not collide again in step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));
    }
  }

  /** A one-statement write: in a transaction only when a request's audit event must commit with it. */
  async #write<T>(what: string, fn: (c: Queryable) => Promise<T>, changed?: (result: T) => boolean): Promise<T> {
    if (this.#audit?.pending() === undefined) return fn(this.#db);
    return this.#tx(what, fn, changed);
  }

  async appendAuditEvents(events: readonly AuditEventInput[]): Promise<AuditEventRecord[]> {
    if (events.length === 0) return [];
    // Not through #tx: a batch never carries a request's pending event.
    const c = await this.#connect();
    try {
      return await appendInTransaction(c, events, (err) => unavailableReason(err) !== undefined);
    } catch (err) {
      throw unavailableReason(err) ? translatePgError(err) : err;
    }
  }

  /**
   * Through an append worker with a connection of its own (storage/audit-appender.ts): building the API calls' events
   * and the inserts' encoding run off the thread that answers requests.
   */
  async appendAuditBatch(batch: string, lines: boolean): Promise<{ count: number; lines?: string | undefined }> {
    this.#appender ??= new AuditAppender(new URL('./audit-append-worker.js', import.meta.url), { url: this.#url, timeoutMs: this.#timeoutMs });
    return this.#appender.appendBatch(batch, lines);
  }

  async queryAuditEvents(q: AuditQuery): Promise<AuditEventRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.account !== undefined) {
      const a = p(q.account);
      where.push(`(account = ${a} OR resource_account = ${a})`);
    }
    if (q.eventName !== undefined) where.push(`event_name = ${p(q.eventName)}`);
    if (q.eventId !== undefined) where.push(`event_id = ${p(q.eventId)}`);
    if (q.keyArn !== undefined) where.push(`key_arn = ${p(q.keyArn)}`);
    if (q.keyId !== undefined) where.push(`key_arn LIKE '%:key/' || ${p(q.keyId.replace(/[%_\\]/g, ''))}`);
    if (q.principal !== undefined) where.push(`principal = ${p(q.principal)}`);
    if (q.username !== undefined) where.push(`username = ${p(q.username)}`);
    if (q.readOnly !== undefined) where.push(`read_only = ${p(q.readOnly)}`);
    if (q.startTime !== undefined) where.push(`event_time >= ${p(q.startTime)}`);
    if (q.endTime !== undefined) where.push(`event_time <= ${p(q.endTime)}`);
    if (q.beforeSeq !== undefined) where.push(`seq < ${p(q.beforeSeq)}`);
    const sql = `SELECT ${AUDIT_COLUMNS} FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${p(q.limit)}`;
    return (await this.#db.query<AuditRow>(sql, params)).rows.map(toAuditEvent);
  }

  async auditEventsAfter(afterSeq: number, limit: number): Promise<AuditEventRecord[]> {
    const r = await this.#db.query<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limit]);
    return r.rows.map(toAuditEvent);
  }

  async auditChainHead(): Promise<{ seq: number; hash: string; trackingStart: number }> {
    const r = await this.#db.query<{ seq: string; hash: string; tracking_start: string }>('SELECT seq, hash, tracking_start FROM audit_chain_head WHERE id = 1');
    const row = r.rows[0]!;
    return { seq: Number(row.seq), hash: row.hash, trackingStart: Number(row.tracking_start) };
  }

  async lastKeyUsage(keyArn: string): Promise<AuditEventRecord | undefined> {
    const r = await this.#db.query<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE key_arn = $1 AND usage IS NOT NULL ORDER BY seq DESC LIMIT 1`,
      [keyArn],
    );
    return r.rows[0] && toAuditEvent(r.rows[0]);
  }

  async auditAnchor(): Promise<AuditAnchor | undefined> {
    const v = await this.getSetting(AUDIT_ANCHOR_SETTING);
    return v === undefined ? undefined : decodeAnchor(v);
  }

  /** One transaction that locks the chain head first: appends from every node wait for it. */
  async pruneAuditEvents(from: AuditAnchor | undefined, through: AuditAnchor, trackingStart: number, event: AuditEventInput): Promise<{ deleted: number; record: AuditEventRecord }> {
    return this.#tx('the audit trail', (c) => pruneChain(c, from, through, trackingStart, event), () => false);
  }

  async insertKey(key: KeyRecord, materials: readonly MaterialRecord[], tags: readonly TagRecord[]): Promise<void> {
    try {
      await this.#tx(`key ${key.arn}`, async (c) => {
        await c.query(INSERT_KEY, keyValues(key));
        for (const m of materials) await c.query(INSERT_MATERIAL, materialValues(m));
        for (const t of tags) await c.query('INSERT INTO tags (key_arn, tag_key, tag_value) VALUES ($1, $2, $3)', [key.arn, t.key, t.value]);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`key ${key.arn}`);
      throw err;
    }
  }

  async getKey(scope: Scope, keyId: string): Promise<KeyRecord | undefined> {
    const r = await this.#db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM keys WHERE account = $1 AND region = $2 AND key_id = $3`, [
      scope.account, scope.region, keyId,
    ]);
    return r.rows[0] && toKey(r.rows[0]);
  }

  async updateKey(key: KeyRecord): Promise<KeyRecord> {
    await this.#write(`key ${key.arn}`, async (c) => {
      if ((await c.query(UPDATE_KEY, updateValues(key))).rowCount !== 1) throw new StorageConflictError(`key ${key.arn}`);
    });
    return { ...key, version: key.version + 1 };
  }

  async getRelatedKeys(account: string, keyId: string): Promise<KeyRecord[]> {
    const r = await this.#db.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM keys WHERE account = $1 AND key_id = $2 AND primary_region IS NOT NULL ORDER BY creation_date, region`,
      [account, keyId],
    );
    return r.rows.map(toKey);
  }

  async updateKeys(keys: readonly KeyRecord[], materials: readonly MaterialRecord[]): Promise<KeyRecord[]> {
    // Rows are locked in the order given; callers pass related keys in one order (getRelatedKeys'), so no deadlock.
    await this.#tx(`keys ${keys.map((k) => k.arn).join(', ')}`, async (c) => {
      for (const key of keys) if ((await c.query(UPDATE_KEY, updateValues(key))).rowCount !== 1) throw new StorageConflictError(`key ${key.arn}`);
      for (const m of materials) await c.query(UPSERT_MATERIAL, materialValues(m));
    });
    return keys.map((k) => ({ ...k, version: k.version + 1 }));
  }

  async listKeysInTransition(now: Date, limit: number): Promise<KeyRecord[]> {
    const r = await this.#db.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM keys WHERE transition_date IS NOT NULL AND transition_date <= $1 ORDER BY transition_date, arn LIMIT $2`,
      [now.getTime(), limit],
    );
    return r.rows.map(toKey);
  }

  async rotateKey(key: KeyRecord, material: MaterialRecord): Promise<KeyRecord> {
    try {
      await this.#tx(`key ${key.arn}`, async (c) => {
        // The compare-and-set first: a lost race throws before the material is inserted (and the throw rolls back).
        if ((await c.query(UPDATE_KEY, updateValues(key))).rowCount !== 1) throw new StorageConflictError(`key ${key.arn}`);
        await c.query(INSERT_MATERIAL, materialValues(material));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`material ${material.materialId} of key ${key.arn}`);
      throw err;
    }
    return { ...key, version: key.version + 1 };
  }

  async putMaterial(key: KeyRecord, material: MaterialRecord): Promise<KeyRecord> {
    await this.#tx(`key ${key.arn}`, async (c) => {
      if ((await c.query(UPDATE_KEY, updateValues(key))).rowCount !== 1) throw new StorageConflictError(`key ${key.arn}`);
      await c.query(UPSERT_MATERIAL, materialValues(material));
    });
    return { ...key, version: key.version + 1 };
  }

  async eraseMaterials(key: KeyRecord, materialIds: readonly string[]): Promise<KeyRecord> {
    // The old row versions stay in the table's pages until VACUUM reclaims them (autovacuum): see docs/import.md.
    await this.#tx(`key ${key.arn}`, async (c) => {
      if ((await c.query(UPDATE_KEY, updateValues(key))).rowCount !== 1) throw new StorageConflictError(`key ${key.arn}`);
      await c.query('UPDATE key_materials SET wrapped = $3 WHERE key_arn = $1 AND material_id = ANY($2::text[])', [key.arn, [...materialIds], Buffer.alloc(0)]);
    });
    return { ...key, version: key.version + 1 };
  }

  async listMaterialsDueForExpiry(now: Date, limit: number): Promise<MaterialRecord[]> {
    const r = await this.#db.query<MaterialRow>(
      `SELECT ${MATERIAL_COLUMNS} FROM key_materials WHERE valid_to IS NOT NULL AND valid_to <= $1 AND length(wrapped) > 0 ORDER BY valid_to, key_arn LIMIT $2`,
      [now.getTime(), limit],
    );
    return r.rows.map(toMaterial);
  }

  async listKeysDueForRotation(now: Date, limit: number): Promise<KeyRecord[]> {
    const r = await this.#db.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM keys WHERE key_state = 'Enabled' AND next_rotation_date <= $1 ORDER BY next_rotation_date, arn LIMIT $2`,
      [now.getTime(), limit],
    );
    return r.rows.map(toKey);
  }

  async listKeys(scope: Scope, limit: number, after?: string): Promise<Page<KeyRecord>> {
    const r = await this.#db.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM keys WHERE account = $1 AND region = $2 AND key_id > $3 ORDER BY key_id LIMIT $4`,
      [scope.account, scope.region, after ?? '', limit + 1],
    );
    const items = r.rows.slice(0, limit).map(toKey);
    return { items, next: r.rows.length > limit ? items[items.length - 1]!.keyId : undefined };
  }

  async listKeysDueForDeletion(now: Date, limit: number): Promise<KeyRecord[]> {
    const r = await this.#db.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM keys WHERE key_state = 'PendingDeletion' AND deletion_date <= $1 ORDER BY deletion_date, arn LIMIT $2`,
      [now.getTime(), limit],
    );
    return r.rows.map(toKey);
  }

  async deleteKey(scope: Scope, keyId: string, version?: number): Promise<boolean> {
    return this.#tx(`key ${keyId}`, async (c) => {
      // The row lock makes a concurrent updateKey wait, then miss (conflict), or makes us see its new version.
      const r = await c.query<{ arn: string; version: string }>(
        'SELECT arn, version FROM keys WHERE account = $1 AND region = $2 AND key_id = $3 FOR UPDATE',
        [scope.account, scope.region, keyId],
      );
      const row = r.rows[0];
      if (!row || (version !== undefined && Number(row.version) !== version)) return false;
      // Its write locks first: this waits for the alias, tag and grant writes of the key that hold one (a lock row
      // made by a transaction not yet committed is not seen), and the deletes below then see what they wrote. No holder
      // of a write lock waits for a key row, so this order cannot deadlock.
      await c.query('DELETE FROM write_locks WHERE name = ANY($1::text[])', [[aliasesLock(scope, keyId), tagsLock(row.arn), grantsLock(row.arn)]]);
      await c.query('DELETE FROM key_materials WHERE key_arn = $1', [row.arn]);
      await c.query('DELETE FROM tags WHERE key_arn = $1', [row.arn]);
      await c.query('DELETE FROM grants WHERE key_arn = $1', [row.arn]);
      await c.query('DELETE FROM aliases WHERE account = $1 AND region = $2 AND target_key_id = $3', [scope.account, scope.region, keyId]);
      await c.query('DELETE FROM keys WHERE account = $1 AND region = $2 AND key_id = $3', [scope.account, scope.region, keyId]);
      return true;
    }, (deleted) => deleted);
  }

  async getMaterials(keyArn: string): Promise<MaterialRecord[]> {
    const r = await this.#db.query<MaterialRow>(
      `SELECT ${MATERIAL_COLUMNS} FROM key_materials WHERE key_arn = $1 ORDER BY created_at, material_id`,
      [keyArn],
    );
    return r.rows.map(toMaterial);
  }

  async insertAlias(alias: AliasRecord, maxPerTarget?: number): Promise<void> {
    const insert = (c: Queryable) =>
      c.query(
        'INSERT INTO aliases (account, region, alias_name, target_key_id, creation_date, last_updated_date) VALUES ($1, $2, $3, $4, $5, $6)',
        [alias.account, alias.region, alias.aliasName, alias.targetKeyId, alias.creationDate.getTime(), alias.lastUpdatedDate.getTime()],
      );
    try {
      if (maxPerTarget === undefined) {
        await this.#write(`alias ${alias.aliasName}`, insert);
        return;
      }
      // The target's write lock: two nodes counting and inserting at once queue, and the second counts the first's
      // alias. (The target key's row may not be in the store, so the lock is a row of its own.)
      await this.#tx(`aliases of key ${alias.targetKeyId}`, async (c) => {
        await c.query(TAKE_WRITE_LOCK, [aliasesLock(alias, alias.targetKeyId)]);
        if ((await aliasCount(c, alias, alias.targetKeyId)) >= maxPerTarget) throw new StorageLimitError(`aliases of key ${alias.targetKeyId}`);
        await insert(c);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`alias ${alias.aliasName}`);
      throw err;
    }
  }

  async getAlias(scope: Scope, aliasName: string): Promise<AliasRecord | undefined> {
    const r = await this.#db.query<AliasRow>('SELECT * FROM aliases WHERE account = $1 AND region = $2 AND alias_name = $3', [
      scope.account, scope.region, aliasName,
    ]);
    return r.rows[0] && toAlias(r.rows[0]);
  }

  async updateAlias(scope: Scope, aliasName: string, targetKeyId: string, at: Date, maxPerTarget?: number): Promise<boolean> {
    const move = async (c: Queryable) =>
      (await c.query('UPDATE aliases SET target_key_id = $4, last_updated_date = $5 WHERE account = $1 AND region = $2 AND alias_name = $3', [
        scope.account, scope.region, aliasName, targetKeyId, at.getTime(),
      ])).rowCount === 1;
    if (maxPerTarget === undefined) return this.#write(`alias ${aliasName}`, move, (moved) => moved);
    return this.#tx(`aliases of key ${targetKeyId}`, async (c) => {
      await c.query(TAKE_WRITE_LOCK, [aliasesLock(scope, targetKeyId)]);
      const r = await c.query<{ target_key_id: string }>('SELECT target_key_id FROM aliases WHERE account = $1 AND region = $2 AND alias_name = $3', [
        scope.account, scope.region, aliasName,
      ]);
      const current = r.rows[0]?.target_key_id;
      if (current === undefined) return false;
      if (current !== targetKeyId && (await aliasCount(c, scope, targetKeyId)) >= maxPerTarget) throw new StorageLimitError(`aliases of key ${targetKeyId}`);
      return move(c);
    }, (moved) => moved);
  }

  async deleteAlias(scope: Scope, aliasName: string): Promise<boolean> {
    return this.#write(
      `alias ${aliasName}`,
      async (c) => (await c.query('DELETE FROM aliases WHERE account = $1 AND region = $2 AND alias_name = $3', [scope.account, scope.region, aliasName])).rowCount === 1,
      (deleted) => deleted,
    );
  }

  async listAliases(scope: Scope, limit: number, after?: string, targetKeyId?: string): Promise<Page<AliasRecord>> {
    const r =
      targetKeyId === undefined
        ? await this.#db.query<AliasRow>(
            'SELECT * FROM aliases WHERE account = $1 AND region = $2 AND alias_name > $3 ORDER BY alias_name LIMIT $4',
            [scope.account, scope.region, after ?? '', limit + 1],
          )
        : await this.#db.query<AliasRow>(
            'SELECT * FROM aliases WHERE account = $1 AND region = $2 AND target_key_id = $3 AND alias_name > $4 ORDER BY alias_name LIMIT $5',
            [scope.account, scope.region, targetKeyId, after ?? '', limit + 1],
          );
    const items = r.rows.slice(0, limit).map(toAlias);
    return { items, next: r.rows.length > limit ? items[items.length - 1]!.aliasName : undefined };
  }

  async countAliases(scope: Scope, targetKeyId: string): Promise<number> {
    return aliasCount(this.#db, scope, targetKeyId);
  }

  async getTags(keyArn: string): Promise<TagRecord[]> {
    const r = await this.#db.query<{ tag_key: string; tag_value: string }>('SELECT tag_key, tag_value FROM tags WHERE key_arn = $1 ORDER BY tag_key', [keyArn]);
    return r.rows.map((t) => ({ key: t.tag_key, value: t.tag_value }));
  }

  async putTags(keyArn: string, tags: readonly TagRecord[], maxTags?: number): Promise<void> {
    await this.#tx(`tags of key ${keyArn}`, async (c) => {
      if (maxTags !== undefined) await c.query(TAKE_WRITE_LOCK, [tagsLock(keyArn)]);
      for (const t of tags) {
        await c.query(
          'INSERT INTO tags (key_arn, tag_key, tag_value) VALUES ($1, $2, $3) ON CONFLICT (key_arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value',
          [keyArn, t.key, t.value],
        );
      }
      // Inside the transaction: a throw rolls every tag of this call back. The write lock keeps concurrent callers from
      // each seeing room for their own tags only.
      if (maxTags !== undefined) {
        const n = Number((await c.query<{ n: string }>('SELECT COUNT(*) AS n FROM tags WHERE key_arn = $1', [keyArn])).rows[0]!.n);
        if (n > maxTags) throw new StorageLimitError(`tags of key ${keyArn}`);
      }
    });
  }

  async removeTags(keyArn: string, tagKeys: readonly string[]): Promise<void> {
    await this.#write(`tags of key ${keyArn}`, (c) => c.query('DELETE FROM tags WHERE key_arn = $1 AND tag_key = ANY($2::text[])', [keyArn, [...tagKeys]]));
  }

  async insertGrant(grant: GrantRecord, limits?: { readonly perKey: number; readonly perGrantee: number }): Promise<void> {
    try {
      if (!limits) {
        await this.#write(`grant ${grant.grantId}`, (c) => c.query(INSERT_GRANT, grantValues(grant)));
        return;
      }
      // The key's grants write lock, as insertAlias: two nodes counting and inserting at once cannot both pass the quota.
      await this.#tx(`grants of key ${grant.keyArn}`, async (c) => {
        await c.query(TAKE_WRITE_LOCK, [grantsLock(grant.keyArn)]);
        const count = async (sql: string, args: unknown[]) => Number((await c.query<{ n: string }>(sql, args)).rows[0]!.n);
        if ((await count('SELECT COUNT(*) AS n FROM grants WHERE key_arn = $1', [grant.keyArn])) >= limits.perKey) {
          throw new StorageLimitError(`grants of key ${grant.keyArn}`);
        }
        if ((await count('SELECT COUNT(*) AS n FROM grants WHERE key_arn = $1 AND grantee_principal = $2', [grant.keyArn, grant.granteePrincipal])) >= limits.perGrantee) {
          throw new StorageLimitError(`grants for ${grant.granteePrincipal} on key ${grant.keyArn}`);
        }
        await c.query(INSERT_GRANT, grantValues(grant));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`grant ${grant.grantId}`);
      throw err;
    }
  }

  async getGrant(keyArn: string, grantId: string): Promise<GrantRecord | undefined> {
    const r = await this.#db.query<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM grants WHERE key_arn = $1 AND grant_id = $2`, [keyArn, grantId]);
    return r.rows[0] && toGrant(r.rows[0]);
  }

  async getGrants(keyArn: string): Promise<GrantRecord[]> {
    const r = await this.#db.query<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM grants WHERE key_arn = $1 ORDER BY grant_id`, [keyArn]);
    return r.rows.map(toGrant);
  }

  async listGrants(keyArn: string, limit: number, after?: string, filter?: { readonly grantId?: string; readonly granteePrincipal?: string }): Promise<Page<GrantRecord>> {
    const r = await this.#db.query<GrantRow>(
      `SELECT ${GRANT_COLUMNS} FROM grants WHERE key_arn = $1 AND grant_id > $2 AND ($3::text IS NULL OR grant_id = $3)
        AND ($4::text IS NULL OR grantee_principal = $4) ORDER BY grant_id LIMIT $5`,
      [keyArn, after ?? '', filter?.grantId ?? null, filter?.granteePrincipal ?? null, limit + 1],
    );
    const items = r.rows.slice(0, limit).map(toGrant);
    return { items, next: r.rows.length > limit ? items[items.length - 1]!.grantId : undefined };
  }

  async listRetirableGrants(region: string, retiringPrincipal: string, limit: number, after?: string): Promise<Page<GrantRecord>> {
    const [arn, id] = splitRetirableSortKey(after);
    const r = await this.#db.query<GrantRow>(
      `SELECT ${GRANT_COLUMNS} FROM grants WHERE retiring_principal = $1 AND region = $2 AND (key_arn, grant_id) > ($3, $4)
        ORDER BY key_arn, grant_id LIMIT $5`,
      [retiringPrincipal, region, arn, id, limit + 1],
    );
    const items = r.rows.slice(0, limit).map(toGrant);
    return { items, next: r.rows.length > limit ? retirableSortKey(items[items.length - 1]!) : undefined };
  }

  async deleteGrant(keyArn: string, grantId: string): Promise<boolean> {
    return this.#write(`grant ${grantId}`, async (c) => (await c.query('DELETE FROM grants WHERE key_arn = $1 AND grant_id = $2', [keyArn, grantId])).rowCount === 1, (deleted) => deleted);
  }

  async getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const r = await this.#db.query<AccessKeyRow>(
      'SELECT access_key_id, account, principal_arn, secret_wrapped, created_at FROM access_keys WHERE access_key_id = $1',
      [accessKeyId],
    );
    return r.rows[0] && toAccessKey(r.rows[0]);
  }

  async insertAccessKey(record: AccessKeyRecord): Promise<void> {
    try {
      await this.#tx(`access key ${record.accessKeyId}`, async (c) => {
        await c.query('INSERT INTO access_keys (access_key_id, account, principal_arn, secret_wrapped, created_at) VALUES ($1, $2, $3, $4, $5)', [
          record.accessKeyId, record.account, record.principalArn, record.secretWrapped, record.createdAt.getTime(),
        ]);
        await c.query(BUMP_IAM_GENERATION);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`access key ${record.accessKeyId}`);
      throw err;
    }
  }

  async listAccessKeys(filter: { account?: string; principalArn?: string } = {}): Promise<AccessKeyRecord[]> {
    const r = await this.#db.query<AccessKeyRow>(
      `SELECT access_key_id, account, principal_arn, secret_wrapped, created_at FROM access_keys
        WHERE ($1::text IS NULL OR account = $1) AND ($2::text IS NULL OR principal_arn = $2) ORDER BY access_key_id COLLATE "C"`,
      [filter.account ?? null, filter.principalArn ?? null],
    );
    return r.rows.map(toAccessKey);
  }

  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return this.#tx(`access key ${accessKeyId}`, async (c) => {
      const r = await c.query('DELETE FROM access_keys WHERE access_key_id = $1', [accessKeyId]);
      await c.query(BUMP_IAM_GENERATION);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async insertPrincipal(principal: PrincipalRecord): Promise<void> {
    try {
      await this.#tx(`principal ${principal.arn}`, async (c) => {
        await c.query(INSERT_PRINCIPAL, principalValues(principal));
        await c.query(BUMP_IAM_GENERATION);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`${principal.kind} ${principal.name} of account ${principal.account}`);
      throw err;
    }
  }

  async getPrincipal(account: string, kind: PrincipalRecord['kind'], name: string): Promise<PrincipalRecord | undefined> {
    const r = await this.#db.query<PrincipalRow>(`SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE account = $1 AND kind = $2 AND name_key = $3`, [
      account, kind, name.toLowerCase(),
    ]);
    return r.rows[0] && toPrincipal(r.rows[0]);
  }

  async getPrincipalByArn(arn: string): Promise<PrincipalRecord | undefined> {
    const r = await this.#db.query<PrincipalRow>(`SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE arn = $1`, [arn]);
    return r.rows[0] && toPrincipal(r.rows[0]);
  }

  async listPrincipals(account?: string): Promise<PrincipalRecord[]> {
    const r = await this.#db.query<PrincipalRow>(
      `SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE ($1::text IS NULL OR account = $1) ORDER BY account COLLATE "C", kind COLLATE "C", name_key`,
      [account ?? null],
    );
    return r.rows.map(toPrincipal);
  }

  async deletePrincipal(arn: string): Promise<boolean> {
    return this.#tx(`principal ${arn}`, async (c) => {
      const r = await c.query('DELETE FROM principals WHERE arn = $1', [arn]);
      await c.query('DELETE FROM identity_policies WHERE principal_arn = $1', [arn]);
      await c.query('DELETE FROM access_keys WHERE principal_arn = $1', [arn]);
      await c.query(BUMP_IAM_GENERATION);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async putIdentityPolicy(policy: IdentityPolicyRecord): Promise<void> {
    await this.#tx(`policy ${policy.policyName} of ${policy.principalArn}`, async (c) => {
      await c.query(
        `INSERT INTO identity_policies (principal_arn, policy_name, document) VALUES ($1, $2, $3)
          ON CONFLICT (principal_arn, policy_name) DO UPDATE SET document = excluded.document`,
        [policy.principalArn, policy.policyName, policy.document],
      );
      await c.query(BUMP_IAM_GENERATION);
    });
  }

  async getIdentityPolicies(principalArn: string): Promise<IdentityPolicyRecord[]> {
    const r = await this.#db.query<IdentityPolicyRow>(
      'SELECT principal_arn, policy_name, document FROM identity_policies WHERE principal_arn = $1 ORDER BY policy_name',
      [principalArn],
    );
    return r.rows.map(toIdentityPolicy);
  }

  async deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean> {
    return this.#tx(`policy ${policyName} of ${principalArn}`, async (c) => {
      const r = await c.query('DELETE FROM identity_policies WHERE principal_arn = $1 AND policy_name = $2', [principalArn, policyName]);
      await c.query(BUMP_IAM_GENERATION);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async getSetting(name: string): Promise<string | undefined> {
    const r = await this.#db.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [name]);
    return r.rows[0]?.value;
  }

  async putSetting(name: string, value: string): Promise<void> {
    await this.#db.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [name, value]);
  }

  async putSettingIfAbsent(name: string, value: string): Promise<string> {
    await this.#db.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, value]);
    return (await this.getSetting(name))!;
  }

  async insertCustomKeyStore(store: CustomKeyStoreRecord, maxPerScope: number): Promise<void> {
    try {
      // The scope's write lock: two nodes counting and inserting at once cannot both pass the limit.
      await this.#tx(`custom key stores of account ${store.account}`, async (c) => {
        await c.query(TAKE_WRITE_LOCK, [customKeyStoresLock(store)]);
        const n = await c.query<{ n: string }>('SELECT COUNT(*) AS n FROM custom_key_stores WHERE account = $1 AND region = $2', [store.account, store.region]);
        if (Number(n.rows[0]!.n) >= maxPerScope) throw new StorageLimitError(`custom key stores of account ${store.account}`);
        await c.query(`INSERT INTO custom_key_stores (${CKS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, customKeyStoreValues(store));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`custom key store ${store.name}`);
      throw err;
    }
  }

  async getCustomKeyStore(scope: Scope, customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined> {
    const r = await this.#db.query<CustomKeyStoreRow>(
      `SELECT ${CKS_COLUMNS} FROM custom_key_stores WHERE account = $1 AND region = $2 AND custom_key_store_id = $3`,
      [scope.account, scope.region, customKeyStoreId],
    );
    return r.rows[0] && toCustomKeyStore(r.rows[0]);
  }

  async listConnectedCustomKeyStores(limit: number): Promise<CustomKeyStoreRecord[]> {
    const r = await this.#db.query<CustomKeyStoreRow>(
      `SELECT ${CKS_COLUMNS} FROM custom_key_stores WHERE connection_state = 'CONNECTED' ORDER BY account, region, custom_key_store_id LIMIT $1`,
      [limit],
    );
    return r.rows.map(toCustomKeyStore);
  }

  async listCustomKeyStores(scope: Scope, limit: number, after?: string): Promise<Page<CustomKeyStoreRecord>> {
    const r = await this.#db.query<CustomKeyStoreRow>(
      `SELECT ${CKS_COLUMNS} FROM custom_key_stores WHERE account = $1 AND region = $2 AND custom_key_store_id > $3 ORDER BY custom_key_store_id LIMIT $4`,
      [scope.account, scope.region, after ?? '', limit + 1],
    );
    const items = r.rows.slice(0, limit).map(toCustomKeyStore);
    return { items, next: r.rows.length > limit ? items[items.length - 1]!.customKeyStoreId : undefined };
  }

  async updateCustomKeyStore(store: CustomKeyStoreRecord): Promise<CustomKeyStoreRecord> {
    let count: number | null;
    try {
      const r = await this.#write(`custom key store ${store.customKeyStoreId}`, (c) => c.query(
        `UPDATE custom_key_stores SET name = $4, cloud_hsm_cluster_id = $6, trust_anchor_certificate = $7, password_wrapped = $8,
           connection_state = $9, connection_error_code = $10, xks_config = $13, version = version + 1
         WHERE account = $1 AND region = $2 AND custom_key_store_id = $3 AND version = $12 AND store_type = $5 AND creation_date = $11`,
        customKeyStoreValues(store),
      ), (res) => res.rowCount === 1);
      count = r.rowCount;
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`custom key store ${store.name}`);
      throw translatePgError(err);
    }
    if (count !== 1) throw new StorageConflictError(`custom key store ${store.customKeyStoreId}`);
    return { ...store, version: store.version + 1 };
  }

  async deleteCustomKeyStore(scope: Scope, customKeyStoreId: string, version: number): Promise<'deleted' | 'has-keys' | 'not-found'> {
    return this.#tx(`custom key store ${customKeyStoreId}`, async (c) => {
      // The row lock orders concurrent updates of the store; keys are only made in a CONNECTED store, and the caller
      // deletes a DISCONNECTED one at the version it checked, so a key cannot slip in between.
      const r = await c.query<{ version: string }>(
        'SELECT version FROM custom_key_stores WHERE account = $1 AND region = $2 AND custom_key_store_id = $3 FOR UPDATE',
        [scope.account, scope.region, customKeyStoreId],
      );
      if (r.rows.length === 0) return 'not-found' as const;
      if (Number(r.rows[0]!.version) !== version) throw new StorageConflictError(`custom key store ${customKeyStoreId}`);
      const used = await c.query('SELECT 1 FROM keys WHERE account = $1 AND region = $2 AND custom_key_store_id = $3 LIMIT 1', [scope.account, scope.region, customKeyStoreId]);
      if (used.rows.length > 0) return 'has-keys' as const;
      await c.query('DELETE FROM custom_key_stores WHERE account = $1 AND region = $2 AND custom_key_store_id = $3', [scope.account, scope.region, customKeyStoreId]);
      return 'deleted' as const;
    }, (r) => r === 'deleted');
  }

  async wipe(): Promise<void> {
    await this.#tx('the store', async (c) => {
      for (const table of ['key_materials', 'tags', 'grants', 'aliases', 'keys', 'custom_key_stores', 'write_locks']) await c.query(`DELETE FROM ${table}`);
    });
  }

  /**
   * One transaction that first locks the tables holding wrapped secrets, and the settings, against writers
   * (EXCLUSIVE: reads go on), and refuses while a node holds an unexpired scheduler lease (a server runs).
   */
  async rewrapSecrets(
    rewrap: (secret: WrappedSecretRecord) => Buffer, settings: Readonly<Record<string, string | null>>, event?: (counts: RewrapCounts) => AuditEventInput,
  ): Promise<RewrapCounts> {
    return this.#tx('root key migration', async (c) => {
      const counts: RewrapCounts = { material: 0, accessKey: 0, customKeyStorePassword: 0, xksProxySecret: 0 };
      await c.query('LOCK TABLE key_materials, access_keys, custom_key_stores, settings IN EXCLUSIVE MODE');
      const held = await c.query<{ job: string }>('SELECT job FROM scheduler_leases WHERE expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint');
      if (held.rows.length > 0) throw new StorageInUseError(`a node holds the scheduler lease of ${held.rows.map((r) => r.job).join(', ')}`);
      const materials = await c.query<{ key_arn: string; material_id: string; wrapped: Buffer }>(
        'SELECT key_arn, material_id, wrapped FROM key_materials WHERE length(wrapped) > 0 ORDER BY key_arn, material_id',
      );
      for (const m of materials.rows) {
        const wrapped = rewrap({ kind: 'material', keyArn: m.key_arn, materialId: m.material_id, wrapped: m.wrapped });
        await c.query('UPDATE key_materials SET wrapped = $1 WHERE key_arn = $2 AND material_id = $3', [wrapped, m.key_arn, m.material_id]);
        counts.material++;
      }
      const accessKeys = await c.query<{ access_key_id: string; secret_wrapped: Buffer }>('SELECT access_key_id, secret_wrapped FROM access_keys ORDER BY access_key_id');
      for (const a of accessKeys.rows) {
        const wrapped = rewrap({ kind: 'accessKey', accessKeyId: a.access_key_id, wrapped: a.secret_wrapped });
        await c.query('UPDATE access_keys SET secret_wrapped = $1 WHERE access_key_id = $2', [wrapped, a.access_key_id]);
        counts.accessKey++;
      }
      const stores = await c.query<{ account: string; region: string; custom_key_store_id: string; password_wrapped: Buffer }>(
        'SELECT account, region, custom_key_store_id, password_wrapped FROM custom_key_stores WHERE password_wrapped IS NOT NULL ORDER BY account, region, custom_key_store_id',
      );
      for (const s of stores.rows) {
        const wrapped = rewrap({ kind: 'customKeyStorePassword', account: s.account, region: s.region, customKeyStoreId: s.custom_key_store_id, wrapped: s.password_wrapped });
        await c.query('UPDATE custom_key_stores SET password_wrapped = $1 WHERE account = $2 AND region = $3 AND custom_key_store_id = $4', [wrapped, s.account, s.region, s.custom_key_store_id]);
        counts.customKeyStorePassword++;
      }
      const xksStores = await c.query<{ account: string; region: string; custom_key_store_id: string; xks_config: string }>(
        'SELECT account, region, custom_key_store_id, xks_config FROM custom_key_stores WHERE xks_config IS NOT NULL ORDER BY account, region, custom_key_store_id',
      );
      for (const s of xksStores.rows) {
        const xks = decodeXksConfig(s.xks_config)!;
        const wrapped = rewrap({ kind: 'xksProxySecret', account: s.account, region: s.region, customKeyStoreId: s.custom_key_store_id, wrapped: xks.secretWrapped });
        await c.query('UPDATE custom_key_stores SET xks_config = $1 WHERE account = $2 AND region = $3 AND custom_key_store_id = $4', [encodeXksConfig({ ...xks, secretWrapped: wrapped }), s.account, s.region, s.custom_key_store_id]);
        counts.xksProxySecret++;
      }
      for (const [name, value] of Object.entries(settings)) {
        if (value === null) await c.query('DELETE FROM settings WHERE name = $1', [name]);
        else await c.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [name, value]);
      }
      if (event) await appendChain(c, [event(counts)]);
      return counts;
    }, () => false);
  }

  /**
   * On one pooled connection, in one SERIALIZABLE READ ONLY DEFERRABLE transaction: PostgreSQL waits for a snapshot
   * that no concurrent serializable writer can still invalidate, then the read never blocks writers, is never
   * aborted, and sees the store as of one instant. Rows are fetched through cursors, a batch at a time.
   */
  async *exportSnapshot(): AsyncIterable<SnapshotRecord> {
    const c = encoding(await this.#connect());
    let finished = false;
    try {
      await c.query('BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE');
      for (const { table, order } of SNAPSHOT_TABLES) {
        await c.query(`DECLARE snapshot_rows NO SCROLL CURSOR FOR SELECT * FROM ${table} ORDER BY ${order}`);
        for (;;) {
          const batch = await c.query(`FETCH ${SNAPSHOT_FETCH} FROM snapshot_rows`);
          for (const row of batch.rows) yield snapshotRecord(table, row);
          if (batch.rows.length < SNAPSHOT_FETCH) break;
        }
        await c.query('CLOSE snapshot_rows');
      }
      await c.query('COMMIT');
      finished = true;
    } finally {
      // After an error, or a consumer that stopped early, the transaction is still open: the connection is destroyed
      // (the server then ends the transaction), not returned to the pool.
      c.release(finished ? undefined : new Error('snapshot not finished'));
    }
  }

  /**
   * In one transaction that first locks every table against writers (EXCLUSIVE: reads go on), checks that all are
   * empty, then inserts; an error anywhere rolls everything back.
   */
  async importSnapshot(records: AsyncIterable<SnapshotRecord> | Iterable<SnapshotRecord>): Promise<SnapshotCounts> {
    const c = encoding(await this.#connect());
    let broken: Error | undefined;
    const counts = emptySnapshotCounts();
    try {
      await c.query('BEGIN');
      await c.query(`LOCK TABLE ${SNAPSHOT_TABLES.map((t) => t.table).join(', ')} IN EXCLUSIVE MODE`);
      for (const { table } of SNAPSHOT_TABLES) {
        if ((await c.query(`SELECT 1 FROM ${table} LIMIT 1`)).rows.length > 0) throw new StorageNotEmptyError(`table ${table} has rows`);
      }
      for await (const r of records) {
        switch (r.type) {
          case 'setting':
            await c.query({ name: 'snapshot_setting', text: 'INSERT INTO settings (name, value) VALUES ($1, $2)', values: [r.name, r.value] });
            break;
          case 'accessKey': {
            const a = r.accessKey;
            await c.query({
              name: 'snapshot_access_key',
              text: 'INSERT INTO access_keys (access_key_id, account, principal_arn, secret_wrapped, created_at) VALUES ($1, $2, $3, $4, $5)',
              values: [a.accessKeyId, a.account, a.principalArn, a.secretWrapped, a.createdAt.getTime()],
            });
            break;
          }
          case 'principal':
            await c.query({ name: 'snapshot_principal', text: INSERT_PRINCIPAL, values: principalValues(r.principal) });
            break;
          case 'identityPolicy':
            await c.query({
              name: 'snapshot_identity_policy',
              text: 'INSERT INTO identity_policies (principal_arn, policy_name, document) VALUES ($1, $2, $3)',
              values: [r.policy.principalArn, r.policy.policyName, r.policy.document],
            });
            break;
          case 'customKeyStore':
            await c.query({
              name: 'snapshot_custom_key_store',
              text: `INSERT INTO custom_key_stores (${CKS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
              values: customKeyStoreValues(r.customKeyStore),
            });
            break;
          case 'key':
            await c.query({ name: 'snapshot_key', text: INSERT_KEY, values: keyValues(r.key) });
            break;
          case 'material':
            await c.query({ name: 'snapshot_material', text: INSERT_MATERIAL, values: materialValues(r.material) });
            break;
          case 'alias': {
            const a = r.alias;
            await c.query({
              name: 'snapshot_alias',
              text: 'INSERT INTO aliases (account, region, alias_name, target_key_id, creation_date, last_updated_date) VALUES ($1, $2, $3, $4, $5, $6)',
              values: [a.account, a.region, a.aliasName, a.targetKeyId, a.creationDate.getTime(), a.lastUpdatedDate.getTime()],
            });
            break;
          }
          case 'tag':
            await c.query({ name: 'snapshot_tag', text: 'INSERT INTO tags (key_arn, tag_key, tag_value) VALUES ($1, $2, $3)', values: [r.keyArn, r.tag.key, r.tag.value] });
            break;
          case 'grant':
            await c.query({ name: 'snapshot_grant', text: INSERT_GRANT, values: grantValues(r.grant) });
            break;
          case 'auditEvent':
            // As stored, hashes included: the restored chain verifies, and continues from its last event.
            await c.query({
              name: 'snapshot_audit_event',
              text: `INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
              values: auditValues(r.event),
            });
            break;
          default: {
            const unknown: never = r;
            throw new Error(`unknown snapshot record type ${String((unknown as { type: unknown }).type)}`);
          }
        }
        counts[r.type]++;
      }
      if (counts.auditEvent > 0) {
        await c.query(`UPDATE audit_chain_head h SET seq = e.seq, hash = e.hash, tracking_start = LEAST(h.tracking_start, (SELECT min(event_time) FROM audit_events))
          FROM (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) e WHERE h.id = 1`);
      }
      await c.query('COMMIT');
      return counts;
    } catch (err) {
      await c.query('ROLLBACK').catch((e: Error) => (broken = e));
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`a record of the snapshot (${(err as Error).message})`);
      throw translatePgError(err);
    } finally {
      c.release(broken);
    }
  }
}

function snapshotRecord(table: (typeof SNAPSHOT_TABLES)[number]['table'], row: Record<string, unknown>): SnapshotRecord {
  switch (table) {
    case 'settings':
      return { type: 'setting', name: row.name as string, value: row.value as string };
    case 'access_keys':
      return { type: 'accessKey', accessKey: toAccessKey(row as unknown as AccessKeyRow) };
    case 'principals':
      return { type: 'principal', principal: toPrincipal(row as unknown as PrincipalRow) };
    case 'identity_policies':
      return { type: 'identityPolicy', policy: toIdentityPolicy(row as unknown as IdentityPolicyRow) };
    case 'custom_key_stores':
      return { type: 'customKeyStore', customKeyStore: toCustomKeyStore(row as unknown as CustomKeyStoreRow) };
    case 'keys':
      return { type: 'key', key: toKey(row as unknown as KeyRow) };
    case 'key_materials':
      return { type: 'material', material: toMaterial(row as unknown as MaterialRow) };
    case 'aliases':
      return { type: 'alias', alias: toAlias(row as unknown as AliasRow) };
    case 'tags':
      return { type: 'tag', keyArn: row.key_arn as string, tag: { key: row.tag_key as string, value: row.tag_value as string } };
    case 'grants':
      return { type: 'grant', grant: toGrant(row as unknown as GrantRow) };
    case 'audit_events':
      return { type: 'auditEvent', event: toAuditEvent(row as unknown as AuditRow) };
    default:
      return table satisfies never;
  }
}

async function aliasCount(c: Queryable, scope: Scope, targetKeyId: string): Promise<number> {
  const r = await c.query<{ n: string }>('SELECT COUNT(*) AS n FROM aliases WHERE account = $1 AND region = $2 AND target_key_id = $3', [
    scope.account, scope.region, targetKeyId,
  ]);
  return Number(r.rows[0]!.n);
}

