import type { JobLease } from '../domain/ports.js';

/** The lease of a single node (SQLite): always held. */
export class SingleNodeLease implements JobLease {
  async tryAcquire(): Promise<boolean> {
    return true;
  }
  async release(): Promise<void> {}
}

/**
 * Runs `task` only while this node holds the job's lease: each run first takes or renews the lease, and a node that
 * cannot skips the run. `onChange` hears when this node starts or stops being the one that runs the job.
 */
export class LeasedJob {
  #held = false;
  constructor(
    private readonly job: string,
    private readonly lease: JobLease,
    private readonly task: () => Promise<unknown>,
    private readonly onChange: (held: boolean) => void = () => {},
  ) {}

  get held(): boolean {
    return this.#held;
  }

  async run(): Promise<void> {
    let held = false;
    try {
      held = await this.lease.tryAcquire(this.job);
    } finally {
      if (held !== this.#held) this.onChange((this.#held = held));
    }
    if (held) await this.task();
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await this.lease.release(this.job);
    this.onChange(false);
  }
}
