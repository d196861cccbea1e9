import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/**
 * `<data-dir>/audit-session`: present while a server runs, removed by a clean stop once every queued audit event is
 * stored. Found at start, it means the previous run stopped uncleanly (crash, kill -9, power loss) and may have lost
 * queued events: the trail then records an `AuditEventsPossiblyLost` notice, so that no loss goes unnoticed.
 * Only the holder of the data dir's lock (storage/data-dir-lock.ts) opens it, so the marker found is never that of a
 * server still running.
 */
export class SessionMarker {
  constructor(private readonly file: string) {}

  /** Writes this run's marker; returns the previous run's start time if its marker was still there. */
  open(now: Date): { previousStart: string | undefined } {
    let previousStart: string | undefined;
    try {
      previousStart = (JSON.parse(readFileSync(this.file, 'utf8')) as { startedAt?: string }).startedAt ?? 'unknown';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') previousStart = 'unknown';
    }
    writeFileSync(this.file, `${JSON.stringify({ startedAt: now.toISOString(), pid: process.pid })}\n`, { mode: 0o600 });
    return { previousStart };
  }

  close(): void {
    rmSync(this.file, { force: true });
  }
}
