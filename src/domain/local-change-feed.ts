import type { CacheChange, ChangeFeed } from './ports.js';

/** The change feed of a single node (SQLite): changes go to this process's subscribers, synchronously. */
export class LocalChangeFeed implements ChangeFeed {
  readonly #listeners: ((change: CacheChange) => void)[] = [];

  async publish(change: CacheChange): Promise<void> {
    for (const listener of this.#listeners) listener(change);
  }

  subscribe(listener: (change: CacheChange) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#listeners.length = 0;
  }
}
