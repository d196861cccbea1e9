// The SQLite side of the audit trail (docs/audit.md): rows, the chain append (main connection and worker), and the
// worker that appends batches off the main thread.
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { chainHash } from '../../domain/audit-chain.js';
import type { AuditEventInput, AuditEventRecord } from '../../domain/ports.js';
import { packAuditBatch } from '../../domain/audit-batch.js';
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
/** The record of an event at its chain position: an object literal of one shape (a spread of the event was 3× slower). */
export const withChain = (e: AuditEventInput, seq: number, prevHash: string, hash: string): AuditEventRecord => ({
  eventId: e.eventId, eventTime: e.eventTime, eventName: e.eventName, account: e.account, resourceAccount: e.resourceAccount,
  keyArn: e.keyArn, principal: e.principal, username: e.username, readOnly: e.readOnly, usage: e.usage, requestId: e.requestId,
  json: e.json, seq, prevHash, hash,
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
  let { seq, hash } = st.head.get() as { seq: number; hash: string };
  const stored: AuditEventRecord[] = [];
  for (const e of events) {
    seq++;
    const record = withChain(e, seq, hash, chainHash(hash, seq, e.json));
    stored.push(record);
    hash = record.hash;
  }
  let i = 0;
  for (; i + ROWS_PER_INSERT <= stored.length; i += ROWS_PER_INSERT) st.insertMany.run(...stored.slice(i, i + ROWS_PER_INSERT).flatMap(auditParams));
  for (; i < stored.length; i++) st.insert.run(...auditParams(stored[i]!));
  st.setHead.run(seq, hash);
  return stored;
}

/**
 * What the worker answers: the chain position of the batch, and the events' hashes (one string) or their JSON lines,
 * as asked. A batch goes to it as one string (domain/audit-batch.ts): structured cloning a thousand objects cost the
 * main thread more than their JSON.
 */
export interface AppendReply {
  readonly id: number;
  readonly count?: number;
  readonly firstSeq?: number;
  readonly prevHash?: string;
  readonly hashes?: string;
  readonly lines?: string;
  readonly error?: { readonly message: string; readonly code?: string };
}
export type AppendRequest = { readonly id: number; readonly batch: string; readonly reply: 'hashes' | 'lines' | 'count' };

interface Waiting {
  readonly resolve: (r: AppendReply) => void;
  readonly reject: (e: Error) => void;
}

/** The main thread's end of the append worker: one batch in flight per message, answered in order. */
export class AuditAppender {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  #next = 0;
  #failed: Error | undefined;

  constructor(file: string) {
    this.#worker = new Worker(new URL('./audit-append-worker.js', import.meta.url), { workerData: { file } });
    this.#worker.unref();
    this.#worker.on('message', (m: AppendReply) => {
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (this.#waiting.size === 0) this.#worker.unref();
      if (!w) return;
      if (m.error) w.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else w.resolve(m);
    });
    const fail = (err: Error) => {
      this.#failed = err;
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the audit append worker exited (${code})`)));
  }

  #send(batch: string, reply: AppendRequest['reply']): Promise<AppendReply> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ id, batch, reply } satisfies AppendRequest);
    });
  }

  /** Appends built events and returns their records. */
  async append(events: readonly AuditEventInput[]): Promise<AuditEventRecord[]> {
    const m = await this.#send(packAuditBatch(events), 'hashes');
    // The worker answers with the chain positions only (the hashes as one string): the events are ours already.
    const hashes = m.hashes!;
    let prevHash = m.prevHash!;
    const records: AuditEventRecord[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const hash = hashes.slice(i * 64, i * 64 + 64);
      records[i] = withChain(events[i]!, m.firstSeq! + i, prevHash, hash);
      prevHash = hash;
    }
    return records;
  }

  /** Appends a packed batch; the worker builds the API calls' events. */
  async appendBatch(batch: string, lines: boolean): Promise<{ count: number; lines?: string | undefined }> {
    const m = await this.#send(batch, lines ? 'lines' : 'count');
    return { count: m.count!, lines: m.lines };
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
