import type { Clock } from './ports.js';

/**
 * Trent's clock: a base clock (the system's) plus an offset that only ever grows. Dev mode moves it forward
 * (POST /_trent/dev/clock) so that rotation and deletion windows can be tested without waiting; everything that reads
 * time for a key-management rule reads this one object, made in main.ts. Outside dev mode the offset stays 0.
 */
export class AdjustableClock implements Clock {
  #offsetMs = 0;
  constructor(private readonly base: Clock) {}

  now(): Date {
    return new Date(this.base.now().getTime() + this.#offsetMs);
  }

  /** How far ahead of the base clock this clock runs, in ms. */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** Moves the clock forward by `ms` (a non-negative safe integer): time never runs backwards. */
  advance(ms: number): void {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError('the clock only moves forward, by a whole number of milliseconds');
    if (!Number.isSafeInteger(this.#offsetMs + ms) || this.base.now().getTime() + this.#offsetMs + ms > MAX_DATE_MS) {
      throw new RangeError('the clock cannot move that far');
    }
    this.#offsetMs += ms;
  }
}

/** The last instant a JavaScript Date can hold (ECMAScript: ±8.64e15 ms). */
const MAX_DATE_MS = 8.64e15;
