// The data dir's lock (src/storage/data-dir-lock.ts) with real processes: held by this process as an offline command
// would hold it, a `trent serve` is refused and names the holder; a refused attempt in the holding process itself does
// not drop the lock (POSIX locks fall when any descriptor of the file is closed); a holder killed with SIGKILL leaves
// no stale lock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DataDirInUseError, DataDirLock, HOLDER_FILE, LOCK_FILE } from '../../src/storage/data-dir-lock.js';
import { ROOT } from '../helpers/paths.js';
import { startServer } from '../helpers/server.js';

const serve = (dataDir: string) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), 'serve', '--dev', '--port', '0', '--data-dir', dataDir, '--request-log', 'off'], {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, TRENT_ROOT_KEY_PASSPHRASE: '' },
  });

describe('data dir lock', () => {
  it('an offline command\'s lock keeps trent serve out until it is released', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-lock-'));
    try {
      const lock = DataDirLock.acquire(dataDir, 'trent restore');
      let r = serve(dataDir);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`is in use by trent restore \\(pid ${process.pid}, since `));
      assert.equal(existsSync(path.join(dataDir, 'trent.db')), false, 'the refused server made its store');

      // A second attempt in this very process is refused too, and leaves the first lock in place.
      assert.throws(() => DataDirLock.acquire(dataDir, 'trent serve'), (err: unknown) => err instanceof DataDirInUseError && err.holder?.pid === process.pid);
      r = serve(dataDir);
      assert.equal(r.status, 1, 'the refused attempt in the holding process dropped the lock');

      lock.release();
      assert.equal(existsSync(path.join(dataDir, HOLDER_FILE)), false);
      assert.ok(existsSync(path.join(dataDir, LOCK_FILE)), 'the lock file stays (removing it would let two processes lock two files)');
      const server = await startServer({ dataDir, args: ['--request-log', 'off'] });
      assert.equal(await server.stop({ keepData: true }), 0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('the kernel releases the lock of a process killed with SIGKILL', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-lock-kill-'));
    try {
      const module = pathToFileURL(path.join(ROOT, 'dist/src/storage/data-dir-lock.js')).href;
      const holder = spawn(process.execPath, ['--input-type=module', '-e',
        `const { DataDirLock } = await import(${JSON.stringify(module)}); globalThis.lock = DataDirLock.acquire(${JSON.stringify(dataDir)}, 'a test holder'); console.log('held'); setInterval(() => {}, 1000);`,
      ], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
        holder.once('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
      });
      assert.throws(() => DataDirLock.acquire(dataDir, 'trent serve'), (err: unknown) => err instanceof DataDirInUseError && err.holder?.pid === holder.pid && err.holder?.command === 'a test holder');
      const exited = new Promise((r) => holder.once('exit', r));
      holder.kill('SIGKILL');
      await exited;
      // The holder file of the dead process is still there; the lock is not.
      assert.ok(existsSync(path.join(dataDir, HOLDER_FILE)));
      const lock = DataDirLock.acquire(dataDir, 'trent serve');
      lock.release();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
