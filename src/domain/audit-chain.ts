// The audit trail's hash chain (docs/audit.md). Pure: both storage adapters append with it, `trent audit verify` checks
// with it.
import { createHash } from 'node:crypto';

/** The previous hash of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * SHA-256 over the previous event's hash, this event's sequence number and its canonical JSON, as lowercase hex.
 * The sequence number is covered so that moving an event to another position breaks the chain too.
 */
export function chainHash(prevHash: string, seq: number, json: string): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n`).update(json).digest('hex');
}

/**
 * Canonical JSON: JSON.stringify of the value with every object's keys inserted in sorted (code-point) order, at every
 * depth; `undefined` members dropped. (As everywhere in JavaScript, integer-like keys such as "7" come first, in
 * numeric order.) The same event always serializes to the same bytes, whoever built it; the hash covers those bytes.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sortKeys);
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) if (obj[k] !== undefined) out[k] = sortKeys(obj[k]);
  return out;
}

/** One stored event as the chain sees it. */
export interface ChainLink {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
  readonly json: string;
}

/** The first broken link of a chain, or why the chain's head disagrees with its events. */
export interface ChainBreak {
  readonly seq: number;
  readonly problem: 'modified' | 'missing' | 'out-of-order' | 'head-mismatch';
  readonly detail: string;
}

/**
 * Walks links in ascending `seq` order (feed them in batches through one checker); reports the first break. The
 * checker remembers the previous link, so a deleted event (a gap in the numbers, or a previous hash that is not the
 * stored hash before it), a modified event (its hash does not recompute) and a reordered one (numbers out of order,
 * or hashes over another position) are each found.
 */
export class ChainChecker {
  #expectedSeq: number;
  #prevHash: string;
  #count = 0;

  /** From the genesis, or from an anchor: the last event pruned by retention (the first link must follow it). */
  constructor(start?: AuditAnchor) {
    this.#expectedSeq = (start?.seq ?? 0) + 1;
    this.#prevHash = start?.hash ?? GENESIS_HASH;
  }

  get count(): number {
    return this.#count;
  }
  get lastHash(): string {
    return this.#prevHash;
  }
  get lastSeq(): number {
    return this.#expectedSeq - 1;
  }

  check(link: ChainLink): ChainBreak | undefined {
    if (link.seq < this.#expectedSeq) return { seq: link.seq, problem: 'out-of-order', detail: `event ${link.seq} comes after event ${this.#expectedSeq - 1}` };
    if (link.seq > this.#expectedSeq) {
      const first = this.#expectedSeq;
      const last = link.seq - 1;
      return { seq: first, problem: 'missing', detail: first === last ? `event ${first} is missing` : `events ${first} to ${last} are missing` };
    }
    if (link.prevHash !== this.#prevHash) {
      return { seq: link.seq, problem: 'missing', detail: `event ${link.seq} does not follow the event stored before it (previous hash differs): an event was deleted or replaced` };
    }
    if (chainHash(link.prevHash, link.seq, link.json) !== link.hash) {
      return { seq: link.seq, problem: 'modified', detail: `event ${link.seq} was modified: its hash does not match its content` };
    }
    this.#expectedSeq++;
    this.#prevHash = link.hash;
    this.#count++;
    return undefined;
  }

  /** The stored chain head (last sequence number and hash) must be the last link walked: else events were cut off the end. */
  checkHead(head: { seq: number; hash: string }): ChainBreak | undefined {
    if (head.seq === this.lastSeq && head.hash === this.lastHash) return undefined;
    if (head.seq > this.lastSeq) {
      return { seq: this.lastSeq + 1, problem: 'missing', detail: `the chain head records ${head.seq} events but only ${this.lastSeq} are stored: events ${this.lastSeq + 1} to ${head.seq} were deleted` };
    }
    return { seq: head.seq, problem: 'head-mismatch', detail: `the chain head (event ${head.seq}, ${head.hash.slice(0, 16)}…) does not match the last stored event (${this.lastSeq}, ${this.lastHash.slice(0, 16)}…)` };
  }
}

/**
 * The last event that retention (`trent audit archive`) removed from the store: its number and hash. The stored trail
 * continues from it; the archive file that holds it ends with it (docs/audit.md "Retention").
 */
export interface AuditAnchor {
  readonly seq: number;
  readonly hash: string;
}

/** The store setting that holds the anchor (settings travel with backups, so a restored trail verifies too). */
export const AUDIT_ANCHOR_SETTING = 'audit.anchor';
/** The service event that records a prune, committed with it; its details name the new anchor. */
export const AUDIT_ARCHIVED_EVENT = 'AuditEventsArchived';

export const encodeAnchor = (a: AuditAnchor): string => JSON.stringify({ hash: a.hash, seq: a.seq });

export function decodeAnchor(value: string): AuditAnchor {
  const a = JSON.parse(value) as Partial<AuditAnchor>;
  if (!Number.isSafeInteger(a.seq) || a.seq! < 1 || typeof a.hash !== 'string' || !/^[0-9a-f]{64}$/.test(a.hash)) throw new Error(`malformed audit anchor ${value}`);
  return { seq: a.seq!, hash: a.hash };
}

export const sameAnchor = (a: AuditAnchor | undefined, b: AuditAnchor | undefined): boolean => a?.seq === b?.seq && a?.hash === b?.hash;
