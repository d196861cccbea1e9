import type { Writable } from 'node:stream';

/** One line per request (issue #2's first cut of the audit trail). Never carries plaintext, ciphertext or key material. */
export interface RequestLogEntry {
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
 * JSON lines to a stream, batched: lines collected during one turn of the event loop are written together,
 * so the hot path never waits on a write.
 */
export class JsonLinesLog implements RequestLog {
  readonly enabled = true;
  #pending: string[] = [];
  #scheduled = false;
  constructor(private readonly out: Writable) {}

  record(entry: RequestLogEntry): void {
    this.#pending.push(JSON.stringify({ type: 'request', ...entry }));
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#write());
    }
  }

  #write(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const chunk = `${this.#pending.join('\n')}\n`;
    this.#pending = [];
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
