// The HTTPS transport of the XKS proxy: TLS 1.2+ (optionally mutual, with a client CA and accepted subject names),
// HTTP/1.1, a body limit, one JSON log line per request (requestMetadata, never plaintext), a load-balancer ping.
import { appendFileSync, readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { HeaderPair } from '../auth/sigv4.js';
import type { XksProxyConfig } from './config.js';
import { errorBody, XksError } from './errors.js';
import type { XksHandler, XksResponse } from './handler.js';

/** Large enough for the spec's sizes (4300-byte plaintext, 8192-byte AAD, 2048-character ARNs) many times over. */
export const MAX_BODY_BYTES = 256 * 1024;

export interface RunningXksProxy {
  readonly url: string;
  close(): Promise<void>;
}

type LogSink = (line: string) => void;

export function requestLogSink(target: string): LogSink {
  switch (target) {
    case 'off':
      return () => {};
    case 'stdout':
      return (line) => process.stdout.write(line);
    case 'stderr':
      return (line) => process.stderr.write(line);
    default:
      return (line) => appendFileSync(target, line, { mode: 0o600 });
  }
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerPairs(req: IncomingMessage): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  return pairs;
}

function send(res: ServerResponse, r: Pick<XksResponse, 'status' | 'headers' | 'body'>): void {
  const text = r.body === undefined ? '' : JSON.stringify(r.body);
  res.writeHead(r.status, { ...(r.body === undefined ? {} : { 'content-type': 'application/json' }), 'content-length': Buffer.byteLength(text), ...r.headers });
  res.end(text);
}

/** Starts listening; resolves once bound. */
export async function startXksProxyServer(config: XksProxyConfig, handler: XksHandler, log: LogSink): Promise<RunningXksProxy> {
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    void (async () => {
      if (req.method === 'GET' && req.url === config.loadBalancerHealthPath) {
        send(res, { status: 200, body: { status: 'OK' } });
        return;
      }
      const body = await readBody(req);
      let out: XksResponse;
      if (body === undefined) {
        const err = new XksError('UnsupportedOperationException', `The request body exceeds the ${MAX_BODY_BYTES} bytes this proxy supports.`);
        out = { status: err.status, body: errorBody(err), log: { errorName: err.errorName } };
        res.setHeader('connection', 'close');
      } else {
        out = await handler.handle({ method: req.method ?? 'GET', url: req.url ?? '/', headers: headerPairs(req), body });
      }
      send(res, out);
      const m = out.log.requestMetadata;
      log(`${JSON.stringify({
        time: new Date().toISOString(),
        api: out.log.api,
        uriPath: out.log.uriPath,
        keyId: out.log.keyId,
        status: out.status,
        errorName: out.log.errorName,
        errorMessage: out.log.errorMessage,
        accessKeyId: out.log.accessKeyId,
        kmsRequestId: m?.kmsRequestId,
        kmsOperation: m?.kmsOperation,
        awsPrincipalArn: m?.awsPrincipalArn,
        kmsKeyArn: m?.kmsKeyArn,
        kmsViaService: m?.kmsViaService,
        awsSourceVpc: m?.awsSourceVpc,
        awsSourceVpce: m?.awsSourceVpce,
        ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
      })}\n`);
    })().catch((err: unknown) => {
      process.stderr.write(`xks-proxy: request failed: ${(err as Error)?.message ?? String(err)}\n`);
      if (!res.headersSent) send(res, { status: 500, body: errorBody(new XksError('InternalException', 'The XKS proxy failed to process the request.')) });
      else res.destroy();
    });
  };

  let server: http.Server;
  const tls = config.tls;
  if (tls) {
    const names = tls.clientSubjectNames;
    server = https.createServer(
      {
        cert: readFileSync(tls.certFile),
        key: readFileSync(tls.keyFile),
        minVersion: 'TLSv1.2',
        ...(tls.clientCaFile ? { ca: readFileSync(tls.clientCaFile), requestCert: true, rejectUnauthorized: true } : {}),
      },
      onRequest,
    );
    if (names) {
      // Spec, Authentication: with mTLS, a client certificate of another subject name is refused (the CA is checked
      // in the handshake itself by rejectUnauthorized).
      server.on('secureConnection', (socket: TLSSocket) => {
        const cn = socket.getPeerCertificate()?.subject?.CN;
        const cns = Array.isArray(cn) ? cn : cn === undefined ? [] : [cn];
        if (!cns.some((c) => names.includes(c))) socket.destroy();
      });
    }
  } else {
    server = http.createServer(onRequest);
  }
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
