// Starts `trent xks-proxy` as a real process and signs XKS Proxy API requests (SigV4, service kms-xks-proxy) for it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { signRequest } from '../../bench/sigv4.js';
import { repoRoot } from './server.js';

export interface XksProxyProcess {
  readonly url: string;
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
}

export async function startXksProxy(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<XksProxyProcess> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'xks-proxy', '--config', configFile], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`xks-proxy did not start in 20 s:\n${err}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /Trent XKS proxy listening on (\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`xks-proxy exited with ${code}:\n${err}`));
    });
  });
  return {
    url,
    process: child,
    stdout: () => out,
    stderr: () => err,
    stop: async () => {
      const exited = child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface XksCallOptions {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region?: string;
  readonly service?: string;
  readonly method?: string;
  readonly date?: Date;
  /** Sent instead of the signed body (tampering). */
  readonly sendBody?: string;
  /** Headers to drop after signing. */
  readonly unsigned?: boolean;
  readonly ca: string;
  readonly clientCert?: { cert: string; key: string } | undefined;
}

export interface XksCallResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: any;
}

/** One signed request over HTTPS; `body` is JSON-encoded unless it is a string. */
export function xksCall(url: string, body: unknown, o: XksCallOptions): Promise<XksCallResult> {
  const u = new URL(url);
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const method = o.method ?? 'POST';
  const headers = o.unsigned
    ? { 'content-type': 'application/json' }
    : signRequest({
        method, url: u, headers: { 'content-type': 'application/json' }, body: text, region: o.region ?? 'us-east-1', service: o.service ?? 'kms-xks-proxy',
        credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey }, ...(o.date ? { date: o.date } : {}),
      });
  const payload = o.sendBody ?? text;
  return new Promise((resolve, reject) => {
    const req = https.request(
      u,
      {
        method, headers: { ...headers, 'content-length': String(Buffer.byteLength(payload)) }, ca: readFileSync(o.ca), agent: false,
        ...(o.clientCert ? { cert: readFileSync(o.clientCert.cert), key: readFileSync(o.clientCert.key) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const t = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = t === '' ? undefined : JSON.parse(t);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: t, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
