import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { OPERATIONS, TARGET_PREFIX, type OperationName } from '../model/kms-model.generated.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { RequestLog } from '../audit/request-log.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import { echoed, KmsError, MAX_MESSAGE_CHARS } from '../domain/errors.js';
import { StorageUnavailableError } from '../domain/ports.js';
import { THROTTLED_MESSAGE, type RequestQuotas } from '../domain/request-quotas.js';
import type { OperationRegistry } from '../operations/registry.js';
import type { RequestContext, Services } from '../operations/operation.js';
import { parseInput, serializeOutput } from './shapes.js';

export interface ServerLogger {
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Extra routes outside the KMS API (health, dev endpoints): return true when handled. */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<boolean>;

export interface HandlerDeps {
  readonly registry: OperationRegistry;
  readonly authenticator: Authenticator;
  readonly services: Services;
  readonly requestLog: RequestLog;
  /** Every request, allowed, denied or failed, becomes an audit event (docs/audit.md). */
  readonly audit: AuditTrail;
  readonly logger: ServerLogger;
  readonly maxBodyBytes: number;
  readonly extraRoutes: readonly ExtraRoute[];
  /** AWS's request quotas; absent when off. */
  readonly quotas?: RequestQuotas | undefined;
  /** Most KMS requests received and not yet answered; more are answered ThrottlingException at once. 0: no bound. */
  readonly maxInFlight?: number | undefined;
}

const JSON_11 = 'application/x-amz-json-1.1';

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, out: ResponseWriter = endNow): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': JSON_11, 'Content-Length': bytes.length, ...headers });
  out(res, bytes);
}

type ResponseWriter = (res: ServerResponse, bytes: Buffer) => void;
/** A writer that holds responses until the end of the turn; `queued()` is how many it holds. */
export type BatchedWriter = ResponseWriter & { readonly queued: () => number };
const endNow: ResponseWriter = (res, bytes) => res.end(bytes);

/**
 * Writes the responses of one turn of the event loop together, once every request that turn brought in has been
 * handled (setImmediate: after the poll phase). Sending a response also wakes its client when the client is waiting,
 * and on one host (loopback) the server pays for that wake-up in its own write: written back to back, the writes after
 * the first find the client awake. Measured on 2 cores with the load generator on the same host, this took about 10 µs
 * of CPU off each Encrypt and raised requests/s by a fifth (docs/benchmarks.md). A response waits at most for the
 * other requests of its turn.
 */
export function batchedWriter(onError: (err: unknown) => void): BatchedWriter {
  let pending: { res: ServerResponse; bytes: Buffer }[] = [];
  const flush = () => {
    const turn = pending;
    pending = [];
    for (const { res, bytes } of turn) {
      try {
        res.end(bytes);
      } catch (err) {
        onError(err);
      }
    }
  };
  const write = (res: ServerResponse, bytes: Buffer) => {
    if (pending.push({ res, bytes }) === 1) setImmediate(flush);
  };
  return Object.assign(write, { queued: () => pending.length });
}

/**
 * The one place where "the store is down" becomes an AWS exception. Could not reach it, or no answer in time:
 * DependencyTimeoutException (AWS: "The system timed out while trying to fulfill the request. You can retry the
 * request."). The connection broke with a statement in flight (a write may or may not have committed):
 * KMSInternalException. Both are HTTP 500, server faults that SDKs retry.
 */
export function storageFault(err: StorageUnavailableError): KmsError {
  switch (err.reason) {
    case 'unreachable':
    case 'timeout':
      return new KmsError('DependencyTimeoutException', 'The system timed out while trying to fulfill the request. You can retry the request.');
    case 'connection-lost':
      return new KmsError('KMSInternalException', 'An internal error occurred. Retry the request.');
    default:
      return err.reason satisfies never;
  }
}

/**
 * HTTP that Node's parser refuses before a request exists (a header block over the limit, bad framing, a request that
 * took too long to arrive): answered, where the connection still takes a response, with an AWS-shaped JSON error
 * instead of Node's empty one, and closed.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, type, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'RequestEntityTooLargeException', 'The request header fields are too large.']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'RequestTimeoutException', 'The request was not received in time.']
        : [400, 'Bad Request', 'SerializationException', 'The request is not well-formed HTTP/1.1.'];
  const body = JSON.stringify({ __type: type, message });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${JSON_11}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-amzn-ErrorType: ${type}\r\nConnection: close\r\n\r\n${body}`);
}

/** At most one log line per this many ms about an unavailable store (an outage under load would flood the log). */
const STORE_LOG_INTERVAL_MS = 1_000;

/** AWS JSON 1.1 over HTTP: POST / with X-Amz-Target: TrentService.<Operation>. */
export function createRequestHandler(deps: HandlerDeps) {
  const out = batchedWriter((err) => deps.logger.error('could not write a response', { error: err instanceof Error ? err.message : String(err) }));
  let storeLoggedAt = -Infinity;
  let storeSuppressed = 0;
  const logStoreFault = (err: StorageUnavailableError, requestId: string, operation: string) => {
    const now = performance.now();
    if (now - storeLoggedAt < STORE_LOG_INTERVAL_MS) {
      storeSuppressed++;
      return;
    }
    deps.logger.error('store unavailable', { requestId, operation, error: err.message, ...(storeSuppressed ? { suppressed: storeSuppressed } : {}) });
    storeLoggedAt = now;
    storeSuppressed = 0;
  };
  // In flight: requests being worked on (from the end of their body to their answer), plus answers waiting for the end
  // of the turn to be written. Over the bound, a request is answered at once, its body neither read nor parsed (Node
  // discards it and keeps the connection). A body still arriving does not count: a client sending it slowly holds a
  // connection (bounded by the connection limits and the request timeout), not a place of the bound.
  const maxInFlight = deps.maxInFlight ?? 0;
  let handling = 0;
  const shed = (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    send(res, 400, { __type: 'ThrottlingException', message: THROTTLED_MESSAGE }, { 'x-amzn-RequestId': requestId, 'x-amzn-ErrorType': 'ThrottlingException' }, out);
    if (!deps.requestLog.enabled) return;
    const target = String(req.headers['x-amz-target'] ?? '');
    deps.requestLog.record({
      type: 'request', time: new Date().toISOString(), requestId,
      operation: echoed(target.startsWith(`${TARGET_PREFIX}.`) ? target.slice(TARGET_PREFIX.length + 1) : target || `${req.method} ${req.url}`),
      sourceIp: req.socket.remoteAddress ?? '', outcome: 'failure', errorCode: 'ThrottlingException', status: 400, durationMs: 0,
    });
  };
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // GET: /health and the dev clock, never shed (KMS requests are POSTs).
    if (maxInFlight > 0 && handling + out.queued() >= maxInFlight && req.method !== 'GET') return shed(req, res);
    let working = false;
    const started = performance.now();
    const requestId = randomUUID();
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(`${TARGET_PREFIX}.`) ? target.slice(TARGET_PREFIX.length + 1) : target;
    const sourceIp = req.socket.remoteAddress ?? '';
    const audit = deps.audit.begin(requestId, sourceIp, String(req.headers['user-agent'] ?? ''), String(req.headers.authorization ?? ''));
    // The event name: the operation, or what the client sent as one (bounded), or UnknownOperation.
    audit.operation = operation === '' ? 'UnknownOperation' : operation.slice(0, 128);
    let audited = true;
    let ctx: RequestContext | undefined;
    let status = 200;
    let errorCode: string | undefined;
    try {
      let body: Buffer;
      try {
        body = await readBody(req, deps.maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLarge) throw new KmsError('RequestEntityTooLargeException', `Request body exceeds the maximum size of ${deps.maxBodyBytes} bytes.`);
        throw err;
      }
      handling++;
      working = true;
      const path = (req.url ?? '/').split('?')[0];
      const kms = req.method === 'POST' && path === '/';
      if (!kms || !target.startsWith(`${TARGET_PREFIX}.`)) {
        // Health, dev endpoints, CloudTrail LookupEvents: not KMS requests, so no audit event.
        audited = false;
        for (const route of deps.extraRoutes) if (await route(req, res, body)) return;
        audited = true;
        if (!kms) throw new KmsError('UnknownOperationException', `No operation at ${req.method} ${path}.`);
      }
      const authenticated = await deps.authenticator.authenticate({ method: 'POST', url: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders, body });
      // The audit queue is full (the store is slow or down): ThrottlingException now, before anything runs.
      deps.audit.admit(audit, authenticated.identity, body.length);
      const op = deps.registry.byTarget(target);
      if (!op) {
        if (target && Object.hasOwn(OPERATIONS, operation)) throw new KmsError('UnsupportedOperationException', `${operation} is not supported by this Trent version yet.`);
        throw new KmsError('UnknownOperationException', target ? `Unknown operation ${target}` : 'Missing X-Amz-Target header.');
      }
      ctx = {
        requestId,
        caller: authenticated.identity,
        region: authenticated.region,
        scope: { account: authenticated.identity.account, region: authenticated.region },
        sourceIp,
        userAgent: audit.userAgent,
        secureTransport: (req.socket as { encrypted?: boolean }).encrypted === true,
      };
      audit.request = ctx;
      let json: unknown;
      try {
        json = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        throw new KmsError('SerializationException', 'The request body is not valid JSON.');
      }
      // Request quotas known from the operation (and GenerateDataKeyPair's KeyPairSpec), before validation; those of
      // cryptographic operations need the key, and are checked where it is resolved (operations/common.ts).
      deps.quotas?.admitOperation(ctx.scope, op.name as OperationName, json);
      const def = OPERATIONS[op.name as OperationName];
      const input = def.input ? parseInput(def.input, json) : {};
      audit.input = input;
      // A state-changing operation runs in the audit scope: its storage transaction commits its event with the change.
      const output = await deps.audit.run(audit, () => op.handle(input, ctx!, deps.services));
      send(res, 200, def.output ? serializeOutput(def.output, output) : {}, { 'x-amzn-RequestId': requestId }, out);
    } catch (err) {
      let kmsErr = err instanceof KmsError ? err : undefined;
      if (err instanceof StorageUnavailableError) {
        logStoreFault(err, requestId, operation);
        kmsErr = storageFault(err);
      } else if (!kmsErr) deps.logger.error('internal error', { requestId, operation, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      let e = kmsErr ?? new KmsError('KMSInternalException', 'An internal error occurred. Retry the request.');
      if (e.message.length > MAX_MESSAGE_CHARS) e = new KmsError(e.type, `${e.message.slice(0, MAX_MESSAGE_CHARS)}...`);
      status = e.status;
      errorCode = e.type;
      audit.errorCode = e.type;
      audit.errorMessage = e.message;
      if (!res.headersSent) send(res, e.status, { __type: e.type, message: e.message }, { 'x-amzn-RequestId': requestId, 'x-amzn-ErrorType': e.type }, out);
    } finally {
      if (working) handling--;
      if (audited) deps.audit.end(audit);
      if (deps.requestLog.enabled) deps.requestLog.record({
        type: 'request',
        time: new Date().toISOString(),
        requestId,
        operation: echoed(operation || `${req.method} ${req.url}`),
        keyArn: ctx?.resourceArn,
        principal: ctx?.caller.principalArn,
        accessKeyId: ctx?.caller.accessKeyId,
        region: ctx?.region,
        sourceIp,
        userAgent: ctx?.userAgent === undefined ? undefined : echoed(ctx.userAgent),
        outcome: status < 400 ? 'success' : 'failure',
        errorCode,
        status,
        durationMs: performance.now() - started,
      });
    }
  };
}
