// The PostgreSQL side of the audit trail (docs/audit.md): the chain append (a request's transaction, and the append
// worker, audit-append-worker.ts) and the connection settings both use.
import type pg from 'pg';
import { AUDIT_ANCHOR_SETTING, decodeAnchor, encodeAnchor, sameAnchor, type AuditAnchor } from '../../domain/audit-chain.js';
import { StorageConflictError, type AuditEventInput, type AuditEventRecord } from '../../domain/ports.js';
import { chainRecords } from '../audit-appender.js';

/**
 * A pool's settings. `timeoutMs` bounds the wait for a connection and each statement (statement_timeout on the server,
 * plus a client-side read timeout 1 s later for a server that does not answer at all); undefined: 10 s for a
 * connection, statements unbounded.
 */
export function poolConfig(url: string, max: number, timeoutMs: number | undefined): pg.PoolConfig {
  const t = timeoutMs;
  return {
    connectionString: url,
    max,
    connectionTimeoutMillis: t ?? 10_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'trent',
    ...(t === undefined ? {} : { statement_timeout: t, query_timeout: t + 1_000, idle_in_transaction_session_timeout: Math.max(4 * t, 10_000) }),
  };
}

/** What the chain functions query through: a transaction's client. */
interface Queryable {
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export const AUDIT_COLUMNS = 'seq, event_id, event_time, event_name, account, resource_account, key_arn, principal, username, read_only, usage, request_id, event, prev_hash, hash';
export const auditValues = (e: AuditEventRecord): unknown[] => [
  e.seq, e.eventId, e.eventTime, e.eventName, e.account, e.resourceAccount ?? null, e.keyArn ?? null, e.principal ?? null,
  e.username ?? null, e.readOnly, e.usage ?? null, e.requestId, e.json, e.prevHash, e.hash,
];
/** Rows per INSERT statement when appending a batch (15 parameters each, well under PostgreSQL's 65,535). */
const AUDIT_ROWS_PER_INSERT = 500;

/**
 * Extends the chain inside the caller's transaction: the head row is locked (FOR UPDATE) until the transaction ends,
 * so appends from every node are serialized into one linear chain.
 */
export async function appendChain(c: Queryable, events: readonly AuditEventInput[]): Promise<AuditEventRecord[]> {
  const head = (await c.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE')).rows[0]!;
  const stored = chainRecords(events, Number(head.seq), head.hash);
  for (let i = 0; i < stored.length; i += AUDIT_ROWS_PER_INSERT) {
    const chunk = stored.slice(i, i + AUDIT_ROWS_PER_INSERT);
    const values: unknown[] = [];
    const rows = chunk.map((r) => {
      const base = values.length;
      values.push(...auditValues(r));
      return `(${Array.from({ length: 15 }, (_, k) => `$${base + k + 1}`).join(', ')})`;
    });
    await c.query(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES ${rows.join(', ')}`, values);
  }
  const last = stored.at(-1);
  if (last) await c.query('UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1', [last.seq, last.hash]);
  return stored;
}

/**
 * Appends `events` in a transaction of their own on `c`, then releases it: destroyed when `broke(err)` says the
 * connection broke, or when the rollback fails.
 */
export async function appendInTransaction(c: pg.PoolClient, events: readonly AuditEventInput[], broke: (err: unknown) => boolean): Promise<AuditEventRecord[]> {
  let broken: Error | undefined;
  try {
    await c.query('BEGIN');
    const stored = await appendChain(c, events);
    await c.query('COMMIT');
    return stored;
  } catch (err) {
    if (broke(err)) broken = err as Error;
    else await c.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    c.release(broken);
  }
}

/**
 * Retention's prune (AuditStore.pruneAuditEvents) inside the caller's transaction: the chain head is locked first (FOR
 * UPDATE, as appends lock it), then the checks, the delete, the new anchor and tracking start, and the prune's event.
 */
export async function pruneChain(
  c: Queryable, from: AuditAnchor | undefined, through: AuditAnchor, trackingStart: number, event: AuditEventInput,
): Promise<{ deleted: number; record: AuditEventRecord }> {
  await c.query('SELECT seq FROM audit_chain_head WHERE id = 1 FOR UPDATE');
  const current = (await c.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [AUDIT_ANCHOR_SETTING])).rows[0]?.value;
  if (!sameAnchor(current === undefined ? undefined : decodeAnchor(current), from)) throw new StorageConflictError('the audit trail (it was pruned meanwhile)');
  const hash = (await c.query<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = $1', [through.seq])).rows[0]?.hash;
  if (hash !== through.hash) throw new StorageConflictError(`the audit trail (event ${through.seq} is not the one archived)`);
  const deleted = (await c.query('DELETE FROM audit_events WHERE seq <= $1', [through.seq])).rowCount ?? 0;
  await c.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [AUDIT_ANCHOR_SETTING, encodeAnchor(through)]);
  await c.query('UPDATE audit_chain_head SET tracking_start = GREATEST(tracking_start, $1) WHERE id = 1', [trackingStart]);
  const [record] = await appendChain(c, [event]);
  return { deleted, record: record! };
}
