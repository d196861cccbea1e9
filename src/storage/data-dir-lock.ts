// One Trent process per data dir (docs/deployment.md "One server per data dir"): an OS-level lock on
// `<data-dir>/trent.lock`, held for the life of the process and released by the kernel when it dies (kill -9 too).
//
// Node has no flock(2). SQLite's unix VFS takes POSIX fcntl locks, which the kernel drops when the process exits: an
// open `BEGIN EXCLUSIVE` transaction on a file of its own (never trent.db, whose connections it would block) is such a
// lock. POSIX locks have one trap: closing ANY descriptor of the file in the holding process drops them. So this
// process never opens trent.lock other than through SQLite (which keeps its own descriptors open while it holds a
// lock), and who holds the lock is written to a separate file, trent.lock-holder.
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sqliteDriver, type SqliteDatabase } from './sqlite/driver.js';

export const LOCK_FILE = 'trent.lock';
export const HOLDER_FILE = 'trent.lock-holder';

/** Who holds a data dir's lock, as it wrote it when it took the lock. */
export interface LockHolder {
  readonly pid: number;
  /** `trent serve`, `trent root-key migrate`, `trent restore`. */
  readonly command: string;
  /** ISO 8601. */
  readonly since: string;
}

/** Another Trent process holds the data dir's lock. */
export class DataDirInUseError extends Error {
  /** `hint`: what to do, appended to the message. */
  constructor(readonly dataDir: string, readonly holder: LockHolder | undefined, hint?: string) {
    super(`the data dir ${dataDir} is in use by ${holder ? `${holder.command} (pid ${holder.pid}, since ${holder.since})` : 'another Trent process'}${hint ? `; ${hint}` : ''}`);
    this.name = 'DataDirInUseError';
  }

  /** For the commands that must run offline: what holds the data dir, said for their message. */
  get holderText(): string {
    const h = this.holder;
    if (h === undefined) return `another Trent process is using ${this.dataDir}`;
    const what = `(pid ${h.pid}, since ${h.since})`;
    return h.command === 'trent serve' ? `a Trent server is running on ${this.dataDir} ${what}` : `${h.command} is running on ${this.dataDir} ${what}`;
  }
}

/** How long a start waits for a lock another process is taking at the same instant (not for one that is held). */
const BUSY_TIMEOUT_MS = 100;

export class DataDirLock {
  #db: SqliteDatabase | undefined;

  /**
   * @param madeFile this process made trent.lock (it did not exist): a start that fails may remove it again.
   */
  private constructor(readonly dataDir: string, db: SqliteDatabase, readonly madeFile: boolean) {
    // The connection is the lock: it must stay reachable until release (a collected connection is closed, and its
    // lock dropped, by the driver's finalizer).
    this.#db = db;
  }

  /**
   * Takes the lock of an existing data dir for `command`, or throws DataDirInUseError at once if another process
   * holds it. Nothing else in the data dir is touched.
   */
  static acquire(dataDir: string, command: string, now: Date = new Date()): DataDirLock {
    const file = path.join(dataDir, LOCK_FILE);
    const { Database } = sqliteDriver();
    for (let attempt = 0; ; attempt++) {
      const { id: before, made } = lockFileIdentity(file);
      const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
      try {
        db.pragma('journal_mode = MEMORY'); // no trent.lock-journal: nothing is ever written to this file
        db.exec('BEGIN EXCLUSIVE');
      } catch (err) {
        db.close();
        if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir, readHolder(dataDir));
        throw err;
      }
      // The file locked is still the one at the path: a start that fails in a data dir it made removes that data dir,
      // lock file and all, while it holds the lock; whoever opened the old file meanwhile takes the lock anew.
      if (sameFile(before, file)) {
        writeFileSync(path.join(dataDir, HOLDER_FILE), `${JSON.stringify({ pid: process.pid, command, since: now.toISOString() })}\n`, { mode: 0o600 });
        return new DataDirLock(dataDir, db, made);
      }
      db.close();
      if (attempt >= 2) throw new DataDirInUseError(dataDir, readHolder(dataDir));
    }
  }

  /**
   * Releases the lock (the kernel does it anyway when the process ends). `removeFile`: trent.lock goes too, while still
   * locked (a process that opened it meanwhile sees it replaced when it gets the lock, and takes the new one).
   */
  release(opts: { removeFile?: boolean } = {}): void {
    if (this.#db === undefined) return;
    rmSync(path.join(this.dataDir, HOLDER_FILE), { force: true });
    if (opts.removeFile) rmSync(path.join(this.dataDir, LOCK_FILE), { force: true });
    this.#db.close();
    this.#db = undefined;
  }
}

/** The lock file's identity, made (mode 0600) if missing. A file this process may hold a lock on is never opened here. */
function lockFileIdentity(file: string): { id: string; made: boolean } {
  try {
    return { id: identity(file), made: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // It did not exist: this process holds no lock on it. 'wx': if another process made it meanwhile, leave it be.
  let made = true;
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    made = false;
  }
  return { id: identity(file), made };
}

function identity(file: string): string {
  const s = statSync(file);
  return `${s.dev}:${s.ino}`;
}

function sameFile(before: string, file: string): boolean {
  try {
    return identity(file) === before;
  } catch {
    return false;
  }
}

function readHolder(dataDir: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(path.join(dataDir, HOLDER_FILE), 'utf8')) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.command === 'string' && typeof h.since === 'string') return { pid: h.pid, command: h.command, since: h.since };
  } catch {
    // not written yet (the holder is starting), or removed (it is stopping)
  }
  return undefined;
}
