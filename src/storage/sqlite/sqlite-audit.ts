// The SQLite side of the audit trail (docs/audit.md): rows and the chain append (main connection and the append
// worker, storage/audit-appender.ts).
import type BetterSqlite3 from 'better-sqlite3';
import { AUDIT_ANCHOR_SETTING, decodeAnchor, encodeAnchor, sameAnchor, type AuditAnchor } from '../../domain/audit-chain.js';
import { StorageConflictError, type AuditEventInput, type AuditEventRecord } from '../../domain/ports.js';
import { chainRecords } from '../audit-appender.js';
import { sqliteDriver, type SqliteDatabase } from './driver.js';

/** Opens the store file with Trent's pragmas: full-sync commits, foreign keys, a busy timeout, secure delete. */
export function openSqlite(file: string): SqliteDatabase {
  const { Database } = sqliteDriver();
  const db = new Database(file);
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Deleted content is overwritten with zeros, not left in free pages: erased key material is gone from the file.
  db.pragma('secure_delete = ON');
  return db;
}

export interface AuditRow {
  seq: number; event_id: string; event_time: number; event_name: string; account: string; resource_account: string | null;
  key_arn: string | null; principal: string | null; username: string | null; read_only: number; usage: string | null;
  request_id: string; event: string; prev_hash: string; hash: string;
}
export const toAuditEvent = (r: AuditRow): AuditEventRecord => ({
  seq: r.seq, eventId: r.event_id, eventTime: r.event_time, eventName: r.event_name, account: r.account,
  resourceAccount: r.resource_account ?? undefined, keyArn: r.key_arn ?? undefined, principal: r.principal ?? undefined,
  username: r.username ?? undefined, readOnly: r.read_only === 1, usage: r.usage ?? undefined, requestId: r.request_id,
  json: r.event, prevHash: r.prev_hash, hash: r.hash,
});
export const INSERT_AUDIT = `INSERT INTO audit_events (seq, event_id, event_time, event_name, account, resource_account, key_arn, principal,
  username, read_only, usage, request_id, event, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
export const auditParams = (e: AuditEventRecord) => [
  e.seq, e.eventId, e.eventTime, e.eventName, e.account, e.resourceAccount ?? null, e.keyArn ?? null, e.principal ?? null,
  e.username ?? null, e.readOnly ? 1 : 0, e.usage ?? null, e.requestId, e.json, e.prevHash, e.hash,
];

interface Statements {
  readonly head: BetterSqlite3.Statement;
  readonly insert: BetterSqlite3.Statement;
  /** INSERT of ROWS_PER_INSERT rows at once (fewer statement runs for a batch). */
  readonly insertMany: BetterSqlite3.Statement;
  readonly setHead: BetterSqlite3.Statement;
}
const ROWS_PER_INSERT = 50;
const statements = new WeakMap<SqliteDatabase, Statements>();

/**
 * Extends the chain from its head row. Call inside a write transaction: SQLite has one writer at a time, whichever
 * connection (or thread) it is, so the chain stays linear.
 */
export function appendChainSqlite(db: SqliteDatabase, events: readonly AuditEventInput[]): AuditEventRecord[] {
  let st = statements.get(db);
  if (!st) {
    st = {
      head: db.prepare('SELECT seq, hash FROM audit_chain_head WHERE id = 1'),
      insert: db.prepare(INSERT_AUDIT),
      insertMany: db.prepare(`${INSERT_AUDIT}${', (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'.repeat(ROWS_PER_INSERT - 1)}`),
      setHead: db.prepare('UPDATE audit_chain_head SET seq = ?, hash = ? WHERE id = 1'),
    };
    statements.set(db, st);
  }
  const head = st.head.get() as { seq: number; hash: string };
  const stored = chainRecords(events, head.seq, head.hash);
  let i = 0;
  for (; i + ROWS_PER_INSERT <= stored.length; i += ROWS_PER_INSERT) st.insertMany.run(...stored.slice(i, i + ROWS_PER_INSERT).flatMap(auditParams));
  for (; i < stored.length; i++) st.insert.run(...auditParams(stored[i]!));
  const last = stored.at(-1);
  if (last) st.setHead.run(last.seq, last.hash);
  return stored;
}

/**
 * Retention's prune (AuditStore.pruneAuditEvents), inside the caller's write transaction: the checks, the delete, the
 * new anchor and tracking start, and the prune's own event, all or nothing.
 */
export function pruneChainSqlite(
  db: SqliteDatabase, from: AuditAnchor | undefined, through: AuditAnchor, trackingStart: number, event: AuditEventInput,
): { deleted: number; record: AuditEventRecord } {
  const current = db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(AUDIT_ANCHOR_SETTING) as string | undefined;
  if (!sameAnchor(current === undefined ? undefined : decodeAnchor(current), from)) throw new StorageConflictError('the audit trail (it was pruned meanwhile)');
  const hash = db.prepare('SELECT hash FROM audit_events WHERE seq = ?').pluck().get(through.seq) as string | undefined;
  if (hash !== through.hash) throw new StorageConflictError(`the audit trail (event ${through.seq} is not the one archived)`);
  const deleted = db.prepare('DELETE FROM audit_events WHERE seq <= ?').run(through.seq).changes;
  db.prepare('INSERT INTO settings VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(AUDIT_ANCHOR_SETTING, encodeAnchor(through));
  db.prepare('UPDATE audit_chain_head SET tracking_start = max(tracking_start, ?) WHERE id = 1').run(trackingStart);
  const [record] = appendChainSqlite(db, [event]);
  return { deleted, record: record! };
}
