// Starts a real Trent process for end-to-end tests and gives clients pointed at it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'trent-test-'));
  const args = [path.join(repoRoot, 'bin/trent.js'), 'serve', '--port', '0', '--data-dir', dataDir, ...(opts.dev === false ? [] : ['--dev']), ...(opts.args ?? [])];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 20 s:\n${err}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /Trent listening on (\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${err}`));
    });
  });
  return {
    url,
    dataDir,
    process: child,
    stdout: () => out,
    stderr: () => err,
    stop: async ({ keepData = false } = {}) => {
      const exited = child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const code = await exited;
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
