import { sqliteDriver, type SqliteDatabase } from './driver.js';
import type {
  AccessKeyRecord, AliasRecord, KeyRecord, MaterialRecord, Page, Scope, SnapshotCounts, SnapshotRecord, SnapshotStorage, Storage, TagRecord,
} from '../../domain/ports.js';
import {
  emptySnapshotCounts, StorageConflictError, StorageDuplicateError, StorageLimitError, StorageNotEmptyError,
} from '../../domain/ports.js';
import { IAM_GENERATION_SETTING, type IdentityPolicyRecord, type PrincipalRecord } from '../../domain/principals.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { GRANT_COLUMNS, grantValues, retirableSortKey, splitRetirableSortKey, toGrant, type GrantRow } from '../grant-rows.js';
import type { GrantRecord } from '../../domain/ports.js';

interface KeyRow {
  account: string; region: string; key_id: string; arn: string; creation_date: number; description: string;
  key_usage: string; key_spec: string; origin: string; key_manager: string; key_state: string;
  deletion_date: number | null; current_material_id: string | null; multi_region: number; policy: string; version: number;
  rotation_period_days: number | null; next_rotation_date: number | null; on_demand_rotations: number;
}
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
});
const keyParams = (k: KeyRecord) => ({
  account: k.account, region: k.region, key_id: k.keyId, arn: k.arn, creation_date: k.creationDate.getTime(),
  description: k.description, key_usage: k.keyUsage, key_spec: k.keySpec, origin: k.origin, key_manager: k.keyManager,
  key_state: k.keyState, deletion_date: k.deletionDate?.getTime() ?? null, current_material_id: k.currentMaterialId ?? null,
  multi_region: k.multiRegion ? 1 : 0, policy: k.policy, version: k.version,
  rotation_period_days: k.rotationPeriodDays ?? null, next_rotation_date: k.nextRotationDate?.getTime() ?? null,
  on_demand_rotations: k.onDemandRotations ?? 0,
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
  key_state, deletion_date, current_material_id, multi_region, policy, version, rotation_period_days, next_rotation_date, on_demand_rotations)
  VALUES (@account, @region, @key_id, @arn, @creation_date, @description, @key_usage, @key_spec,
  @origin, @key_manager, @key_state, @deletion_date, @current_material_id, @multi_region, @policy, @version,
  @rotation_period_days, @next_rotation_date, @on_demand_rotations)`;
const UPDATE_KEY = `UPDATE keys SET description = @description, key_usage = @key_usage, key_spec = @key_spec, origin = @origin,
    key_manager = @key_manager, key_state = @key_state, deletion_date = @deletion_date,
    current_material_id = @current_material_id, multi_region = @multi_region, policy = @policy,
    rotation_period_days = @rotation_period_days, next_rotation_date = @next_rotation_date, on_demand_rotations = @on_demand_rotations,
    version = @version + 1
  WHERE account = @account AND region = @region AND key_id = @key_id AND version = @version`;
/** The tables a snapshot covers, in export order. */
const SNAPSHOT_TABLES = ['settings', 'access_keys', 'principals', 'identity_policies', 'keys', 'key_materials', 'aliases', 'tags', 'grants'] as const;
const INSERT_GRANT = `INSERT INTO grants (${GRANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const isUniqueViolation = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && String((err as { code?: string }).code).startsWith('SQLITE_CONSTRAINT');

/** The embedded default store: one SQLite file in WAL mode with full-sync commits. */
export class SqliteStorage implements Storage, SnapshotStorage {
  readonly #db: SqliteDatabase;
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
    this.#db = SqliteStorage.#open(file);
    this.#db.pragma('journal_mode = WAL');
  }

  static #open(file: string): SqliteDatabase {
    const { Database } = sqliteDriver();
    const db = new Database(file);
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // Deleted content is overwritten with zeros, not left in free pages: erased key material is gone from the file.
    db.pragma('secure_delete = ON');
    return db;
  }

  async migrate(): Promise<void> {
    const db = this.#db;
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      db.transaction(() => {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
      }).immediate();
    }
  }

  async close(): Promise<void> {
    this.#db.close();
  }

  async insertKey(key: KeyRecord, materials: readonly MaterialRecord[], tags: readonly TagRecord[]): Promise<void> {
    const db = this.#db;
    try {
      db.transaction(() => {
        db.prepare(INSERT_KEY).run(keyParams(key));
        const m = db.prepare(INSERT_MATERIAL);
        for (const mat of materials) m.run(...materialParams(mat));
        const t = db.prepare('INSERT INTO tags VALUES (?, ?, ?)');
        for (const tag of tags) t.run(key.arn, tag.key, tag.value);
      }).immediate();
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
    const result = this.#db.prepare(UPDATE_KEY).run(keyParams(key));
    if (result.changes !== 1) throw new StorageConflictError(`key ${key.arn}`);
    return next;
  }

  async rotateKey(key: KeyRecord, material: MaterialRecord): Promise<KeyRecord> {
    const db = this.#db;
    try {
      db.transaction(() => {
        // The compare-and-set first: a lost race throws before the material is inserted (and the throw rolls back).
        if (db.prepare(UPDATE_KEY).run(keyParams(key)).changes !== 1) throw new StorageConflictError(`key ${key.arn}`);
        db.prepare(INSERT_MATERIAL).run(...materialParams(material));
      }).immediate();
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageDuplicateError(`material ${material.materialId} of key ${key.arn}`);
      throw err;
    }
    return { ...key, version: key.version + 1 };
  }

  async putMaterial(key: KeyRecord, material: MaterialRecord): Promise<KeyRecord> {
    const db = this.#db;
    db.transaction(() => {
      if (db.prepare(UPDATE_KEY).run(keyParams(key)).changes !== 1) throw new StorageConflictError(`key ${key.arn}`);
      db.prepare(UPSERT_MATERIAL).run(...materialParams(material));
    }).immediate();
    return { ...key, version: key.version + 1 };
  }

  async eraseMaterials(key: KeyRecord, materialIds: readonly string[]): Promise<KeyRecord> {
    const db = this.#db;
    db.transaction(() => {
      if (db.prepare(UPDATE_KEY).run(keyParams(key)).changes !== 1) throw new StorageConflictError(`key ${key.arn}`);
      const erase = db.prepare("UPDATE key_materials SET wrapped = x'' WHERE key_arn = ? AND material_id = ?");
      for (const id of materialIds) erase.run(key.arn, id);
    }).immediate();
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
    return db.transaction(() => {
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
    }).immediate();
  }

  async getMaterials(keyArn: string): Promise<MaterialRecord[]> {
    const rows = this.#db.prepare('SELECT * FROM key_materials WHERE key_arn = ? ORDER BY created_at').all(keyArn) as MaterialRow[];
    return rows.map(toMaterial);
  }

  async insertAlias(alias: AliasRecord, maxPerTarget?: number): Promise<void> {
    const db = this.#db;
    try {
      db.transaction(() => {
        if (maxPerTarget !== undefined && this.#aliasCount(alias, alias.targetKeyId) >= maxPerTarget) throw new StorageLimitError(`aliases of key ${alias.targetKeyId}`);
        db.prepare('INSERT INTO aliases VALUES (?, ?, ?, ?, ?, ?)')
          .run(alias.account, alias.region, alias.aliasName, alias.targetKeyId, alias.creationDate.getTime(), alias.lastUpdatedDate.getTime());
      }).immediate();
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
    return db.transaction(() => {
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
    }).immediate();
  }

  #aliasCount(scope: Scope, targetKeyId: string): number {
    return this.#db
      .prepare('SELECT COUNT(*) FROM aliases WHERE account = ? AND region = ? AND target_key_id = ?')
      .pluck()
      .get(scope.account, scope.region, targetKeyId) as number;
  }

  async deleteAlias(scope: Scope, aliasName: string): Promise<boolean> {
    const r = this.#db.prepare('DELETE FROM aliases WHERE account = ? AND region = ? AND alias_name = ?').run(scope.account, scope.region, aliasName);
    return r.changes === 1;
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
    db.transaction(() => {
      const s = db.prepare('INSERT INTO tags VALUES (?, ?, ?) ON CONFLICT (key_arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value');
      for (const t of tags) s.run(keyArn, t.key, t.value);
      // Inside the transaction: a throw rolls every tag of this call back.
      if (maxTags !== undefined && (db.prepare('SELECT COUNT(*) FROM tags WHERE key_arn = ?').pluck().get(keyArn) as number) > maxTags) {
        throw new StorageLimitError(`tags of key ${keyArn}`);
      }
    }).immediate();
  }

  async removeTags(keyArn: string, tagKeys: readonly string[]): Promise<void> {
    const db = this.#db;
    db.transaction(() => {
      const s = db.prepare('DELETE FROM tags WHERE key_arn = ? AND tag_key = ?');
      for (const k of tagKeys) s.run(keyArn, k);
    }).immediate();
  }

  async insertGrant(grant: GrantRecord, limits?: { readonly perKey: number; readonly perGrantee: number }): Promise<void> {
    const db = this.#db;
    try {
      db.transaction(() => {
        if (limits) {
          const count = (sql: string, ...args: unknown[]) => db.prepare(sql).pluck().get(...args) as number;
          if (count('SELECT COUNT(*) FROM grants WHERE key_arn = ?', grant.keyArn) >= limits.perKey) throw new StorageLimitError(`grants of key ${grant.keyArn}`);
          if (count('SELECT COUNT(*) FROM grants WHERE key_arn = ? AND grantee_principal = ?', grant.keyArn, grant.granteePrincipal) >= limits.perGrantee) {
            throw new StorageLimitError(`grants for ${grant.granteePrincipal} on key ${grant.keyArn}`);
          }
        }
        db.prepare(INSERT_GRANT).run(...grantValues(grant));
      }).immediate();
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
    return this.#db.prepare('DELETE FROM grants WHERE key_arn = ? AND grant_id = ?').run(keyArn, grantId).changes === 1;
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

  async wipe(): Promise<void> {
    const db = this.#db;
    db.transaction(() => {
      for (const table of ['key_materials', 'tags', 'grants', 'aliases', 'keys']) db.exec(`DELETE FROM ${table}`);
    }).immediate();
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
        key: db.prepare(INSERT_KEY),
        material: db.prepare(INSERT_MATERIAL),
        alias: db.prepare('INSERT INTO aliases VALUES (?, ?, ?, ?, ?, ?)'),
        tag: db.prepare('INSERT INTO tags VALUES (?, ?, ?)'),
        grant: db.prepare(INSERT_GRANT),
      };
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
          default: {
            const unknown: never = r;
            throw new Error(`unknown snapshot record type ${String((unknown as { type: unknown }).type)}`);
          }
        }
        counts[r.type]++;
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
