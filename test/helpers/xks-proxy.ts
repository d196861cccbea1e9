// Starts `trent xks-proxy` as a real process and signs XKS Proxy API requests (SigV4, service kms-xks-proxy) for it.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { signRequest } from '../../bench/sigv4.js';
import { startTrentProcess, type TrentProcess } from './server.js';

export type XksProxyProcess = TrentProcess;

/** `trent xks-proxy --config FILE` as a real process, once it listens. */
export function startXksProxy(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<XksProxyProcess> {
  return startTrentProcess(['xks-proxy', '--config', configFile], env, /Trent XKS proxy listening on (\S+)/);
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
