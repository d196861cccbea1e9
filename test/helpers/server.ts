// Starts a real Trent process for end-to-end tests and gives clients pointed at it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KMSClient } from '@aws-sdk/client-kms';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface TestServer {
  readonly url: string;
  readonly dataDir: string;
  readonly process: ChildProcess;
  /** Everything the server printed on stdout (the request log) and stderr so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit; removes the data dir unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<number | null>;
}

export interface StartOptions {
  readonly dev?: boolean;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Reuse an existing data dir (restart tests). */
  readonly dataDir?: string;
}

export interface TrentProcess {
  /** What the ready line announced (the URL it listens on). */
  readonly url: string;
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
}

/** Runs `trent <args>` and waits (20 s at most) for `ready` on stderr; its first group is the URL. */
export async function startTrentProcess(args: readonly string[], env: NodeJS.ProcessEnv | undefined, ready: RegExp): Promise<TrentProcess> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/trent.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`trent ${args[0]} did not start in 20 s:\n${err}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = ready.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`trent ${args[0]} exited with ${code}:\n${err}`));
    });
  });
  return {
    url,
    process: child,
    stdout: () => out,
    stderr: () => err,
    stop: () => {
      const exited = child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'trent-test-'));
  const args = ['serve', '--port', '0', '--data-dir', dataDir, ...(opts.dev === false ? [] : ['--dev']), ...(opts.args ?? [])];
  const trent = await startTrentProcess(args, opts.env, /Trent listening on (\S+)/);
  return {
    ...trent,
    dataDir,
    stop: async ({ keepData = false } = {}) => {
      const code = await trent.stop();
      if (!keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** An SDK client for a dev-mode server; a 12-digit access key id selects that account. */
export function devClient(url: string, opts: { accessKeyId?: string; region?: string } = {}): KMSClient {
  return new KMSClient({
    endpoint: url,
    region: opts.region ?? 'us-east-1',
    credentials: { accessKeyId: opts.accessKeyId ?? 'AKIADEVTEST', secretAccessKey: 'dev-secret' },
    maxAttempts: 1,
  });
}

/**
 * A dev-mode server shared by a suite, with one SDK client per account (in dev mode a 12-digit access key id selects
 * the account): started in `before`, stopped in `after`. Read `server`, `a` and `b` inside tests.
 */
export function devAccounts(accountA: string, accountB: string): { server: TestServer; a: KMSClient; b: KMSClient } {
  const env = {} as { server: TestServer; a: KMSClient; b: KMSClient };
  before(async () => {
    env.server = await startServer({ dev: true });
    env.a = devClient(env.server.url, { accessKeyId: accountA });
    env.b = devClient(env.server.url, { accessKeyId: accountB });
  });
  after(async () => {
    env.a?.destroy();
    env.b?.destroy();
    await env.server?.stop();
  });
  return env;
}
