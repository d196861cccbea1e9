// The audit trail's writer (docs/audit.md): state-changing requests commit their event with their change (the storage
// adapter appends it, through the AuditEventSource below); every other event is queued and appended in batches.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Writable } from 'node:stream';
import type { AuditEventInput, AuditEventRecord, AuditEventSource, AuditStore, KeyUsageLog } from '../domain/ports.js';
import { bounded, MAX_EVENT_NAME, packAuditBatch, type AuditBatchEntry, type CompactAuditEvent } from '../domain/audit-batch.js';
import type { CallerIdentity } from '../domain/identity.js';
import { KmsError } from '../domain/errors.js';
import { buildEvent, compactEvent, companionCapture, isReadOnly, serviceEvent, type AuditCapture } from './cloudtrail.js';
import { OTHER, SummaryTable, summaryDetails } from './request-summary.js';

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
  /**
   * The queue's bound in events (default 100,000) and in estimated bytes (default 32 MiB): at either, authenticated
   * requests are refused with ThrottlingException before they run, and requests that did not authenticate are only
   * counted. No queued event is ever dropped.
   */
  readonly maxQueue?: number;
  readonly maxQueueBytes?: number;
  /** The interval over which requests that did not authenticate are limited and summarized (default 10 s). */
  readonly summaryIntervalMs?: number;
  /** Per interval, requests that did not authenticate recorded one by one: per source IP (default 10), in all (default 100). */
  readonly unauthenticatedPerSource?: number;
  readonly unauthenticatedTotal?: number;
  /** Source IPs (and throttled principals) tracked per interval (default 1,000); the rest share one "(other)" summary. */
  readonly maxSummaryKeys?: number;
  readonly onError: (message: string, err: unknown) => void;
}

/** AWS KMS's ThrottlingException message (developer guide, "Throttling AWS KMS requests"). */
export const THROTTLING_MESSAGE = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';
/** Estimated bytes of a queued event beyond its variable fields (ids, times, names, the array itself). */
const ENTRY_OVERHEAD = 512;

/**
 * Events of read-only and failed requests are recorded in compact form when the request has been answered (a few
 * values: domain/audit-batch.ts), queued, and appended by the flush, one transaction per batch; the store builds their
 * CloudTrail JSON (in its append worker, off the thread that answers requests).
 * A crash loses the queue (at most `flushMs` of acknowledged requests, or more while the store is unwritable); the next
 * start appends an `AuditEventsPossiblyLost` notice (see SessionMarker).
 * The queue is bounded (docs/audit.md "Under a flood"): when it is full, authenticated requests are refused before they
 * run (admit), so that nothing is done without its event and no event is dropped; requests that did not authenticate
 * are limited per source and interval, and the rest counted into summary events.
 */
export class AuditTrail implements KeyUsageLog {
  readonly #o: AuditTrailOptions;
  readonly #flushMs: number;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #maxQueueBytes: number;
  readonly #intervalMs: number;
  readonly #perSource: number;
  readonly #total: number;
  #queue: AuditBatchEntry[] = [];
  /** The estimated size of each queued entry, and their sum. */
  #sizes: number[] = [];
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  /** A flush waiting for the one under way: it will append everything queued when it starts. */
  #nextFlush: Promise<void> | undefined;
  /** The last append failed (and why): the store cannot be written; retried every second. */
  #appendError: string | undefined;
  /** The queue was full when last looked at (for one log line per change). */
  #wasFull = false;
  /** Requests that did not authenticate, per source IP, this interval. */
  readonly #sources: SummaryTable;
  /** Authenticated requests refused because the queue was full, per principal. */
  readonly #throttled: SummaryTable;
  #recordedThisInterval = 0;
  #interval: NodeJS.Timeout | undefined;

  constructor(options: AuditTrailOptions) {
    this.#o = options;
    this.#flushMs = options.flushMs ?? 50;
    this.#maxBatch = options.maxBatch ?? 1000;
    this.#maxQueue = options.maxQueue ?? 100_000;
    this.#maxQueueBytes = options.maxQueueBytes ?? 32 * 1024 * 1024;
    this.#intervalMs = options.summaryIntervalMs ?? 10_000;
    this.#perSource = options.unauthenticatedPerSource ?? 10;
    this.#total = options.unauthenticatedTotal ?? 100;
    this.#sources = new SummaryTable(options.maxSummaryKeys ?? 1000);
    this.#throttled = new SummaryTable(options.maxSummaryKeys ?? 1000);
    options.scope.bind((c) => buildEvent(c, options.uuid(), options.region));
  }

  /** Starts the capture of one request. */
  begin(requestId: string, sourceIp: string, userAgent: string, authorization: string): AuditCapture {
    return { requestId, time: this.#o.now(), sourceIp, userAgent, authorization, operation: '' };
  }

  /**
   * The request authenticated as `caller`: its event will be recorded, so it may go on only if the queue has room.
   * When the queue is full (the store is slow or cannot be written), the request is refused now, before its operation
   * runs, with ThrottlingException (HTTP 400: SDKs back off and retry); the refusals are counted, not queued.
   * `bodyBytes` bounds the size of the request's audited parameters (for the queue's byte bound).
   */
  admit(capture: AuditCapture, caller: CallerIdentity, bodyBytes: number): void {
    capture.authenticated = true;
    capture.bodyBytes = bodyBytes;
    if (!this.#full()) return;
    capture.throttled = true;
    this.#throttled.count(caller.principalArn, capture.time, 'queueFull', bounded(capture.operation, MAX_EVENT_NAME), undefined, caller.account);
    this.#armInterval();
    throw new KmsError('ThrottlingException', THROTTLING_MESSAGE);
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
    // Refused by admit because the queue was full: counted there.
    if (capture.throttled) return;
    if (capture.committed) {
      if (this.#o.stream) for (const e of [capture.event!, ...(capture.companionEvents ?? [])]) this.#o.stream.write(`${e.json}\n`);
      // The state change committed but the request failed afterwards: the failure is an event of its own.
      if (capture.errorCode === undefined) return;
      capture.event = undefined;
      capture.committed = false;
    }
    if (capture.authenticated !== true) {
      this.#unauthenticated(capture);
      return;
    }
    // Reduced now, while the request's objects are young: the queue then holds only small values, not the request's
    // input (plaintext buffers and all) for up to flushMs, which made them survive into the old generation and cost
    // the garbage collector more than recording the event does.
    this.#enqueue(this.#compact(capture), capture.bodyBytes ?? 0);
  }

  /**
   * A request refused before a caller was identified: the first few per source IP and interval (and in all) become
   * events, with their client-given fields bounded; the rest, and all of them while the queue is full, are counted
   * into one UnauthenticatedRequestsSummarized event per source and interval.
   */
  #unauthenticated(c: AuditCapture): void {
    const full = this.#full();
    this.#armInterval();
    if (!full && this.#recordedThisInterval < this.#total && this.#sources.admit(c.sourceIp, this.#perSource)) {
      this.#recordedThisInterval++;
      this.#enqueue(this.#compact(c), 0);
      return;
    }
    this.#sources.count(c.sourceIp, c.time, full ? 'queueFull' : 'rate', bounded(c.operation, MAX_EVENT_NAME), c.errorCode);
  }

  #compact(c: AuditCapture): AuditBatchEntry {
    try {
      return compactEvent(c, this.#o.uuid(), this.#o.region);
    } catch (err) {
      this.#o.onError('could not build an audit event', err);
      return serviceEvent('AuditEventUnbuildable', c.time, this.#o.uuid(), this.#o.region, { requestID: c.requestId, eventName: bounded(c.operation, MAX_EVENT_NAME), error: bounded(String(err), 1024) });
    }
  }

  /** Appends a notice (service event: Trent's own action or state) through the queue. */
  notice(eventName: string, details: Record<string, unknown>, resourceArn?: string): void {
    this.#enqueue(serviceEvent(eventName, this.#o.now(), this.#o.uuid(), this.#o.region, details, resourceArn), 0);
  }

  #full(): boolean {
    const full = this.#queue.length >= this.#maxQueue || this.#queuedBytes >= this.#maxQueueBytes;
    if (full !== this.#wasFull) {
      this.#wasFull = full;
      this.#o.onError(
        full
          ? `audit queue full (${this.#queue.length} events, about ${Math.round(this.#queuedBytes / 1024)} KiB): ${this.#cause()}; authenticated requests are refused with ThrottlingException until it drains, requests that did not authenticate are counted`
          : 'audit queue has room again: requests are accepted',
        undefined,
      );
    }
    return full;
  }

  /** Why the queue is full: the store failed (with its error), or it takes events more slowly than they come. */
  #cause(): string {
    return this.#appendError !== undefined
      ? `the store could not be written (${this.#appendError})`
      : 'the store is slower than the requests: events arrive faster than they can be appended';
  }

  #enqueue(item: AuditBatchEntry, variableBytes: number): void {
    const size = Array.isArray(item)
      ? ENTRY_OVERHEAD + variableBytes + (item as CompactAuditEvent)[4].length + ((item as CompactAuditEvent)[13]?.length ?? 0)
      : ENTRY_OVERHEAD + (item as AuditEventInput).json.length;
    this.#queue.push(item);
    this.#sizes.push(size);
    this.#queuedBytes += size;
    // While the store fails, only the retry timer appends (not every request).
    if (this.#queue.length >= this.#maxBatch && this.#appendError === undefined) void this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), this.#flushMs);
      this.#timer.unref();
    }
  }

  /** The summaries' interval runs while there is something to count. */
  #armInterval(): void {
    if (this.#interval) return;
    this.#interval = setTimeout(() => this.#closeInterval(false), this.#intervalMs);
    this.#interval.unref();
  }

  /**
   * The end of an interval: its summaries become events, unless the queue is full (then they keep counting into the
   * next interval, in the same bounded tables; `force` at a clean stop). Requests that did not authenticate may be
   * recorded one by one again.
   */
  #closeInterval(force: boolean): void {
    clearTimeout(this.#interval);
    this.#interval = undefined;
    this.#recordedThisInterval = 0;
    const take = force || !this.#full();
    const now = this.#o.now();
    const cause = this.#cause();
    for (const [ip, s] of this.#sources.next(take)) {
      const reason = s.reasons.queueFull > 0
        ? `requests that did not authenticate were counted, not recorded one by one: the audit queue was full (${cause})${s.reasons.rate > 0 ? `, and more than ${this.#perSource} came from this source (or ${this.#total} in all) within ${this.#intervalMs / 1000} s` : ''}`
        : `a flood of requests that did not authenticate: more than ${this.#perSource} from this source (or ${this.#total} in all) within ${this.#intervalMs / 1000} s; the first were recorded one by one, these were counted`;
      this.#summary('UnauthenticatedRequestsSummarized', now, summaryDetails('sourceIPAddress', ip, s, { reason }));
    }
    for (const [principal, s] of this.#throttled.next(take)) {
      const details = summaryDetails('principal', principal, s, {
        reason: `the audit queue was full (${cause}): these authenticated requests were refused with ThrottlingException before they ran, so that none ran without its event`,
      });
      this.#summary('RequestsThrottledForAudit', now, details, principal === OTHER ? undefined : s.account);
    }
    if (!this.#sources.empty || !this.#throttled.empty) this.#armInterval();
  }

  #summary(eventName: string, now: number, details: Record<string, unknown>, account?: string): void {
    this.#enqueue(serviceEvent(eventName, now, this.#o.uuid(), this.#o.region, details, undefined, account), 0);
  }

  /** Appends everything queued so far; resolves when it is stored (or the store failed: the events stay queued). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // A flush already waiting behind the one under way appends everything queued when it starts: join it (else every
    // request queued past a full batch would chain one more flush while the store is slow).
    if (this.#nextFlush) return this.#nextFlush;
    const previous = this.#flushing ?? Promise.resolve();
    // (appendAuditEvents never appends a request's pending event: a batch runs on its own transaction path.)
    const next = previous.then(() => {
      this.#nextFlush = undefined;
      return this.#drain();
    });
    this.#nextFlush = next;
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
    while (this.#queue.length > 0) {
      // Event ids are drawn when queued: a batch that fails to append keeps its events (same eventIDs) for the retry.
      const entries = this.#queue.slice(0, this.#maxBatch);
      let stored: { lines?: string | undefined };
      try {
        stored = await this.#o.store.appendAuditBatch(packAuditBatch(entries), this.#o.stream !== undefined);
      } catch (err) {
        if (this.#appendError === undefined) this.#o.onError('could not append audit events; retrying every second', err);
        this.#appendError = bounded(err instanceof Error ? err.message : String(err), 256);
        if (!this.#timer) {
          this.#timer = setTimeout(() => void this.flush(), Math.max(this.#flushMs, 1000));
          this.#timer.unref();
        }
        return;
      }
      this.#appendError = undefined;
      this.#queue.splice(0, entries.length);
      for (const size of this.#sizes.splice(0, entries.length)) this.#queuedBytes -= size;
      if (this.#o.stream && stored.lines) this.#o.stream.write(`${stored.lines}\n`);
    }
  }

  /** GetKeyLastUsage: the queued events first, so that a use just answered is seen. */
  async lastKeyUsage(keyArn: string): Promise<AuditEventRecord | undefined> {
    await this.flush();
    return this.#o.store.lastKeyUsage(keyArn);
  }

  /** Read each time: `trent audit archive` moves it when it prunes the trail (possibly while the server runs). */
  async trackingStart(): Promise<Date> {
    return new Date((await this.#o.store.auditChainHead()).trackingStart);
  }

  /**
   * Clean stop: the summaries counted so far become events, and everything queued is appended (and streamed). The queue
   * is bounded, so this takes at most one pass over it. False if events are left (the store failed).
   */
  async stop(): Promise<boolean> {
    this.#closeInterval(true);
    await this.flush();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#queue.length === 0;
  }

  /** The queue's length and estimated bytes (tests, and the log line when it is full). */
  get queued(): { readonly events: number; readonly bytes: number } {
    return { events: this.#queue.length, bytes: this.#queuedBytes };
  }
}
