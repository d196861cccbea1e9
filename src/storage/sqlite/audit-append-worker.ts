// The SQLite append worker (storage/audit-appender.ts, docs/audit.md): better-sqlite3 is synchronous, so appending
// (and the WAL checkpoints it causes) on the main thread would stall every request.
import { parentPort, workerData } from 'node:worker_threads';
import { serveAuditAppends } from '../audit-appender.js';
import { appendChainSqlite, openSqlite } from './sqlite-audit.js';

const db = openSqlite((workerData as { file: string }).file);
// A commit does not wait for fsync: it survives a crash of the process (it is in the WAL), not an OS crash.
db.pragma('synchronous = NORMAL');

serveAuditAppends((events) => db.transaction(() => appendChainSqlite(db, events)).immediate());
parentPort!.on('close', () => db.close());
