// A worker thread that appends batches of audit events to the SQLite store (docs/audit.md): better-sqlite3 is
// synchronous, so appending (and the WAL checkpoints it causes) on the main thread would stall every request.
import { parentPort, workerData } from 'node:worker_threads';
import { appendChainSqlite, openSqlite, unpackBatch, type PackedBatch } from './sqlite-audit.js';

const db = openSqlite((workerData as { file: string }).file);
// A commit does not wait for fsync: it survives a crash of the process (it is in the WAL), not an OS crash.
db.pragma('synchronous = NORMAL');

parentPort!.on('message', (m: { id: number } & PackedBatch) => {
  try {
    const events = unpackBatch(m);
    const stored = db.transaction(() => appendChainSqlite(db, events)).immediate();
    parentPort!.postMessage({ id: m.id, firstSeq: stored[0]!.seq, prevHash: stored[0]!.prevHash, hashes: stored.map((r) => r.hash).join('') });
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: { message: (err as Error).message, code: (err as { code?: string }).code } });
  }
});
parentPort!.on('close', () => db.close());
