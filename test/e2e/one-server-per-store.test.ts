// One data dir, one Trent process (docs/deployment.md "One server per data dir"), with real processes: a second
// `trent serve` on a running server's data dir is refused and changes nothing; kill -9 leaves no stale lock, and the
// restart records AuditEventsPossiblyLost exactly then; `trent root-key migrate` and `trent restore` are refused while
// a server runs; a start that fails (port in use, unreadable TLS file, bad flag, bad root key) leaves the data dir as
// it was.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { ROOT } from '../helpers/paths.js';
import { devClient, startServer } from '../helpers/server.js';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { errorName } from '../helpers/poll.js';

const BIN = path.join(ROOT, 'bin/trent.js');
const ENV = { ...process.env, TRENT_ROOT_KEY_PASSPHRASE: '' };

function trent(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: ENV });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs `trent serve ARGS` until it exits; if it starts listening instead, it is stopped with SIGTERM (as an operator
 * would stop it) and `started` is true.
 */
function serveOnce(args: readonly string[]): Promise<{ code: number | null; stderr: string; started: boolean }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let started = false;
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!started && /Trent listening on/.test(stderr)) {
      started = true;
      child.kill('SIGTERM');
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, stderr, started });
  }));
}

/** Every file of a directory (recursively) with the SHA-256 of its content: what a failed command must not change. */
function snapshot(dir: string, except: (name: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (except(name)) out[path.relative(dir, p)] = '(present)';
      else if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}
/** The SQLite files of a running server change on their own (audit batches); everything else must not. */
const sqliteFiles = (name: string) => /^trent\.db(-wal|-shm)?$/.test(name);

const lookup = (dataDir: string): any[] => {
  const r = trent('audit', 'lookup', '--data-dir', dataDir, '--max-results', '1000');
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() === '' ? [] : r.stdout.trim().split('\n').map((l) => JSON.parse(l));
};
const possiblyLost = (dataDir: string) => lookup(dataDir).filter((e) => e.eventName === 'AuditEventsPossiblyLost');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const newDir = (name: string) => mkdtempSync(path.join(tmpdir(), `trent-${name}-`));
const kill9 = async (p: import('node:child_process').ChildProcess) => {
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
};

describe('one server per data dir', () => {
  it('refuses a second trent serve on a running server\'s data dir; the first keeps its marker and its state', async () => {
    const dataDir = newDir('two-servers');
    try {
      const first = await startServer({ dataDir, args: ['--request-log', 'off'] });
      const kms = devClient(first.url);
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const marker = readFileSync(path.join(dataDir, 'audit-session'), 'utf8');
      const before = snapshot(dataDir, sqliteFiles);

      const second = await serveOnce(['--dev', '--port', '0', '--data-dir', dataDir, '--request-log', 'off']);
      assert.equal(second.started, false, `a second server started on the same data dir:\n${second.stderr}`);
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, new RegExp(`the data dir ${esc(dataDir)} is in use by trent serve \\(pid ${first.process.pid}, since `));
      assert.match(second.stderr, /nothing changed/);
      assert.deepEqual(snapshot(dataDir, sqliteFiles), before, 'the refused start changed the data dir');
      assert.equal(readFileSync(path.join(dataDir, 'audit-session'), 'utf8'), marker);

      // The first server is the only one: a key disabled through it is refused by it.
      await kms.send(new DisableKeyCommand({ KeyId: keyId }));
      assert.equal(await errorName(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))), 'DisabledException');
      kms.destroy();
      assert.equal(await first.stop({ keepData: true }), 0);
      assert.equal(existsSync(path.join(dataDir, 'audit-session')), false);
      assert.deepEqual(possiblyLost(dataDir), [], 'a refused start recorded AuditEventsPossiblyLost');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('after kill -9 the next server starts at once, and AuditEventsPossiblyLost is recorded for that crash only', async () => {
    const dataDir = newDir('kill9');
    try {
      const crashed = await startServer({ dataDir, args: ['--request-log', 'off'] });
      let kms = devClient(crashed.url);
      const keyArn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
      kms.destroy();
      const { startedAt } = JSON.parse(readFileSync(path.join(dataDir, 'audit-session'), 'utf8')) as { startedAt: string };
      await kill9(crashed.process);

      const next = await startServer({ dataDir, args: ['--request-log', 'off'] });
      kms = devClient(next.url);
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata!.Arn, keyArn);
      kms.destroy();
      // While it runs, a third start is refused (and records nothing).
      const third = await serveOnce(['--dev', '--port', '0', '--data-dir', dataDir, '--request-log', 'off']);
      assert.equal(third.started, false, third.stderr);
      assert.equal(third.code, 1);
      assert.equal(await next.stop({ keepData: true }), 0);
      // A clean stop: the start after it records no loss.
      const clean = await startServer({ dataDir, args: ['--request-log', 'off'] });
      assert.equal(await clean.stop({ keepData: true }), 0);

      const notices = possiblyLost(dataDir);
      assert.equal(notices.length, 1, JSON.stringify(notices));
      assert.equal(notices[0].serviceEventDetails.previousRunStartedAt, startedAt);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('trent root-key migrate is refused while a server runs, and needs no --force after a crash', async () => {
    const dataDir = newDir('migrate-lock');
    const newKey = path.join(dataDir, 'new-root-key');
    try {
      const server = await startServer({ dataDir, args: ['--request-log', 'off'] });
      let kms = devClient(server.url);
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before the migration') }));
      kms.destroy();

      const busy = trent('root-key', 'migrate', '--data-dir', dataDir, '--to-file', newKey);
      assert.equal(busy.status, 1, busy.stdout + busy.stderr);
      assert.match(busy.stderr, new RegExp(`a Trent server is running on ${esc(dataDir)} \\(pid ${server.process.pid}, since [^)]*\\): stop it first; nothing changed`));
      assert.equal(existsSync(newKey), false, 'the refused migration made the new root key file');

      // A crash leaves the marker: the lock, not the marker, says whether a server runs.
      await kill9(server.process);
      assert.ok(existsSync(path.join(dataDir, 'audit-session')));
      const migrated = trent('root-key', 'migrate', '--data-dir', dataDir, '--to-file', newKey);
      assert.equal(migrated.status, 0, migrated.stderr);

      const after = await startServer({ dataDir, args: ['--request-log', 'off', '--root-key-file', newKey] });
      kms = devClient(after.url);
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
      assert.equal(Buffer.from(dec.Plaintext!).toString(), 'before the migration');
      kms.destroy();
      await after.stop({ keepData: true });
      const names = lookup(dataDir).map((e) => e.eventName);
      assert.ok(names.includes('RootKeyMigrated'));
      assert.equal(names.filter((n) => n === 'AuditEventsPossiblyLost').length, 1, 'the crash is still recorded once, by the next server');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('trent restore into a SQLite data dir is refused while a server runs on it', async () => {
    const source = newDir('restore-source');
    const target = newDir('restore-target');
    try {
      const server = await startServer({ dataDir: source, args: ['--request-log', 'off'] });
      const backup = path.join(source, 'backup');
      assert.equal(trent('backup', '--data-dir', source, '--out', backup).status, 0);
      await server.stop({ keepData: true });
      writeFileSync(path.join(target, 'root-key'), readFileSync(path.join(source, 'root-key')), { mode: 0o600 });

      const running = await startServer({ dataDir: target, args: ['--request-log', 'off', '--root-key-file', path.join(target, 'root-key')] });
      const before = snapshot(target, sqliteFiles);
      const r = trent('restore', '--data-dir', target, '--in', backup);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`a Trent server is running on ${esc(target)} \\(pid ${running.process.pid}, since [^)]*\\): stop it first; nothing restored`));
      assert.deepEqual(snapshot(target, sqliteFiles), before);
      await running.stop({ keepData: true });
    } finally {
      rmSync(source, { recursive: true, force: true });
      rmSync(target, { recursive: true, force: true });
    }
  });
});

describe('a start that fails leaves nothing behind', () => {
  it('port in use, unreadable TLS file, bad flag, bad root key: no data dir made, an existing one unchanged, no audit event', async () => {
    const work = newDir('failed-start');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busyPort = String((blocker.address() as AddressInfo).port);
    try {
      // An existing, stopped deployment with a key.
      const existing = path.join(work, 'existing');
      const server = await startServer({ dataDir: existing, args: ['--request-log', 'off'] });
      const kms = devClient(server.url);
      await kms.send(new CreateKeyCommand({}));
      kms.destroy();
      await server.stop({ keepData: true });
      const garbage = path.join(work, 'garbage-root-key');
      writeFileSync(garbage, 'not a root key\n', { mode: 0o600 });
      const otherKey = path.join(work, 'other-root-key');
      writeFileSync(otherKey, `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });

      const failures: { what: string; args: string[]; code: number; message: RegExp; fresh?: boolean }[] = [
        { what: 'port in use', args: ['--port', busyPort], code: 1, message: /EADDRINUSE|address already in use/ },
        { what: 'unreadable TLS file', args: ['--tls-cert', path.join(work, 'missing.crt'), '--tls-key', path.join(work, 'missing.key')], code: 1, message: /missing\.crt/ },
        { what: 'bad flag', args: ['--port', 'eighty'], code: 2, message: /--port/ },
        { what: 'bad root key file', args: ['--root-key-file', garbage], code: 1, message: /root key/i },
        { what: 'wrong root key', args: ['--root-key-file', otherKey], code: 1, message: /root key does not match/, fresh: false },
      ];
      for (const f of failures) {
        if (f.fresh !== false) {
          const fresh = path.join(work, `fresh-${f.what.replace(/\W+/g, '-')}`);
          const r = await serveOnce(['--dev', '--data-dir', fresh, '--request-log', 'off', ...(f.args.includes('--port') ? [] : ['--port', '0']), ...f.args]);
          assert.equal(r.started, false, `${f.what}: started`);
          assert.equal(r.code, f.code, `${f.what}: ${r.stderr}`);
          assert.match(r.stderr, f.message, f.what);
          assert.equal(existsSync(fresh), false, `${f.what}: the failed start made ${fresh}: ${existsSync(fresh) ? readdirSync(fresh).join(', ') : ''}`);
          // A data dir that exists but was never used stays empty (not even the lock file is left).
          const empty = mkdtempSync(path.join(work, 'empty-'));
          const e = await serveOnce(['--dev', '--data-dir', empty, '--request-log', 'off', ...(f.args.includes('--port') ? [] : ['--port', '0']), ...f.args]);
          assert.equal(e.code, f.code, `${f.what}: ${e.stderr}`);
          assert.deepEqual(readdirSync(empty), [], `${f.what}: the failed start left files in an empty data dir`);
        }
        const before = snapshot(existing);
        const r = await serveOnce(['--dev', '--data-dir', existing, '--request-log', 'off', ...(f.args.includes('--port') ? [] : ['--port', '0']), ...f.args]);
        assert.equal(r.started, false, `${f.what}: started`);
        assert.equal(r.code, f.code, `${f.what}: ${r.stderr}`);
        assert.deepEqual(snapshot(existing), before, `${f.what}: the failed start changed the data dir`);
      }
      assert.deepEqual(possiblyLost(existing), [], 'a failed start recorded AuditEventsPossiblyLost');
      // And the deployment still starts, with no loss to report.
      const again = await startServer({ dataDir: existing, args: ['--request-log', 'off'] });
      assert.equal(await again.stop({ keepData: true }), 0);
      assert.deepEqual(possiblyLost(existing), []);
    } finally {
      blocker.close();
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('a failed start on PostgreSQL', { skip: postgresSkipReason() }, () => {
  it('a node whose new root key the database refuses leaves no root key file, no data dir', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const dataDir = newDir('pg-first');
    const work = newDir('pg-stranger');
    try {
      const first = await startServer({ dataDir, args: ['--store', url, '--request-log', 'off'] });
      assert.equal(await first.stop({ keepData: true }), 0);
      // Another data dir means another root key (made by the start): the database's check value refuses it.
      const fresh = path.join(work, 'new');
      let r = await serveOnce(['--dev', '--port', '0', '--data-dir', fresh, '--store', url, '--request-log', 'off']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /root key does not match this data store/);
      assert.equal(existsSync(fresh), false, 'the failed start left its data dir');
      const empty = mkdtempSync(path.join(work, 'empty-'));
      r = await serveOnce(['--dev', '--port', '0', '--data-dir', empty, '--store', url, '--request-log', 'off']);
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(readdirSync(empty), [], 'the failed start left a root key file that opens nothing');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  });
});
