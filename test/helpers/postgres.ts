// One throwaway PostgreSQL cluster per test process, on a free loopback port, made with the binaries on the machine
// (initdb, pg_ctl, postgres). Each test asks for its own database. The cluster is stopped and removed when the process
// exits, and by a watchdog if the process is killed. TRENT_TEST_POSTGRES_URL uses an existing server instead (an
// admin URL; the tests create databases on it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface PgCluster {
  /** A new empty database; returns its URL. */
  createDatabase(): Promise<string>;
  /** The URL of the maintenance database (superuser). */
  readonly adminUrl: string;
  /** Fault injection, for the cluster this process started (undefined with TRENT_TEST_POSTGRES_URL). */
  readonly faults?: PgFaults;
}

export interface PgFaults {
  /** `pg_ctl stop -m fast`: open sessions are terminated, new connections refused. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves when it accepts connections. */
  start(): Promise<void>;
  /** SIGSTOP (true) or SIGCONT (false) to the postmaster and every backend: a server that no longer answers. */
  freeze(frozen: boolean): void;
}

interface Binaries {
  readonly initdb: string;
  readonly pgCtl: string;
  readonly postgres: string;
}

function findBinaries(): Binaries | undefined {
  const dirs = [
    ...(process.env.TRENT_TEST_PG_BIN ? [process.env.TRENT_TEST_PG_BIN] : []),
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
    '/usr/local/bin',
    // Debian's postgresql-NN packages keep the server binaries out of PATH.
    ...(existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort().reverse().map((v) => `/usr/lib/postgresql/${v}/bin`) : []),
  ];
  for (const dir of dirs) {
    const b = { initdb: path.join(dir, 'initdb'), pgCtl: path.join(dir, 'pg_ctl'), postgres: path.join(dir, 'postgres') };
    if (existsSync(b.initdb) && existsSync(b.pgCtl) && existsSync(b.postgres)) return b;
  }
  return undefined;
}

/** PostgreSQL refuses to run as root: then the cluster runs as this user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresSkipReason(): string | undefined {
  if (process.env.TRENT_TEST_POSTGRES_URL) return undefined;
  if (!findBinaries()) return 'PostgreSQL binaries (initdb, pg_ctl, postgres) not found: install Debian package postgresql-15 (or set TRENT_TEST_PG_BIN)';
  if (process.getuid?.() === 0 && !postgresUser()) return 'running as root and there is no "postgres" user to run PostgreSQL as';
  return undefined;
}

let cluster: Promise<PgCluster> | undefined;

/** The cluster of this test process, started on first use. */
export function postgresCluster(): Promise<PgCluster> {
  return (cluster ??= process.env.TRENT_TEST_POSTGRES_URL ? Promise.resolve(external(process.env.TRENT_TEST_POSTGRES_URL)) : startCluster());
}

function external(adminUrl: string): PgCluster {
  return { adminUrl, createDatabase: () => createDatabase(adminUrl) };
}

async function createDatabase(adminUrl: string): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/**
 * A cluster of its own, for the benchmark: `durable` keeps PostgreSQL's defaults (fsync, synchronous commit, full page
 * writes) instead of the test settings that skip them. Removed when the process exits, like the tests' cluster.
 */
export function startPostgresCluster(options: { durable?: boolean } = {}): Promise<PgCluster> {
  return startCluster(options.durable ?? false);
}

async function startCluster(durable = false): Promise<PgCluster> {
  const bin = findBinaries();
  if (!bin) throw new Error(postgresSkipReason());
  const user = postgresUser();
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const dir = mkdtempSync(path.join(tmpdir(), 'trent-pg-'));
  const data = path.join(dir, 'data');
  if (user) chownSync(dir, user.uid, user.gid);

  const ctlStop = [bin.pgCtl, 'stop', '-D', data, '-m', 'immediate', '-w'];
  const stopSync = () => {
    if (existsSync(path.join(data, 'postmaster.pid'))) spawnSync(ctlStop[0]!, ctlStop.slice(1), { ...as, stdio: 'ignore', timeout: 20_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  // Cleanup on any exit of this process, and a watchdog for the exits that run no handler (SIGKILL).
  process.once('exit', stopSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopSync();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
  const runAs = user ? `runuser -u postgres -- ` : '';
  const watchdog = spawn(
    'sh',
    ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; [ -f '${data}/postmaster.pid' ] && ${runAs}'${bin.pgCtl}' stop -D '${data}' -m immediate -w; rm -rf '${dir}'`],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();

  const init = spawnSync(bin.initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
    ...as, encoding: 'utf8', timeout: 120_000,
  });
  if (init.status !== 0) throw new Error(`initdb failed (${init.status}):\n${init.stdout}\n${init.stderr}`);

  /** Starts the server on `port`; resolves with an error text if it did not come up in 30 s. */
  const launch = async (port: number): Promise<string | undefined> => {
    const child: ChildProcess = spawn(
      bin.postgres,
      [
        '-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`,
        ...(durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
        '-c', 'max_connections=200', '-c', `shared_buffers=${durable ? '128MB' : '32MB'}`,
      ],
      { ...as, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    child.unref();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && child.exitCode === null) {
      const client = new pg.Client({ connectionString: adminUrl });
      try {
        await client.connect();
        await client.end();
        return undefined;
      } catch {
        await client.end().catch(() => {});
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    return log || 'no output';
  };

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const failed = await launch(port);
    if (failed === undefined) {
      const faults: PgFaults = {
        stop: async () => {
          const r = spawnSync(bin.pgCtl, ['stop', '-D', data, '-m', 'fast', '-w', '-t', '30'], { ...as, encoding: 'utf8', timeout: 40_000 });
          if (r.status !== 0) throw new Error(`pg_ctl stop failed (${r.status}): ${r.stdout}${r.stderr}`);
        },
        start: async () => {
          const failure = await launch(port);
          if (failure !== undefined) throw new Error(`PostgreSQL did not start again on port ${port}:\n${failure}`);
        },
        freeze: (frozen) => {
          const postmaster = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
          const pids = [postmaster, ...childrenOf(postmaster)];
          for (const pid of pids) {
            try {
              process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT');
            } catch {
              // a backend that has just exited
            }
          }
        },
      };
      return { ...external(`postgres://postgres@127.0.0.1:${port}/postgres`), faults };
    }
    lastError = failed;
  }
  throw new Error(`PostgreSQL did not start:\n${lastError}`);
}

/** Direct children of `pid`, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}
