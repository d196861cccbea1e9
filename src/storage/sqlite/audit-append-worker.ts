// A worker thread that appends batches of audit events to the SQLite store (docs/audit.md): better-sqlite3 is
// synchronous, so appending (and the WAL checkpoints it causes) on the main thread would stall every request. The
// events of API calls recorded in compact form are built here too, off the thread that answers requests.
import { parentPort, workerData } from 'node:worker_threads';
import { unpackAuditBatch } from '../../domain/audit-batch.js';
import { appendChainSqlite, openSqlite, type AppendReply, type AppendRequest } from './sqlite-audit.js';

const db = openSqlite((workerData as { file: string }).file);
// A commit does not wait for fsync: it survives a crash of the process (it is in the WAL), not an OS crash.
db.pragma('synchronous = NORMAL');

const answer = (m: AppendRequest): AppendReply => {
  const events = unpackAuditBatch(m.batch);
  if (events.length === 0) return { id: m.id, count: 0, lines: '' };
  const stored = db.transaction(() => appendChainSqlite(db, events)).immediate();
  switch (m.reply) {
    case 'hashes':
      return { id: m.id, count: stored.length, firstSeq: stored[0]!.seq, prevHash: stored[0]!.prevHash, hashes: stored.map((r) => r.hash).join('') };
    case 'lines':
      return { id: m.id, count: stored.length, lines: stored.map((r) => r.json).join('\n') };
    case 'count':
      return { id: m.id, count: stored.length };
  }
};

parentPort!.on('message', (m: AppendRequest) => {
  try {
    parentPort!.postMessage(answer(m));
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: { message: (err as Error).message, code: (err as { code?: string }).code } } satisfies AppendReply);
  }
});
parentPort!.on('close', () => db.close());
