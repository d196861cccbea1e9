// The PostgreSQL append worker (storage/audit-appender.ts, docs/audit.md): batches of audit events appended on a
// connection of its own, one transaction each, so that building the events and encoding the inserts do not run on the
// thread that answers requests.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { serveAuditAppends } from '../audit-appender.js';
import { appendInTransaction, poolConfig } from './postgres-audit.js';
import { unavailableReason } from './pg-errors.js';

const { url, timeoutMs } = workerData as { url: string; timeoutMs: number | undefined };
// One connection, made again after a failure (the trail retries a batch that failed).
const pool = new pg.Pool(poolConfig(url, 1, timeoutMs));
pool.on('error', () => {});
pool.on('connect', (client) => client.on('error', () => {}));

serveAuditAppends(async (events) => appendInTransaction(await pool.connect(), events, (err) => unavailableReason(err) !== undefined));
parentPort!.on('close', () => void pool.end());
