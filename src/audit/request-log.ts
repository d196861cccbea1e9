import type { Writable } from 'node:stream';

/** One line per request (issue #2's first cut of the audit trail). Never carries plaintext, ciphertext or key material. */
export interface RequestLogEntry {
  readonly type: 'request';
  readonly time: string;
  readonly requestId: string;
  readonly operation: string;
  readonly keyArn?: string | undefined;
  readonly principal?: string | undefined;
  readonly accessKeyId?: string | undefined;
  readonly region?: string | undefined;
  readonly sourceIp: string;
  readonly userAgent?: string | undefined;
  readonly outcome: 'success' | 'failure';
  readonly errorCode?: string | undefined;
  readonly status: number;
  readonly durationMs: number;
}

export interface RequestLog {
  /** False when entries are dropped: callers skip building them. */
  readonly enabled: boolean;
  record(entry: RequestLogEntry): void;
  flush(): Promise<void>;
}

/**
 * JSON lines to a stream, batched: lines are collected for up to `flushMs` (or `maxPendingBytes`) and written
 * together, so the hot path never waits on a write and the log costs one write per batch, not per request.
 * A crash can lose the lines of the last unflushed batch (at most `flushMs`); a clean stop flushes everything.
 */
export class JsonLinesLog implements RequestLog {
  readonly enabled = true;
  #pending = '';
  #timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly out: Writable,
    private readonly flushMs = 20,
    private readonly maxPendingBytes = 64 * 1024,
  ) {}

  record(entry: RequestLogEntry): void {
    this.#pending += `${JSON.stringify(entry)}\n`;
    if (this.#pending.length >= this.maxPendingBytes) this.#write();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#write(), this.flushMs);
      this.#timer.unref();
    }
  }

  #write(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending === '') return;
    const chunk = this.#pending;
    this.#pending = '';
    this.out.write(chunk);
  }

  async flush(): Promise<void> {
    this.#write();
    await new Promise<void>((resolve) => (this.out.writableNeedDrain ? this.out.once('drain', resolve) : resolve()));
  }
}

export class NullLog implements RequestLog {
  readonly enabled = false;
  record(): void {}
  async flush(): Promise<void> {}
}
