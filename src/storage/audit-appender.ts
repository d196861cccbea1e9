// The audit trail's append worker, for both backends (docs/audit.md): batches of events are appended by a worker
// thread, so that building the events, the inserts and what the store does to commit them run off the thread that
// answers requests. This module has both ends: AuditAppender (main thread) and serveAuditAppends (the worker).
import { parentPort, Worker } from 'node:worker_threads';
import { packAuditBatch, unpackAuditBatch } from '../domain/audit-batch.js';
import { chainHash } from '../domain/audit-chain.js';
import type { AuditEventInput, AuditEventRecord } from '../domain/ports.js';

/** The record of an event at its chain position: an object literal of one shape (a spread of the event was 3× slower). */
export const withChain = (e: AuditEventInput, seq: number, prevHash: string, hash: string): AuditEventRecord => ({
  eventId: e.eventId, eventTime: e.eventTime, eventName: e.eventName, account: e.account, resourceAccount: e.resourceAccount,
  keyArn: e.keyArn, principal: e.principal, username: e.username, readOnly: e.readOnly, usage: e.usage, requestId: e.requestId,
  json: e.json, seq, prevHash, hash,
});

/** The records of `events` appended after the chain head (seq, hash): their positions and hashes, in order. */
export function chainRecords(events: readonly AuditEventInput[], headSeq: number, headHash: string): AuditEventRecord[] {
  let hash = headHash;
  return events.map((e, i) => {
    const seq = headSeq + i + 1;
    const record = withChain(e, seq, hash, chainHash(hash, seq, e.json));
    hash = record.hash;
    return record;
  });
}

/** A batch goes to the worker as one string (domain/audit-batch.ts): structured cloning objects cost more than JSON. */
interface AppendRequest {
  readonly id: number;
  readonly batch: string;
  /** What to answer besides the count: the events' hashes as one string (for records), or their JSON lines. */
  readonly reply: 'hashes' | 'lines' | 'count';
}

interface AppendReply {
  readonly id: number;
  readonly count?: number;
  readonly firstSeq?: number;
  readonly prevHash?: string;
  readonly hashes?: string;
  readonly lines?: string;
  readonly error?: { readonly message: string; readonly code?: string };
}

interface Waiting {
  readonly resolve: (r: AppendReply) => void;
  readonly reject: (e: Error) => void;
}

/** The main thread's end of an append worker: batches are answered in the order they were sent. */
export class AuditAppender {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  #next = 0;
  #failed: Error | undefined;

  constructor(worker: URL, workerData: unknown) {
    this.#worker = new Worker(worker, { workerData });
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
    if (events.length === 0) return [];
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

/**
 * The worker's end: appends each batch with `append` (one transaction, extending the chain), one batch at a time in
 * the order received, and answers as asked.
 */
export function serveAuditAppends(append: (events: readonly AuditEventInput[]) => AuditEventRecord[] | Promise<AuditEventRecord[]>): void {
  const port = parentPort!;
  const answer = async (m: AppendRequest): Promise<AppendReply> => {
    const events = unpackAuditBatch(m.batch);
    if (events.length === 0) return { id: m.id, count: 0, lines: '', hashes: '' };
    const stored = await append(events);
    switch (m.reply) {
      case 'hashes':
        return { id: m.id, count: stored.length, firstSeq: stored[0]!.seq, prevHash: stored[0]!.prevHash, hashes: stored.map((r) => r.hash).join('') };
      case 'lines':
        return { id: m.id, count: stored.length, lines: stored.map((r) => r.json).join('\n') };
      case 'count':
        return { id: m.id, count: stored.length };
    }
  };
  let previous: Promise<unknown> = Promise.resolve();
  port.on('message', (m: AppendRequest) => {
    previous = previous.then(async () => {
      try {
        port.postMessage(await answer(m));
      } catch (err) {
        port.postMessage({ id: m.id, error: { message: (err as Error).message, code: (err as { code?: string }).code } } satisfies AppendReply);
      }
    });
  });
}
