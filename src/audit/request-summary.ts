// Counting instead of recording one by one (docs/audit.md "Under a flood"): the requests that did not authenticate
// beyond a few per source and interval, and the authenticated requests refused because the audit queue was full, are
// counted per source (or per principal) in bounded maps and become one service event each per interval.
import { isoSeconds } from '../domain/audit-batch.js';

/** Distinct event names or error codes kept per summary; the rest are counted under OTHER. */
const MAX_NAMES = 16;
/** The bucket of the sources (or principals) past the map's bound, and of names past MAX_NAMES. */
export const OTHER = '(other)';

/** Why requests were counted instead of recorded one by one. */
export type SummaryReason = 'rate' | 'queueFull';

export interface Summary {
  count: number;
  first: number;
  last: number;
  readonly reasons: Record<SummaryReason, number>;
  readonly eventNames: Map<string, number>;
  readonly errorCodes: Map<string, number>;
  /** The account of a throttled principal (the summary event goes to it). */
  account?: string;
}

function countName(m: Map<string, number>, name: string): void {
  const key = m.has(name) || m.size < MAX_NAMES ? name : OTHER;
  m.set(key, (m.get(key) ?? 0) + 1);
}

const sorted = (m: Map<string, number>): Record<string, number> => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * Per-key state of one interval: how many of a key's events were recorded one by one, and the summary of those only
 * counted. At most `maxKeys` keys; the rest share the OTHER entry, which records none one by one. Memory is bounded
 * whatever the clients send: keys × (a few numbers + MAX_NAMES names of at most 128 characters).
 */
export class SummaryTable {
  readonly #maxKeys: number;
  readonly #entries = new Map<string, { individual: number; summary?: Summary | undefined }>();

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  #entry(key: string): { individual: number; summary?: Summary | undefined } {
    let e = this.#entries.get(key);
    if (!e) {
      const k = this.#entries.size < this.#maxKeys ? key : OTHER;
      e = this.#entries.get(k);
      if (!e) this.#entries.set(k, (e = { individual: k === OTHER ? Infinity : 0 }));
    }
    return e;
  }

  /** True (and counted as recorded) if the key may record one more event one by one this interval. */
  admit(key: string, perKey: number): boolean {
    const e = this.#entry(key);
    if (e.individual >= perKey) return false;
    e.individual++;
    return true;
  }

  /** Counts one request into the key's summary. */
  count(key: string, time: number, reason: SummaryReason, eventName: string, errorCode: string | undefined, account?: string): void {
    const e = this.#entry(key);
    const s: Summary = (e.summary ??= { count: 0, first: time, last: time, reasons: { rate: 0, queueFull: 0 }, eventNames: new Map(), errorCodes: new Map() });
    s.count++;
    s.last = Math.max(s.last, time);
    s.first = Math.min(s.first, time);
    s.reasons[reason]++;
    countName(s.eventNames, eventName);
    if (errorCode !== undefined) countName(s.errorCodes, errorCode);
    if (account !== undefined) s.account ??= account;
  }

  get empty(): boolean {
    return this.#entries.size === 0;
  }

  /** A new interval: nobody has recorded anything yet. With `take`, the summaries are handed over and forgotten. */
  next(take: boolean): [key: string, summary: Summary][] {
    const taken: [string, Summary][] = [];
    for (const [key, e] of this.#entries) {
      if (take && e.summary) {
        taken.push([key, e.summary]);
        e.summary = undefined;
      }
      if (e.summary) e.individual = key === OTHER ? Infinity : 0;
      else this.#entries.delete(key);
    }
    return taken;
  }
}

/** The serviceEventDetails of a summary. */
export function summaryDetails(keyName: string, key: string, s: Summary, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    [keyName]: key,
    count: s.count,
    countedOverRate: s.reasons.rate,
    countedWhileQueueFull: s.reasons.queueFull,
    firstEventTime: isoSeconds(s.first),
    lastEventTime: isoSeconds(s.last),
    eventNames: sorted(s.eventNames),
    ...(s.errorCodes.size > 0 && { errorCodes: sorted(s.errorCodes) }),
    ...extra,
  };
}
