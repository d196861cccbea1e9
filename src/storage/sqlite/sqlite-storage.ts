import type { SqliteDatabase } from './driver.js';
import type {
  AccessKeyRecord, AliasRecord, AuditEventInput, AuditEventRecord, AuditEventSource, AuditQuery, AuditStore, CustomKeyStoreRecord, KeyRecord, MaterialRecord,
  Page, Scope, SnapshotCounts, SnapshotRecord, SnapshotStorage, Storage, TagRecord, RewrapCounts, RootKeyStorage, WrappedSecretRecord,
} from '../../domain/ports.js';
import { appendChainSqlite, auditParams, INSERT_AUDIT, openSqlite, pruneChainSqlite, toAuditEvent, type AuditRow } from './sqlite-audit.js';
import { AUDIT_ANCHOR_SETTING, decodeAnchor, type AuditAnchor } from '../../domain/audit-chain.js';
import { AuditAppender } from '../audit-appender.js';
import {
  emptySnapshotCounts, StorageConflictError, StorageDuplicateError, StorageLimitError, StorageNotEmptyError,
} from '../../domain/ports.js';
import { IAM_GENERATION_SETTING, type IdentityPolicyRecord, type PrincipalRecord } from '../../domain/principals.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { decodeXksConfig, encodeXksConfig } from '../xks-config.js';
import { CKS_COLUMNS, toCustomKeyStore, type CustomKeyStoreRow } from '../custom-key-store-rows.js';
import { GRANT_COLUMNS, grantValues, retirableSortKey, splitRetirableSortKey, toGrant, type GrantRow } from '../grant-rows.js';
import type { GrantRecord } from '../../domain/ports.js';

interface KeyRow {
  account: string; region: string; key_id: string; arn: string; creation_date: number; description: string;
  key_usage: string; key_spec: string; origin: string; key_manager: string; key_state: string;
  deletion_date: number | null; current_material_id: string | null; multi_region: number; policy: string; version: number;
  rotation_period_days: number | null; next_rotation_date: number | null; on_demand_rotations: number;
  custom_key_store_id: string | null; xks_key_id: string | null;
  primary_region: string | null; transition_state: string | null; transition_date: number | null; pending_deletion_window_days: number | null;
}
const customKeyStoreParams = (c: CustomKeyStoreRecord) => ({
  account: c.account, region: c.region, custom_key_store_id: c.customKeyStoreId, name: c.name, store_type: c.type,
  cloud_hsm_cluster_id: c.cloudHsmClusterId ?? null, trust_anchor_certificate: c.trustAnchorCertificate ?? null,
  password_wrapped: c.passwordWrapped ?? null, connection_state: c.connectionState, connection_error_code: c.connectionErrorCode ?? null,
  creation_date: c.creationDate.getTime(), version: c.version, xks_config: encodeXksConfig(c.xks),
});
interface AliasRow {
  account: string; region: string; alias_name: string; target_key_id: string; creation_date: number; last_updated_date: number;
}
interface MaterialRow {
  key_arn: string; material_id: string; wrapped: Buffer; created_at: number; rotation_type: string | null;
  expiration_model: string | null; valid_to: number | null; description: string | null; pending_rotation: number;
}
interface AccessKeyRow {
  access_key_id: string; account: string; principal_arn: string; secret_wrapped: Buffer; created_at: number;
}

interface PrincipalRow {
  account: string; kind: string; name_key: string; name: string; path: string; arn: string; created_at: number;
}
interface IdentityPolicyRow {
  principal_arn: string; policy_name: string; document: string;
}
const toPrincipal = (r: PrincipalRow): PrincipalRecord => ({
  account: r.account, kind: r.kind as PrincipalRecord['kind'], name: r.name, path: r.path, arn: r.arn, createdAt: new Date(r.created_at),
});
const principalParams = (p: PrincipalRecord) => [p.account, p.kind, p.name.toLowerCase(), p.name, p.path, p.arn, p.createdAt.getTime()];
const INSERT_PRINCIPAL = 'INSERT INTO principals (account, kind, name_key, name, path, arn, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)';
const toIdentityPolicy = (r: IdentityPolicyRow): IdentityPolicyRecord => ({ principalArn: r.principal_arn, policyName: r.policy_name, document: r.document });
/** Increments the IAM generation (inside the caller's transaction). */
const BUMP_IAM_GENERATION = `INSERT INTO settings (name, value) VALUES ('${IAM_GENERATION_SETTING}', '1')
  ON CONFLICT (name) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`;

const toKey = (r: KeyRow): KeyRecord => ({
  account: r.account,
  region: r.region,
  keyId: r.key_id,
  arn: r.arn,
  creationDate: new Date(r.creation_date),
  description: r.description,
  keyUsage: r.key_usage as KeyRecord['keyUsage'],
  keySpec: r.key_spec as KeyRecord['keySpec'],
  origin: r.origin as KeyRecord['origin'],
  keyManager: r.key_manager as KeyRecord['keyManager'],
  keyState: r.key_state as KeyRecord['keyState'],
  deletionDate: r.deletion_date === null ? undefined : new Date(r.deletion_date),
  currentMaterialId: r.current_material_id ?? undefined,
  multiRegion: r.multi_region === 1,
  policy: r.policy,
  version: r.version,
  // Rotation fields only when set, so that a key without rotation reads back exactly as it was written.
  ...(r.rotation_period_days !== null && { rotationPeriodDays: r.rotation_period_days }),
  ...(r.next_rotation_date !== null && { nextRotationDate: new Date(r.next_rotation_date) }),
  ...(r.on_demand_rotations > 0 && { onDemandRotations: r.on_demand_rotations }),
  ...(r.custom_key_store_id !== null && { customKeyStoreId: r.custom_key_store_id }),
  ...(r.xks_key_id !== null && { xksKeyId: r.xks_key_id }),
  ...(r.primary_region !== null && { primaryRegion: r.primary_region }),
  ...(r.transition_state !== null && { transitionState: r.transition_state as KeyRecord['keyState'] }),
  ...(r.transition_date !== null && { transitionDate: new Date(r.transition_date) }),
  ...(r.pending_deletion_window_days !== null && { pendingDeletionWindowInDays: r.pending_deletion_window_days }),
});
const keyParams = (k: KeyRecord) => ({
  account: k.account, region: k.region, key_id: k.keyId, arn: k.arn, creation_date: k.creationDate.getTime(),
  description: k.description, key_usage: k.keyUsage, key_spec: k.keySpec, origin: k.origin, key_manager: k.keyManager,
  key_state: k.keyState, deletion_date: k.deletionDate?.getTime() ?? null, current_material_id: k.currentMaterialId ?? null,
  multi_region: k.multiRegion ? 1 : 0, policy: k.policy, version: k.version,
  rotation_period_days: k.rotationPeriodDays ?? null, next_rotation_date: k.nextRotationDate?.getTime() ?? null,
  on_demand_rotations: k.onDemandRotations ?? 0, custom_key_store_id: k.customKeyStoreId ?? null,
  xks_key_id: k.xksKeyId ?? null, primary_region: k.primaryRegion ?? null, transition_state: k.transitionState ?? null,
  transition_date: k.transitionDate?.getTime() ?? null, pending_deletion_window_days: k.pendingDeletionWindowInDays ?? null,
});
const toAlias = (r: AliasRow): AliasRecord => ({
  account: r.account, region: r.region, aliasName: r.alias_name, targetKeyId: r.target_key_id,
  creationDate: new Date(r.creation_date), lastUpdatedDate: new Date(r.last_updated_date),
});

const toMaterial = (r: MaterialRow): MaterialRecord => ({
  keyArn: r.key_arn, materialId: r.material_id, wrapped: r.wrapped, createdAt: new Date(r.created_at),
  ...(r.rotation_type !== null && { rotationType: r.rotation_type as MaterialRecord['rotationType'] }),
  // Import fields only when set, so that generated material reads back exactly as it was written.
  ...(r.expiration_model !== null && { expirationModel: r.expiration_model as MaterialRecord['expirationModel'] }),
  ...(r.valid_to !== null && { validTo: new Date(r.valid_to) }),
  ...(r.description !== null && { description: r.description }),
  ...(r.pending_rotation === 1 && { pendingRotation: true }),
});
const INSERT_MATERIAL = `INSERT INTO key_materials (key_arn, material_id, wrapped, created_at, rotation_type, expiration_model, valid_to,
  description, pending_rotation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const UPSERT_MATERIAL = `${INSERT_MATERIAL} ON CONFLICT (key_arn, material_id) DO UPDATE SET wrapped = excluded.wrapped,
  created_at = excluded.created_at, rotation_type = excluded.rotation_type, expiration_model = excluded.expiration_model,
  valid_to = excluded.valid_to, description = excluded.description, pending_rotation = excluded.pending_rotation`;
const materialParams = (m: MaterialRecord) => [
  m.keyArn, m.materialId, m.wrapped, m.createdAt.getTime(), m.rotationType ?? null, m.expirationModel ?? null,
  m.validTo?.getTime() ?? null, m.description ?? null, m.pendingRotation ? 1 : 0,
];
const toAccessKey = (r: AccessKeyRow): AccessKeyRecord => ({
  accessKeyId: r.access_key_id, account: r.account, principalArn: r.principal_arn, secretWrapped: r.secret_wrapped, createdAt: new Date(r.created_at),
});

const INSERT_KEY = `INSERT INTO keys (account, region, key_id, arn, creation_date, description, key_usage, key_spec, origin, key_manager,
  key_state, deletion_date, current_material_id, multi_region, policy, version, rotation_period_days, next_rotation_date, on_demand_rotations,
  custom_key_store_id, xks_key_id, primary_region, transition_state, transition_date, pending_deletion_window_days)
  VALUES (@account, @region, @key_id, @arn, @creation_date, @description, @key_usage, @key_spec,
  @origin, @key_manager, @key_state, @deletion_date, @current_material_id, @multi_region, @policy, @version,
  @rotation_period_days, @next_rotation_date, @on_demand_rotations, @custom_key_store_id, @xks_key_id,
  @primary_region, @transition_state, @transition_date, @pending_deletion_window_days)`;
const UPDATE_KEY = `UPDATE keys SET description = @description, key_usage = @key_usage, key_spec = @key_spec, origin = @origin,
    key_manager = @key_manager, key_state = @key_state, deletion_date = @deletion_date,
    current_material_id = @current_material_id, multi_region = @multi_region, policy = @policy,
    rotation_period_days = @rotation_period_days, next_rotation_date = @next_rotation_date, on_demand_rotations = @on_demand_rotations,
    primary_region = @primary_region, transition_state = @transition_state, transition_date = @transition_date,
    pending_deletion_window_days = @pending_deletion_window_days, version = @version + 1
  WHERE account = @account AND region = @region AND key_id = @key_id AND version = @version`;
/** The tables a snapshot covers, in export order. */
const SNAPSHOT_TABLES = ['settings', 'access_keys', 'principals', 'identity_policies', 'custom_key_stores', 'keys', 'key_materials', 'aliases', 'tags', 'grants', 'audit_events'] as const;
const INSERT_GRANT = `INSERT INTO grants (${GRANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export interface SqliteStorageOptions {
  /** The request under way's audit event, appended by every write transaction a request makes (docs/audit.md). */
  readonly audit?: AuditEventSource;
}

const isUniqueViolation = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && String((err as { code?: string }).code).startsWith('SQLITE_CONSTRAINT');

/** The embedded default store: one SQLite file in WAL mode with full-sync commits. */
export class SqliteStorage implements Storage, SnapshotStorage, AuditStore, RootKeyStorage {
  readonly #db: SqliteDatabase;
  readonly #file: string;
  readonly #audit: AuditEventSource | undefined;
  #appender: AuditAppender | undefined;

  constructor(file: string, options: SqliteStorageOptions = {}) {
    this.#file = file;
    this.#audit = options.audit;
    this.#db = SqliteStorage.#open(file);
    this.#db.pragma('journal_mode = WAL');
  }

  static #open(file: string): SqliteDatabase {
    return openSqlite(file);
  }

  async migrate(): Promise<void> {
    const db = this.#db;
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    // In version order; versions need not be contiguous (each is applied once, whichever are missing).
    for (const m of [...SQLITE_MIGRATIONS].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      db.transaction(() => {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
      }).immediate();
    }
  }

  async close(): Promise<void> {
    await this.#appender?.close();
    this.#db.close();
  }

  /**
   * A write transaction (BEGIN IMMEDIATE). When a request is under way, its audit event is appended in the same
   * transaction if the write changed something (`changed`), so the change and its event commit together.
   */
  #write<T>(fn: () => T, changed: (result: T) => boolean = () => true): T {
    let appended: AuditEventInput | undefined;
    const result = this.#db.transaction(() => {
      const r = fn();
      const event = this.#audit?.pending();
      if (event && changed(r)) {
        appendChainSqlite(this.#db, [event, ...(this.#audit!.companions?.() ?? [])]);
        appended = event;
      }
      return r;
    }).immediate();
    if (appended) this.#audit!.committed(appended);
    return result;
  }

  /**
   * Batches (events of read-only and failed requests) are appended by a worker thread on a connection of its own, so
   * that neither the inserts nor the WAL checkpoints they cause stall requests. Its commits do not wait for fsync
   * (synchronous=NORMAL): they survive a crash of the process, not an OS crash (docs/audit.md). Events committed with
   * a state change stay on the main, fully synced connection.
   */
  async appendAuditEvents(events: readonly AuditEventInput[]): Promise<AuditEventRecord[]> {
    return this.#worker().append(events);
  }

  /** Through the append worker too: the API calls' events are built on its thread. */
  async appendAuditBatch(batch: string, lines: boolean): Promise<{ count: number; lines?: string | undefined }> {
    return this.#worker().appendBatch(batch, lines);
  }

  #worker(): AuditAppender {
    return (this.#appender ??= new AuditAppender(new URL('./audit-append-worker.js', import.meta.url), { file: this.#file }));
  }

  async queryAuditEvents(q: AuditQuery): Promise<AuditEventRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (q.account !== undefined) add('(account = ? OR resource_account = ?)', q.account, q.account);
    if (q.eventName !== undefined) add('event_name = ?', q.eventName);
    if (q.eventId !== undefined) add('event_id = ?', q.eventId);
    if (q.keyArn !== undefined) add('key_arn = ?', q.keyArn);
    if (q.keyId !== undefined) add("key_arn LIKE '%:key/' || ?", q.keyId.replace(/[%_\\]/g, ''));
    if (q.principal !== undefined) add('principal = ?', q.principal);
    if (q.username !== undefined) add('username = ?', q.username);
    if (q.readOnly !== undefined) add('read_only = ?', q.readOnly ? 1 : 0);
    if (q.startTime !== undefined) add('event_time >= ?', q.startTime);
    if (q.endTime !== undefined) add('event_time <= ?', q.endTime);
    if (q.beforeSeq !== undefined) add('seq < ?', q.beforeSeq);
    const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    return (this.#db.prepare(sql).all(...params, q.limit) as AuditRow[]).map(toAuditEvent);
  }

  async auditEventsAfter(afterSeq: number, limit: number): Promise<AuditEventRecord[]> {
    return (this.#db.prepare('SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as AuditRow[]).map(toAuditEvent);
  }

  async auditChainHead(): Promise<{ seq: number; hash: string; trackingStart: number }> {
    const r = this.#db.prepare('SELECT seq, hash, tracking_start FROM audit_chain_head WHERE id = 1').get() as { seq: number; hash: string; tracking_start: number };
    return { seq: r.seq, hash: r.hash, trackingStart: r.tracking_start };
  }

  async lastKeyUsage(keyArn: string): Promise<AuditEventRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM audit_events WHERE key_arn = ? AND usage IS NOT NULL ORDER BY seq DESC LIMIT 1').get(keyArn) as AuditRow | undefined;
    return r && toAuditEvent(r);
  }

  async auditAnchor(): Promise<AuditAnchor | undefined> {
    const v = await this.getSetting(AUDIT_ANCHOR_SETTING);
    return v === undefined ? undefined : decodeAnchor(v);
  }

  /** On the main, fully synced connection, in one write transaction (BEGIN IMMEDIATE: appends wait for it). */
  async pruneAuditEvents(from: AuditAnchor | undefined, through: AuditAnchor, trackingStart: number, event: AuditEventInput): Promise<{ deleted: number; record: AuditEventRecord }> {
    return this.#db.transaction(() => pruneChainSqlite(this.#db, from, through, trackingStart, event)).immediate();
  }

  async insertKey(key: KeyRecord, materials: readonly MaterialRecord[], tags: readonly TagRecord[]): Promise<void> {
    const db = this.#db;
    try {
      this.#write(() => {
        db.prepare(INSERT_KEY).run(keyParams(key));
        const m = db.prepare(INSERT_MATERIAL);
        for (const mat of materials) m.run(...materialParams(mat));
        const t = db.prepare('INSERT INTO tags VALUES (?, ?, ?)');
        for (const tag of tags) t.run(key.arn, tag.key, tag.value);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`key ${key.arn}`);
      throw err;
    }
  }

  async getKey(scope: Scope, keyId: string): Promise<KeyRecord | undefined> {
    const row = this.#db.prepare('SELECT * FROM keys WHERE account = ? AND region = ? AND key_id = ?').get(scope.account, scope.region, keyId) as KeyRow | undefined;
    return row && toKey(row);
  }

  async updateKey(key: KeyRecord): Promise<KeyRecord> {
    const next = { ...key, version: key.version + 1 };
    this.#write(() => {
      if (this.#db.prepare(UPDATE_KEY).run(keyParams(key)).changes !== 1) throw new StorageConflictError(`key ${key.arn}`);
    });
    return next;
  }

  async getRelatedKeys(account: string, keyId: string): Promise<KeyRecord[]> {
    const rows = this.#db
      .prepare('SELECT * FROM keys WHERE account = ? AND key_id = ? AND primary_region IS NOT NULL ORDER BY creation_date, region')
      .all(account, keyId) as KeyRow[];
    return rows.map(toKey);
  }

  async updateKeys(keys: readonly KeyRecord[], materials: readonly MaterialRecord[]): Promise<KeyRecord[]> {
    const db = this.#db;
    this.#write(() => {
      const update = db.prepare(UPDATE_KEY);
      for (const key of keys) if (update.run(keyParams(key)).changes !== 1) throw new StorageConflictError(`key ${key.arn}`);
      const m = db.prepare(UPSERT_MATERIAL);
      for (const mat of materials) m.run(...materialParams(mat));
    });
    return keys.map((k) => ({ ...k, version: k.version + 1 }));
  }

  async listKeysInTransition(now: Date, limit: number): Promise<KeyRecord[]> {
    const rows = this.#db
      .prepare('SELECT * FROM keys WHERE transition_date IS NOT NULL AND transition_date <= ? ORDER BY transition_date, arn LIMIT ?')
      .all(now.getTime(), limit) as KeyRow[];
    return rows.map(toKey);
  }

  async rotateKey(key: KeyRecord, material: MaterialRecord): Promise<KeyRecord> {
    const db = this.#db;
    try {
      this.#write(() => {
        // The compare-and-set first: a lost race throws before the material is inserted (and the throw rolls back).
        if (db.prepare(UPDATE_KEY).run(keyParams(key)).changes !== 1) throw new StorageConflictError(`key ${key.arn}`);
        db.prepare(INSERT_MATERIAL).run(...materialParams(material));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`material ${material.materialId} of key ${key.arn}`);
      throw err;
    }
    return { ...key, version: key.version + 1 };
  }

  async putMaterial(key: KeyRecord, material: MaterialRecord): Promise<KeyRecord> {
    const db = this.#db;
    this.#write(() => {
      if (db.prepare(UPDATE_KEY).run(keyParams(key)).changes !== 1) throw new StorageConflictError(`key ${key.arn}`);
      db.prepare(UPSERT_MATERIAL).run(...materialParams(material));
    });
    return { ...key, version: key.version + 1 };
  }

  async eraseMaterials(key: KeyRecord, materialIds: readonly string[]): Promise<KeyRecord> {
    const db = this.#db;
    this.#write(() => {
      if (db.prepare(UPDATE_KEY).run(keyParams(key)).changes !== 1) throw new StorageConflictError(`key ${key.arn}`);
      const erase = db.prepare("UPDATE key_materials SET wrapped = x'' WHERE key_arn = ? AND material_id = ?");
      for (const id of materialIds) erase.run(key.arn, id);
    });
    // The WAL still holds the pages as they were before: copy the new pages into the file and empty the WAL.
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { ...key, version: key.version + 1 };
  }

  async listMaterialsDueForExpiry(now: Date, limit: number): Promise<MaterialRecord[]> {
    const rows = this.#db
      .prepare('SELECT * FROM key_materials WHERE valid_to IS NOT NULL AND valid_to <= ? AND length(wrapped) > 0 ORDER BY valid_to, key_arn LIMIT ?')
      .all(now.getTime(), limit) as MaterialRow[];
    return rows.map(toMaterial);
  }

  async listKeysDueForRotation(now: Date, limit: number): Promise<KeyRecord[]> {
    const rows = this.#db
      .prepare("SELECT * FROM keys WHERE key_state = 'Enabled' AND next_rotation_date <= ? ORDER BY next_rotation_date, arn LIMIT ?")
      .all(now.getTime(), limit) as KeyRow[];
    return rows.map(toKey);
  }

  async listKeys(scope: Scope, limit: number, after?: string): Promise<Page<KeyRecord>> {
    const rows = this.#db
      .prepare('SELECT * FROM keys WHERE account = ? AND region = ? AND key_id > ? ORDER BY key_id LIMIT ?')
      .all(scope.account, scope.region, after ?? '', limit + 1) as KeyRow[];
    const items = rows.slice(0, limit).map(toKey);
    return { items, next: rows.length > limit ? items[items.length - 1]!.keyId : undefined };
  }

  async listKeysDueForDeletion(now: Date, limit: number): Promise<KeyRecord[]> {
    const rows = this.#db
      .prepare("SELECT * FROM keys WHERE key_state = 'PendingDeletion' AND deletion_date <= ? ORDER BY deletion_date LIMIT ?")
      .all(now.getTime(), limit) as KeyRow[];
    return rows.map(toKey);
  }

  async deleteKey(scope: Scope, keyId: string, version?: number): Promise<boolean> {
    const db = this.#db;
    return this.#write(() => {
      const row = db.prepare('SELECT arn, version FROM keys WHERE account = ? AND region = ? AND key_id = ?').get(scope.account, scope.region, keyId) as
        | { arn: string; version: number }
        | undefined;
      if (!row || (version !== undefined && row.version !== version)) return false;
      db.prepare('DELETE FROM key_materials WHERE key_arn = ?').run(row.arn);
      db.prepare('DELETE FROM tags WHERE key_arn = ?').run(row.arn);
      db.prepare('DELETE FROM grants WHERE key_arn = ?').run(row.arn);
      db.prepare('DELETE FROM aliases WHERE account = ? AND region = ? AND target_key_id = ?').run(scope.account, scope.region, keyId);
      db.prepare('DELETE FROM keys WHERE arn = ?').run(row.arn);
      return true;
    }, (deleted) => deleted);
  }

  async getMaterials(keyArn: string): Promise<MaterialRecord[]> {
    const rows = this.#db.prepare('SELECT * FROM key_materials WHERE key_arn = ? ORDER BY created_at').all(keyArn) as MaterialRow[];
    return rows.map(toMaterial);
  }

  async insertAlias(alias: AliasRecord, maxPerTarget?: number): Promise<void> {
    const db = this.#db;
    try {
      this.#write(() => {
        if (maxPerTarget !== undefined && this.#aliasCount(alias, alias.targetKeyId) >= maxPerTarget) throw new StorageLimitError(`aliases of key ${alias.targetKeyId}`);
        db.prepare('INSERT INTO aliases VALUES (?, ?, ?, ?, ?, ?)')
          .run(alias.account, alias.region, alias.aliasName, alias.targetKeyId, alias.creationDate.getTime(), alias.lastUpdatedDate.getTime());
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`alias ${alias.aliasName}`);
      throw err;
    }
  }

  async getAlias(scope: Scope, aliasName: string): Promise<AliasRecord | undefined> {
    const row = this.#db.prepare('SELECT * FROM aliases WHERE account = ? AND region = ? AND alias_name = ?').get(scope.account, scope.region, aliasName) as AliasRow | undefined;
    return row && toAlias(row);
  }

  async updateAlias(scope: Scope, aliasName: string, targetKeyId: string, at: Date, maxPerTarget?: number): Promise<boolean> {
    const db = this.#db;
    return this.#write(() => {
      const current = db.prepare('SELECT target_key_id FROM aliases WHERE account = ? AND region = ? AND alias_name = ?').pluck().get(scope.account, scope.region, aliasName) as
        | string
        | undefined;
      if (current === undefined) return false;
      if (maxPerTarget !== undefined && current !== targetKeyId && this.#aliasCount(scope, targetKeyId) >= maxPerTarget) {
        throw new StorageLimitError(`aliases of key ${targetKeyId}`);
      }
      db.prepare('UPDATE aliases SET target_key_id = ?, last_updated_date = ? WHERE account = ? AND region = ? AND alias_name = ?')
        .run(targetKeyId, at.getTime(), scope.account, scope.region, aliasName);
      return true;
    }, (updated) => updated);
  }

  #aliasCount(scope: Scope, targetKeyId: string): number {
    return this.#db
      .prepare('SELECT COUNT(*) FROM aliases WHERE account = ? AND region = ? AND target_key_id = ?')
      .pluck()
      .get(scope.account, scope.region, targetKeyId) as number;
  }

  async deleteAlias(scope: Scope, aliasName: string): Promise<boolean> {
    return this.#write(
      () => this.#db.prepare('DELETE FROM aliases WHERE account = ? AND region = ? AND alias_name = ?').run(scope.account, scope.region, aliasName).changes === 1,
      (deleted) => deleted,
    );
  }

  async listAliases(scope: Scope, limit: number, after?: string, targetKeyId?: string): Promise<Page<AliasRecord>> {
    const rows = (
      targetKeyId === undefined
        ? this.#db.prepare('SELECT * FROM aliases WHERE account = ? AND region = ? AND alias_name > ? ORDER BY alias_name LIMIT ?').all(scope.account, scope.region, after ?? '', limit + 1)
        : this.#db
            .prepare('SELECT * FROM aliases WHERE account = ? AND region = ? AND target_key_id = ? AND alias_name > ? ORDER BY alias_name LIMIT ?')
            .all(scope.account, scope.region, targetKeyId, after ?? '', limit + 1)
    ) as AliasRow[];
    const items = rows.slice(0, limit).map(toAlias);
    return { items, next: rows.length > limit ? items[items.length - 1]!.aliasName : undefined };
  }

  async countAliases(scope: Scope, targetKeyId: string): Promise<number> {
    return this.#aliasCount(scope, targetKeyId);
  }

  async getTags(keyArn: string): Promise<TagRecord[]> {
    const rows = this.#db.prepare('SELECT tag_key, tag_value FROM tags WHERE key_arn = ? ORDER BY tag_key').all(keyArn) as { tag_key: string; tag_value: string }[];
    return rows.map((r) => ({ key: r.tag_key, value: r.tag_value }));
  }

  async putTags(keyArn: string, tags: readonly TagRecord[], maxTags?: number): Promise<void> {
    const db = this.#db;
    this.#write(() => {
      const s = db.prepare('INSERT INTO tags VALUES (?, ?, ?) ON CONFLICT (key_arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value');
      for (const t of tags) s.run(keyArn, t.key, t.value);
      // Inside the transaction: a throw rolls every tag of this call back.
      if (maxTags !== undefined && (db.prepare('SELECT COUNT(*) FROM tags WHERE key_arn = ?').pluck().get(keyArn) as number) > maxTags) {
        throw new StorageLimitError(`tags of key ${keyArn}`);
      }
    });
  }

  async removeTags(keyArn: string, tagKeys: readonly string[]): Promise<void> {
    const db = this.#db;
    this.#write(() => {
      const s = db.prepare('DELETE FROM tags WHERE key_arn = ? AND tag_key = ?');
      for (const k of tagKeys) s.run(keyArn, k);
    });
  }

  async insertGrant(grant: GrantRecord, limits?: { readonly perKey: number; readonly perGrantee: number }): Promise<void> {
    const db = this.#db;
    try {
      this.#write(() => {
        if (limits) {
          const count = (sql: string, ...args: unknown[]) => db.prepare(sql).pluck().get(...args) as number;
          if (count('SELECT COUNT(*) FROM grants WHERE key_arn = ?', grant.keyArn) >= limits.perKey) throw new StorageLimitError(`grants of key ${grant.keyArn}`);
          if (count('SELECT COUNT(*) FROM grants WHERE key_arn = ? AND grantee_principal = ?', grant.keyArn, grant.granteePrincipal) >= limits.perGrantee) {
            throw new StorageLimitError(`grants for ${grant.granteePrincipal} on key ${grant.keyArn}`);
          }
        }
        db.prepare(INSERT_GRANT).run(...grantValues(grant));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`grant ${grant.grantId}`);
      throw err;
    }
  }

  async getGrant(keyArn: string, grantId: string): Promise<GrantRecord | undefined> {
    const row = this.#db.prepare('SELECT * FROM grants WHERE key_arn = ? AND grant_id = ?').get(keyArn, grantId) as GrantRow | undefined;
    return row && toGrant(row);
  }

  async getGrants(keyArn: string): Promise<GrantRecord[]> {
    return (this.#db.prepare('SELECT * FROM grants WHERE key_arn = ? ORDER BY grant_id').all(keyArn) as GrantRow[]).map(toGrant);
  }

  async listGrants(keyArn: string, limit: number, after?: string, filter?: { readonly grantId?: string; readonly granteePrincipal?: string }): Promise<Page<GrantRecord>> {
    const rows = this.#db
      .prepare(`SELECT * FROM grants WHERE key_arn = ? AND grant_id > ? AND (? IS NULL OR grant_id = ?) AND (? IS NULL OR grantee_principal = ?)
        ORDER BY grant_id LIMIT ?`)
      .all(keyArn, after ?? '', filter?.grantId ?? null, filter?.grantId ?? null, filter?.granteePrincipal ?? null, filter?.granteePrincipal ?? null, limit + 1) as GrantRow[];
    const items = rows.slice(0, limit).map(toGrant);
    return { items, next: rows.length > limit ? items[items.length - 1]!.grantId : undefined };
  }

  async listRetirableGrants(region: string, retiringPrincipal: string, limit: number, after?: string): Promise<Page<GrantRecord>> {
    const [arn, id] = splitRetirableSortKey(after);
    const rows = this.#db
      .prepare(`SELECT * FROM grants WHERE retiring_principal = ? AND region = ? AND (key_arn > ? OR (key_arn = ? AND grant_id > ?))
        ORDER BY key_arn, grant_id LIMIT ?`)
      .all(retiringPrincipal, region, arn, arn, id, limit + 1) as GrantRow[];
    const items = rows.slice(0, limit).map(toGrant);
    return { items, next: rows.length > limit ? retirableSortKey(items[items.length - 1]!) : undefined };
  }

  async deleteGrant(keyArn: string, grantId: string): Promise<boolean> {
    return this.#write(() => this.#db.prepare('DELETE FROM grants WHERE key_arn = ? AND grant_id = ?').run(keyArn, grantId).changes === 1, (deleted) => deleted);
  }

  async getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM access_keys WHERE access_key_id = ?').get(accessKeyId) as AccessKeyRow | undefined;
    return r && toAccessKey(r);
  }

  async insertAccessKey(record: AccessKeyRecord): Promise<void> {
    const db = this.#db;
    try {
      db.transaction(() => {
        db.prepare('INSERT INTO access_keys VALUES (?, ?, ?, ?, ?)')
          .run(record.accessKeyId, record.account, record.principalArn, record.secretWrapped, record.createdAt.getTime());
        db.exec(BUMP_IAM_GENERATION);
      }).immediate();
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`access key ${record.accessKeyId}`);
      throw err;
    }
  }

  async listAccessKeys(filter: { account?: string; principalArn?: string } = {}): Promise<AccessKeyRecord[]> {
    const rows = this.#db
      .prepare('SELECT * FROM access_keys WHERE (@account IS NULL OR account = @account) AND (@arn IS NULL OR principal_arn = @arn) ORDER BY access_key_id')
      .all({ account: filter.account ?? null, arn: filter.principalArn ?? null }) as AccessKeyRow[];
    return rows.map(toAccessKey);
  }

  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    const db = this.#db;
    return db.transaction(() => {
      const n = db.prepare('DELETE FROM access_keys WHERE access_key_id = ?').run(accessKeyId).changes;
      db.exec(BUMP_IAM_GENERATION);
      return n > 0;
    }).immediate();
  }

  async insertPrincipal(principal: PrincipalRecord): Promise<void> {
    const db = this.#db;
    try {
      db.transaction(() => {
        db.prepare(INSERT_PRINCIPAL).run(...principalParams(principal));
        db.exec(BUMP_IAM_GENERATION);
      }).immediate();
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`${principal.kind} ${principal.name} of account ${principal.account}`);
      throw err;
    }
  }

  async getPrincipal(account: string, kind: PrincipalRecord['kind'], name: string): Promise<PrincipalRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM principals WHERE account = ? AND kind = ? AND name_key = ?').get(account, kind, name.toLowerCase()) as PrincipalRow | undefined;
    return r && toPrincipal(r);
  }

  async getPrincipalByArn(arn: string): Promise<PrincipalRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM principals WHERE arn = ?').get(arn) as PrincipalRow | undefined;
    return r && toPrincipal(r);
  }

  async listPrincipals(account?: string): Promise<PrincipalRecord[]> {
    const rows = this.#db
      .prepare('SELECT * FROM principals WHERE (@account IS NULL OR account = @account) ORDER BY account, kind, name_key')
      .all({ account: account ?? null }) as PrincipalRow[];
    return rows.map(toPrincipal);
  }

  async deletePrincipal(arn: string): Promise<boolean> {
    const db = this.#db;
    return db.transaction(() => {
      const n = db.prepare('DELETE FROM principals WHERE arn = ?').run(arn).changes;
      db.prepare('DELETE FROM identity_policies WHERE principal_arn = ?').run(arn);
      db.prepare('DELETE FROM access_keys WHERE principal_arn = ?').run(arn);
      db.exec(BUMP_IAM_GENERATION);
      return n > 0;
    }).immediate();
  }

  async putIdentityPolicy(policy: IdentityPolicyRecord): Promise<void> {
    const db = this.#db;
    db.transaction(() => {
      db.prepare('INSERT INTO identity_policies VALUES (?, ?, ?) ON CONFLICT (principal_arn, policy_name) DO UPDATE SET document = excluded.document')
        .run(policy.principalArn, policy.policyName, policy.document);
      db.exec(BUMP_IAM_GENERATION);
    }).immediate();
  }

  async getIdentityPolicies(principalArn: string): Promise<IdentityPolicyRecord[]> {
    const rows = this.#db.prepare('SELECT * FROM identity_policies WHERE principal_arn = ? ORDER BY policy_name').all(principalArn) as IdentityPolicyRow[];
    return rows.map(toIdentityPolicy);
  }

  async deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean> {
    const db = this.#db;
    return db.transaction(() => {
      const n = db.prepare('DELETE FROM identity_policies WHERE principal_arn = ? AND policy_name = ?').run(principalArn, policyName).changes;
      db.exec(BUMP_IAM_GENERATION);
      return n > 0;
    }).immediate();
  }

  async getSetting(name: string): Promise<string | undefined> {
    return this.#db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(name) as string | undefined;
  }

  async putSetting(name: string, value: string): Promise<void> {
    this.#db.prepare('INSERT INTO settings VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }

  async putSettingIfAbsent(name: string, value: string): Promise<string> {
    this.#db.prepare('INSERT INTO settings VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(name, value);
    return (await this.getSetting(name))!;
  }

  async insertCustomKeyStore(store: CustomKeyStoreRecord, maxPerScope: number): Promise<void> {
    const db = this.#db;
    try {
      this.#write(() => {
        const n = db.prepare('SELECT COUNT(*) FROM custom_key_stores WHERE account = ? AND region = ?').pluck().get(store.account, store.region) as number;
        if (n >= maxPerScope) throw new StorageLimitError(`custom key stores of account ${store.account}`);
        db.prepare(`INSERT INTO custom_key_stores (${CKS_COLUMNS}) VALUES (${CKS_COLUMNS.split(', ').map((c) => `@${c}`).join(', ')})`).run(customKeyStoreParams(store));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`custom key store ${store.name}`);
      throw err;
    }
  }

  async getCustomKeyStore(scope: Scope, customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined> {
    const row = this.#db
      .prepare('SELECT * FROM custom_key_stores WHERE account = ? AND region = ? AND custom_key_store_id = ?')
      .get(scope.account, scope.region, customKeyStoreId) as CustomKeyStoreRow | undefined;
    return row && toCustomKeyStore(row);
  }

  async listConnectedCustomKeyStores(limit: number): Promise<CustomKeyStoreRecord[]> {
    const rows = this.#db
      .prepare("SELECT * FROM custom_key_stores WHERE connection_state = 'CONNECTED' ORDER BY account, region, custom_key_store_id LIMIT ?")
      .all(limit) as CustomKeyStoreRow[];
    return rows.map(toCustomKeyStore);
  }

  async listCustomKeyStores(scope: Scope, limit: number, after?: string): Promise<Page<CustomKeyStoreRecord>> {
    const rows = this.#db
      .prepare('SELECT * FROM custom_key_stores WHERE account = ? AND region = ? AND custom_key_store_id > ? ORDER BY custom_key_store_id LIMIT ?')
      .all(scope.account, scope.region, after ?? '', limit + 1) as CustomKeyStoreRow[];
    const items = rows.slice(0, limit).map(toCustomKeyStore);
    return { items, next: rows.length > limit ? items[items.length - 1]!.customKeyStoreId : undefined };
  }

  async updateCustomKeyStore(store: CustomKeyStoreRecord): Promise<CustomKeyStoreRecord> {
    let changes: number;
    try {
      changes = this.#write(
        () =>
          this.#db
            .prepare(`UPDATE custom_key_stores SET name = @name, cloud_hsm_cluster_id = @cloud_hsm_cluster_id,
              trust_anchor_certificate = @trust_anchor_certificate, password_wrapped = @password_wrapped, xks_config = @xks_config,
              connection_state = @connection_state, connection_error_code = @connection_error_code, version = @version + 1
              WHERE account = @account AND region = @region AND custom_key_store_id = @custom_key_store_id AND version = @version`)
            .run(customKeyStoreParams(store)).changes,
        (n) => n === 1,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`custom key store ${store.name}`);
      throw err;
    }
    if (changes !== 1) throw new StorageConflictError(`custom key store ${store.customKeyStoreId}`);
    return { ...store, version: store.version + 1 };
  }

  async deleteCustomKeyStore(scope: Scope, customKeyStoreId: string, version: number): Promise<'deleted' | 'has-keys' | 'not-found'> {
    const db = this.#db;
    return this.#write(() => {
      const v = db
        .prepare('SELECT version FROM custom_key_stores WHERE account = ? AND region = ? AND custom_key_store_id = ?')
        .pluck().get(scope.account, scope.region, customKeyStoreId) as number | undefined;
      if (v === undefined) return 'not-found' as const;
      if (v !== version) throw new StorageConflictError(`custom key store ${customKeyStoreId}`);
      const used = db.prepare('SELECT 1 FROM keys WHERE account = ? AND region = ? AND custom_key_store_id = ? LIMIT 1').get(scope.account, scope.region, customKeyStoreId);
      if (used !== undefined) return 'has-keys' as const;
      db.prepare('DELETE FROM custom_key_stores WHERE account = ? AND region = ? AND custom_key_store_id = ?').run(scope.account, scope.region, customKeyStoreId);
      return 'deleted' as const;
    }, (r) => r === 'deleted');
  }

  async wipe(): Promise<void> {
    const db = this.#db;
    db.transaction(() => {
      for (const table of ['key_materials', 'tags', 'grants', 'aliases', 'keys', 'custom_key_stores']) db.exec(`DELETE FROM ${table}`);
    }).immediate();
  }

  /** BEGIN IMMEDIATE on the main connection: other writers (other processes too) wait or fail with SQLITE_BUSY. */
  async rewrapSecrets(
    rewrap: (secret: WrappedSecretRecord) => Buffer, settings: Readonly<Record<string, string | null>>, event?: (counts: RewrapCounts) => AuditEventInput,
  ): Promise<RewrapCounts> {
    const db = this.#db;
    const counts: RewrapCounts = { material: 0, accessKey: 0, customKeyStorePassword: 0, xksProxySecret: 0 };
    db.transaction(() => {
      const materials = db.prepare('SELECT key_arn, material_id, wrapped FROM key_materials WHERE length(wrapped) > 0 ORDER BY key_arn, material_id').all() as { key_arn: string; material_id: string; wrapped: Buffer }[];
      const putMaterial = db.prepare('UPDATE key_materials SET wrapped = ? WHERE key_arn = ? AND material_id = ?');
      for (const m of materials) {
        putMaterial.run(rewrap({ kind: 'material', keyArn: m.key_arn, materialId: m.material_id, wrapped: m.wrapped }), m.key_arn, m.material_id);
        counts.material++;
      }
      const accessKeys = db.prepare('SELECT access_key_id, secret_wrapped FROM access_keys ORDER BY access_key_id').all() as { access_key_id: string; secret_wrapped: Buffer }[];
      const putAccessKey = db.prepare('UPDATE access_keys SET secret_wrapped = ? WHERE access_key_id = ?');
      for (const a of accessKeys) {
        putAccessKey.run(rewrap({ kind: 'accessKey', accessKeyId: a.access_key_id, wrapped: a.secret_wrapped }), a.access_key_id);
        counts.accessKey++;
      }
      const stores = db.prepare('SELECT account, region, custom_key_store_id, password_wrapped FROM custom_key_stores WHERE password_wrapped IS NOT NULL ORDER BY account, region, custom_key_store_id').all() as { account: string; region: string; custom_key_store_id: string; password_wrapped: Buffer }[];
      const putPassword = db.prepare('UPDATE custom_key_stores SET password_wrapped = ? WHERE account = ? AND region = ? AND custom_key_store_id = ?');
      for (const c of stores) {
        putPassword.run(rewrap({ kind: 'customKeyStorePassword', account: c.account, region: c.region, customKeyStoreId: c.custom_key_store_id, wrapped: c.password_wrapped }), c.account, c.region, c.custom_key_store_id);
        counts.customKeyStorePassword++;
      }
      const xksStores = db.prepare('SELECT account, region, custom_key_store_id, xks_config FROM custom_key_stores WHERE xks_config IS NOT NULL ORDER BY account, region, custom_key_store_id').all() as { account: string; region: string; custom_key_store_id: string; xks_config: string }[];
      const putXks = db.prepare('UPDATE custom_key_stores SET xks_config = ? WHERE account = ? AND region = ? AND custom_key_store_id = ?');
      for (const c of xksStores) {
        const xks = decodeXksConfig(c.xks_config)!;
        const wrapped = rewrap({ kind: 'xksProxySecret', account: c.account, region: c.region, customKeyStoreId: c.custom_key_store_id, wrapped: xks.secretWrapped });
        putXks.run(encodeXksConfig({ ...xks, secretWrapped: wrapped }), c.account, c.region, c.custom_key_store_id);
        counts.xksProxySecret++;
      }
      for (const [name, value] of Object.entries(settings)) {
        if (value === null) db.prepare('DELETE FROM settings WHERE name = ?').run(name);
        else db.prepare('INSERT INTO settings VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
      }
      if (event) appendChainSqlite(db, [event(counts)]);
    }).immediate();
    return counts;
  }

  /**
   * On a connection of its own, inside one read transaction: in WAL mode it sees the database as of its first read,
   * while this and other processes go on writing (they append to the WAL; the reader keeps its snapshot).
   */
  async *exportSnapshot(): AsyncIterable<SnapshotRecord> {
    const db = SqliteStorage.#open(this.#file);
    try {
      db.pragma('query_only = ON');
      db.exec('BEGIN DEFERRED');
      // A deferred transaction takes its snapshot at its first read: take it now, before anything is yielded.
      db.prepare('SELECT COUNT(*) FROM settings').pluck().get();
      for (const r of db.prepare('SELECT name, value FROM settings ORDER BY name').iterate() as IterableIterator<{ name: string; value: string }>) {
        yield { type: 'setting', name: r.name, value: r.value };
      }
      for (const r of db.prepare('SELECT * FROM access_keys ORDER BY access_key_id').iterate() as IterableIterator<AccessKeyRow>) {
        yield { type: 'accessKey', accessKey: toAccessKey(r) };
      }
      for (const r of db.prepare('SELECT * FROM principals ORDER BY account, kind, name_key').iterate() as IterableIterator<PrincipalRow>) {
        yield { type: 'principal', principal: toPrincipal(r) };
      }
      for (const r of db.prepare('SELECT * FROM identity_policies ORDER BY principal_arn, policy_name').iterate() as IterableIterator<IdentityPolicyRow>) {
        yield { type: 'identityPolicy', policy: toIdentityPolicy(r) };
      }
      for (const r of db.prepare('SELECT * FROM custom_key_stores ORDER BY account, region, custom_key_store_id').iterate() as IterableIterator<CustomKeyStoreRow>) {
        yield { type: 'customKeyStore', customKeyStore: toCustomKeyStore(r) };
      }
      for (const r of db.prepare('SELECT * FROM keys ORDER BY account, region, key_id').iterate() as IterableIterator<KeyRow>) {
        yield { type: 'key', key: toKey(r) };
      }
      for (const r of db.prepare('SELECT * FROM key_materials ORDER BY key_arn, material_id').iterate() as IterableIterator<MaterialRow>) {
        yield { type: 'material', material: toMaterial(r) };
      }
      for (const r of db.prepare('SELECT * FROM aliases ORDER BY account, region, alias_name').iterate() as IterableIterator<AliasRow>) {
        yield { type: 'alias', alias: toAlias(r) };
      }
      for (const r of db.prepare('SELECT * FROM tags ORDER BY key_arn, tag_key').iterate() as IterableIterator<{ key_arn: string; tag_key: string; tag_value: string }>) {
        yield { type: 'tag', keyArn: r.key_arn, tag: { key: r.tag_key, value: r.tag_value } };
      }
      for (const r of db.prepare('SELECT * FROM grants ORDER BY key_arn, grant_id').iterate() as IterableIterator<GrantRow>) {
        yield { type: 'grant', grant: toGrant(r) };
      }
      for (const r of db.prepare('SELECT * FROM audit_events ORDER BY seq').iterate() as IterableIterator<AuditRow>) {
        yield { type: 'auditEvent', event: toAuditEvent(r) };
      }
      db.exec('COMMIT');
    } finally {
      db.close(); // also ends the read transaction when the consumer stopped early or failed
    }
  }

  /** On a connection of its own holding the write lock (BEGIN IMMEDIATE) from the emptiness check to the commit. */
  async importSnapshot(records: AsyncIterable<SnapshotRecord> | Iterable<SnapshotRecord>): Promise<SnapshotCounts> {
    const db = SqliteStorage.#open(this.#file);
    const counts = emptySnapshotCounts();
    try {
      db.exec('BEGIN IMMEDIATE');
      for (const table of SNAPSHOT_TABLES) {
        if (db.prepare(`SELECT 1 FROM ${table} LIMIT 1`).get() !== undefined) throw new StorageNotEmptyError(`table ${table} has rows`);
      }
      const insert = {
        setting: db.prepare('INSERT INTO settings VALUES (?, ?)'),
        accessKey: db.prepare('INSERT INTO access_keys VALUES (?, ?, ?, ?, ?)'),
        principal: db.prepare(INSERT_PRINCIPAL),
        identityPolicy: db.prepare('INSERT INTO identity_policies VALUES (?, ?, ?)'),
        customKeyStore: db.prepare(`INSERT INTO custom_key_stores (${CKS_COLUMNS}) VALUES (${CKS_COLUMNS.split(', ').map((c) => `@${c}`).join(', ')})`),
        key: db.prepare(INSERT_KEY),
        material: db.prepare(INSERT_MATERIAL),
        alias: db.prepare('INSERT INTO aliases VALUES (?, ?, ?, ?, ?, ?)'),
        tag: db.prepare('INSERT INTO tags VALUES (?, ?, ?)'),
        grant: db.prepare(INSERT_GRANT),
        auditEvent: db.prepare(INSERT_AUDIT),
      };
      let last: AuditEventRecord | undefined;
      for await (const r of records) {
        switch (r.type) {
          case 'setting':
            insert.setting.run(r.name, r.value);
            break;
          case 'accessKey': {
            const a = r.accessKey;
            insert.accessKey.run(a.accessKeyId, a.account, a.principalArn, a.secretWrapped, a.createdAt.getTime());
            break;
          }
          case 'principal':
            insert.principal.run(...principalParams(r.principal));
            break;
          case 'identityPolicy':
            insert.identityPolicy.run(r.policy.principalArn, r.policy.policyName, r.policy.document);
            break;
          case 'customKeyStore':
            insert.customKeyStore.run(customKeyStoreParams(r.customKeyStore));
            break;
          case 'key':
            insert.key.run(keyParams(r.key));
            break;
          case 'material':
            insert.material.run(...materialParams(r.material));
            break;
          case 'alias': {
            const a = r.alias;
            insert.alias.run(a.account, a.region, a.aliasName, a.targetKeyId, a.creationDate.getTime(), a.lastUpdatedDate.getTime());
            break;
          }
          case 'tag':
            insert.tag.run(r.keyArn, r.tag.key, r.tag.value);
            break;
          case 'grant':
            insert.grant.run(...grantValues(r.grant));
            break;
          case 'auditEvent':
            // As stored, hashes included: the restored chain verifies, and continues from its last event.
            insert.auditEvent.run(...auditParams(r.event));
            if (!last || r.event.seq > last.seq) last = r.event;
            break;
          default: {
            const unknown: never = r;
            throw new Error(`unknown snapshot record type ${String((unknown as { type: unknown }).type)}`);
          }
        }
        counts[r.type]++;
      }
      if (last) {
        db.prepare('UPDATE audit_chain_head SET seq = ?, hash = ?, tracking_start = min(tracking_start, (SELECT min(event_time) FROM audit_events)) WHERE id = 1')
          .run(last.seq, last.hash);
      }
      db.exec('COMMIT');
      return counts;
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`a record of the snapshot (${(err as Error).message})`);
      throw err;
    } finally {
      db.close();
    }
  }
}
