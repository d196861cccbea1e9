// The audit trail's writer (docs/audit.md): state-changing requests commit their event with their change (the storage
// adapter appends it, through the AuditEventSource below); every other event is queued and appended in batches.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Writable } from 'node:stream';
import type { AuditEventInput, AuditEventRecord, AuditEventSource, AuditStore, KeyUsageLog } from '../domain/ports.js';
import { packAuditBatch, type AuditBatchEntry } from '../domain/audit-batch.js';
import { buildEvent, compactEvent, companionCapture, isReadOnly, serviceEvent, type AuditCapture } from './cloudtrail.js';

/**
 * The request under way, carried through the operation's async calls, so that a storage transaction can append the
 * request's event without the operations knowing of it. Made in main.ts; given to the storage adapter and the trail.
 */
export class RequestAuditScope implements AuditEventSource {
  readonly #als = new AsyncLocalStorage<AuditCapture>();
  #active = 0;
  #build: (c: AuditCapture) => AuditEventInput = () => {
    throw new Error('RequestAuditScope used before its trail was made');
  };

  /** Set by the trail: how a capture becomes an event (it owns the random source and region). */
  bind(build: (c: AuditCapture) => AuditEventInput): void {
    this.#build = build;
  }

  /**
   * On Node 20 an AsyncLocalStorage in use makes every promise of the process pay for context propagation (async
   * hooks): about 5 µs of CPU per Encrypt request. It is therefore in use only while a state-changing request runs
   * (rare), and disabled again when the last one ends, so the hot path does not pay for it.
   */
  async run<T>(capture: AuditCapture, fn: () => Promise<T>): Promise<T> {
    this.#active++;
    try {
      return await this.#als.run(capture, fn);
    } finally {
      if (--this.#active === 0) this.#als.disable();
    }
  }

  pending(): AuditEventInput | undefined {
    const c = this.#als.getStore();
    if (!c || c.committed) return undefined;
    return (c.event ??= this.#build(c));
  }

  companions(): readonly AuditEventInput[] {
    const c = this.#als.getStore();
    const extra = c?.request?.auditCompanions;
    if (!c || c.committed || !extra?.length) return [];
    return (c.companionEvents ??= extra.map((e) => this.#build(companionCapture(c, e))));
  }

  committed(event: AuditEventInput): void {
    const c = this.#als.getStore();
    if (c && c.event === event) c.committed = true;
  }
}

export interface AuditTrailOptions {
  readonly store: AuditStore;
  readonly scope: RequestAuditScope;
  /** A fresh eventID (main.ts: a time-ordered UUID, eventId() below). */
  readonly uuid: () => string;
  readonly now: () => number;
  /** The server's region, for events of requests that did not get as far as a region. */
  readonly region: string;
  /** Where each event goes as one JSON line once stored (--audit-log); none: not streamed. */
  readonly stream?: Writable | undefined;
  /** Longest wait before a queued event is appended (default 50 ms). */
  readonly flushMs?: number;
  /** Events per append transaction (default 1000); a full batch is appended at once. */
  readonly maxBatch?: number;
  /** Queue bound while the store cannot be written (default 100,000): past it the oldest are dropped, with a notice. */
  readonly maxQueue?: number;
  readonly onError: (message: string, err: unknown) => void;
}

/**
 * Events of read-only and failed requests are recorded in compact form when the request has been answered (a few
 * values: domain/audit-batch.ts), queued, and appended by the flush, one transaction per batch; the store builds their
 * CloudTrail JSON (in its append worker, off the thread that answers requests).
 * A crash loses the queue (at most `flushMs` of acknowledged requests, or more while the store is unwritable); the next
 * start appends an `AuditEventsPossiblyLost` notice (see SessionMarker).
 */
export class AuditTrail implements KeyUsageLog {
  readonly #o: AuditTrailOptions;
  readonly #flushMs: number;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  #queue: AuditBatchEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #dropped = 0;
  #trackingStart: number | undefined;

  constructor(options: AuditTrailOptions) {
    this.#o = options;
    this.#flushMs = options.flushMs ?? 50;
    this.#maxBatch = options.maxBatch ?? 1000;
    this.#maxQueue = options.maxQueue ?? 100_000;
    options.scope.bind((c) => buildEvent(c, options.uuid(), options.region));
  }

  /** Starts the capture of one request. */
  begin(requestId: string, sourceIp: string, userAgent: string, authorization: string): AuditCapture {
    return { requestId, time: this.#o.now(), sourceIp, userAgent, authorization, operation: '' };
  }

  /**
   * Runs the operation; a state-changing one inside the scope, so its storage transaction appends its event, and its
   * output is kept for responseElements (read-only operations record none, as CloudTrail: nothing of theirs is kept).
   */
  run<T>(capture: AuditCapture, fn: () => Promise<T>): Promise<T> {
    if (isReadOnly(capture.operation)) return fn();
    return this.#o.scope.run(capture, async () => {
      const output = await fn();
      capture.output = output;
      return output;
    });
  }

  /** The request is answered: queue its event unless its transaction committed it already. */
  end(capture: AuditCapture): void {
    if (capture.committed) {
      if (this.#o.stream) for (const e of [capture.event!, ...(capture.companionEvents ?? [])]) this.#o.stream.write(`${e.json}\n`);
      // The state change committed but the request failed afterwards: the failure is an event of its own.
      if (capture.errorCode === undefined) return;
      capture.event = undefined;
      capture.committed = false;
    }
    // Reduced now, while the request's objects are young: the queue then holds only small values, not the request's
    // input (plaintext buffers and all) for up to flushMs, which made them survive into the old generation and cost
    // the garbage collector more than recording the event does.
    this.#enqueue(this.#compact(capture));
  }

  #compact(c: AuditCapture): AuditBatchEntry {
    try {
      return compactEvent(c, this.#o.uuid(), this.#o.region);
    } catch (err) {
      this.#o.onError('could not build an audit event', err);
      return serviceEvent('AuditEventUnbuildable', c.time, this.#o.uuid(), this.#o.region, { requestID: c.requestId, eventName: c.operation, error: String(err) });
    }
  }

  /** Appends a notice (service event: Trent's own action or state) through the queue. */
  notice(eventName: string, details: Record<string, unknown>, resourceArn?: string): void {
    this.#enqueue(serviceEvent(eventName, this.#o.now(), this.#o.uuid(), this.#o.region, details, resourceArn));
  }

  #enqueue(item: AuditBatchEntry): void {
    if (this.#queue.length >= this.#maxQueue) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#queue.push(item);
    if (this.#queue.length >= this.#maxBatch) void this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), this.#flushMs);
      this.#timer.unref();
    }
  }

  /** Appends everything queued so far; resolves when it is stored (or the store failed: the events stay queued). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const previous = this.#flushing ?? Promise.resolve();
    // (appendAuditEvents never appends a request's pending event: a batch runs on its own transaction path.)
    const next = previous.then(() => this.#drain());
    this.#flushing = next.finally(() => {
      if (this.#flushing === next) this.#flushing = undefined;
    });
    return next;
  }

  /** Never rejects: a failure is logged and the events stay queued (or, if one cannot be built, a notice replaces it). */
  async #drain(): Promise<void> {
    try {
      await this.#drainQueue();
    } catch (err) {
      this.#o.onError('audit flush failed', err);
    }
  }

  async #drainQueue(): Promise<void> {
    if (this.#dropped > 0) {
      const dropped = this.#dropped;
      this.#dropped = 0;
      this.#o.onError(`audit queue full: ${dropped} events dropped`, undefined);
      this.#queue.unshift(serviceEvent('AuditEventsDropped', this.#o.now(), this.#o.uuid(), this.#o.region, { dropped, reason: 'the store could not be written and the queue was full' }));
    }
    while (this.#queue.length > 0) {
      // Event ids are drawn when queued: a batch that fails to append keeps its events (same eventIDs) for the retry.
      const entries = this.#queue.slice(0, this.#maxBatch);
      let stored: { lines?: string | undefined };
      try {
        stored = await this.#o.store.appendAuditBatch(packAuditBatch(entries), this.#o.stream !== undefined);
      } catch (err) {
        this.#o.onError('could not append audit events; retrying', err);
        if (!this.#timer) {
          this.#timer = setTimeout(() => void this.flush(), Math.max(this.#flushMs, 1000));
          this.#timer.unref();
        }
        return;
      }
      this.#queue.splice(0, entries.length);
      if (this.#o.stream && stored.lines) this.#o.stream.write(`${stored.lines}\n`);
    }
  }

  /** GetKeyLastUsage: the queued events first, so that a use just answered is seen. */
  async lastKeyUsage(keyArn: string): Promise<AuditEventRecord | undefined> {
    await this.flush();
    return this.#o.store.lastKeyUsage(keyArn);
  }

  async trackingStart(): Promise<Date> {
    return new Date((this.#trackingStart ??= (await this.#o.store.auditChainHead()).trackingStart));
  }

  /** Clean stop: everything queued is appended (and streamed). False if events are left (the store failed). */
  async stop(): Promise<boolean> {
    await this.flush();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#queue.length === 0;
  }
}
