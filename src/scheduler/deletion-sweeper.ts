import type { KeyRepository } from '../domain/key-repository.js';
import type { KeyStore } from '../domain/ports.js';

/** Deletes, for real, keys whose deletion date has passed: metadata, materials, aliases and tags. */
export class DeletionSweeper {
  constructor(
    private readonly keys: KeyRepository,
    private readonly keystore: KeyStore,
    private readonly onDeleted: (arn: string) => void = () => {},
  ) {}

  /** One pass; returns the ARNs deleted. */
  async sweep(): Promise<string[]> {
    const deleted: string[] = [];
    for (;;) {
      const due = await this.keys.storage.listKeysDueForDeletion(this.keys.clock.now(), 100);
      let progress = false;
      for (const key of due) {
        // Compare-and-delete: a key cancelled or changed since it was listed is left alone (and re-listed if still due).
        if (!(await this.keys.deleteKey(key))) continue;
        this.keystore.forget(key.arn);
        deleted.push(key.arn);
        this.onDeleted(key.arn);
        progress = true;
      }
      if (!progress) return deleted;
    }
  }
}

/** Runs a task every `intervalMs` (unref'd: it never keeps the process alive), one run at a time. */
export class IntervalScheduler {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.runNow(), this.intervalMs);
    this.#timer.unref();
  }

  async runNow(): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = this.task()
      .then(() => undefined, this.onError)
      .finally(() => (this.#running = undefined));
    return this.#running;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
