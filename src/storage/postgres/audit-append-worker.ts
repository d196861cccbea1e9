// The PostgreSQL append worker (storage/audit-appender.ts, docs/audit.md): batches of audit events appended on a
// connection of its own, one transaction each, so that building the events and encoding the inserts do not run on the
// thread that answers requests.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { serveAuditAppends } from '../audit-appender.js';
import { appendChain, poolConfig } from './postgres-audit.js';

const { url, timeoutMs } = workerData as { url: string; timeoutMs: number | undefined };
// One connection, made again after a failure (the trail retries a batch that failed).
const pool = new pg.Pool(poolConfig(url, 1, timeoutMs));
pool.on('error', () => {});
pool.on('connect', (client) => client.on('error', () => {}));

serveAuditAppends(async (events) => {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await c.query('BEGIN');
    const stored = await appendChain(c, events);
    await c.query('COMMIT');
    return stored;
  } catch (err) {
    await c.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    c.release(broken);
  }
});
parentPort!.on('close', () => void pool.end());
