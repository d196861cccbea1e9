// The KMS side of the XKS Proxy API v1: requests signed with SigV4 (service kms-xks-proxy, the store's region, the
// store's access key), over HTTPS that trusts the configured CA, with a per-call timeout (AWS: 250 ms). Each answer is
// classified so that management operations can map it to AWS's Xks* exceptions and connection error codes, and
// cryptographic operations to KMSInvalidStateException.
import { createHash } from 'node:crypto';
import https from 'node:https';
import { isIP } from 'node:net';
import { ALGORITHM, canonicalRequest, formatAmzDate, sha256Hex, signature, signingKey, stringToSign, TERMINATOR, type HeaderPair } from '../../crypto/sigv4.js';

export const XKS_SERVICE = 'kms-xks-proxy';

/** What a proxy call failed with. `proxy-error`: the proxy answered an XKS error (errorName). */
export type XksFailureKind = 'not-reachable' | 'timed-out' | 'tls' | 'invalid-response' | 'proxy-error';

export class XksCallError extends Error {
  /** A kept-alive connection found closed: safe to retry once (nothing reached the proxy). */
  stale: boolean;
  constructor(
    readonly kind: XksFailureKind,
    message: string,
    readonly status?: number,
    readonly errorName?: string,
  ) {
    super(message);
    this.stale = false;
    this.name = 'XksCallError';
  }
}

export interface XksEndpoint {
  /** https://host */
  readonly uriEndpoint: string;
  readonly uriPath: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: Buffer;
}

export interface XksRequestMetadata {
  readonly awsPrincipalArn?: string;
  readonly kmsKeyArn?: string;
  readonly kmsOperation: string;
  readonly kmsRequestId: string;
}

export interface XksClientOptions {
  readonly region: string;
  /** PEM of the CAs that sign proxies' TLS certificates (undefined: Node's default CAs). */
  readonly ca?: string | Buffer | undefined;
  /** TCP port for every proxy endpoint (the model's XksProxyUriEndpoint has no port; AWS uses 443). */
  readonly port: number;
  /** Per-call timeout; AWS: 250 ms. */
  readonly timeoutMs: number;
  readonly now?: () => Date;
}

export interface SignedXksRequest {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Builds and signs one request (exported for unit tests: AWS's SigV4 with service kms-xks-proxy). */
export function signXksRequest(endpoint: XksEndpoint, region: string, port: number, path: string, body: unknown, now: Date): SignedXksRequest {
  const host = new URL(endpoint.uriEndpoint).hostname + (port === 443 ? '' : `:${port}`);
  const text = JSON.stringify(body);
  const amzDate = formatAmzDate(now);
  const payloadHash = sha256Hex(text);
  const headers: HeaderPair[] = [
    ['content-type', 'application/json'],
    ['host', host],
    ['x-amz-content-sha256', payloadHash],
    ['x-amz-date', amzDate],
  ];
  const signedHeaders = headers.map(([n]) => n).sort();
  const canonical = canonicalRequest({ method: 'POST', path, query: '', headers, signedHeaders, payloadHash });
  const scope = `${amzDate.slice(0, 8)}/${region}/${XKS_SERVICE}/${TERMINATOR}`;
  const key = signingKey(endpoint.secretAccessKey, amzDate.slice(0, 8), region, XKS_SERVICE);
  let sig: string;
  try {
    sig = signature(key, stringToSign(amzDate, scope, canonical));
  } finally {
    key.fill(0);
  }
  return {
    path,
    body: text,
    headers: {
      ...Object.fromEntries(headers),
      authorization: `${ALGORITHM} Credential=${endpoint.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${sig}`,
    },
  };
}

/**
 * The ciphertext data integrity value of the XKS Proxy API (Appendix C): SHA-256 over additionalAuthenticatedData (if
 * sent) || ciphertextMetadata (if any) || initializationVector || ciphertext || authenticationTag. Trent asks for it
 * on every Encrypt and recomputes it over the response, as KMS does: a mismatch means the response was damaged.
 */
export function ciphertextDataIntegrityValue(aad: Buffer | undefined, ciphertextMetadata: Buffer | undefined, iv: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  const h = createHash('sha256');
  if (aad) h.update(aad);
  if (ciphertextMetadata) h.update(ciphertextMetadata);
  return h.update(iv).update(ciphertext).update(tag).digest();
}

export interface XksEncryptResult {
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
  readonly ciphertextMetadata?: Buffer | undefined;
}

export interface XksKeyMetadata {
  readonly keySpec: string;
  readonly keyUsage: readonly string[];
  readonly keyStatus: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const invalid = (message: string) => new XksCallError('invalid-response', message);

function b64(o: Record<string, unknown>, name: string, required: true): Buffer;
function b64(o: Record<string, unknown>, name: string, required: false): Buffer | undefined;
function b64(o: Record<string, unknown>, name: string, required: boolean): Buffer | undefined {
  const v = o[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !BASE64.test(v)) throw invalid(`the proxy's ${name} is missing or not Base64`);
  return Buffer.from(v, 'base64');
}

export class XksClient {
  constructor(private readonly opts: XksClientOptions) {}

  async health(endpoint: XksEndpoint, meta: XksRequestMetadata): Promise<{ ekmStatuses: string[] }> {
    const r = await this.#call(endpoint, '/health', { requestMetadata: { kmsOperation: meta.kmsOperation, kmsRequestId: meta.kmsRequestId } });
    const details = r.ekmFleetDetails;
    if (!Array.isArray(details) || details.length === 0) throw invalid('the proxy\'s GetHealthStatus answer has no ekmFleetDetails');
    return { ekmStatuses: details.map((d) => String((d as Record<string, unknown>)?.healthStatus)) };
  }

  async keyMetadata(endpoint: XksEndpoint, keyId: string, meta: XksRequestMetadata): Promise<XksKeyMetadata> {
    const r = await this.#call(endpoint, `/keys/${encodeURIComponent(keyId)}/metadata`, { requestMetadata: meta });
    if (typeof r.keySpec !== 'string' || !Array.isArray(r.keyUsage) || typeof r.keyStatus !== 'string') throw invalid('the proxy\'s GetKeyMetadata answer lacks keySpec, keyUsage or keyStatus');
    return { keySpec: r.keySpec, keyUsage: r.keyUsage.map(String), keyStatus: r.keyStatus };
  }

  async encrypt(endpoint: XksEndpoint, keyId: string, plaintext: Buffer, aad: Buffer, meta: XksRequestMetadata): Promise<XksEncryptResult> {
    const r = await this.#call(endpoint, `/keys/${encodeURIComponent(keyId)}/encrypt`, {
      requestMetadata: meta,
      plaintext: plaintext.toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
      additionalAuthenticatedData: aad.toString('base64'),
      ciphertextDataIntegrityValueAlgorithm: 'SHA_256',
    });
    const ciphertext = b64(r, 'ciphertext', true);
    const iv = b64(r, 'initializationVector', true);
    const tag = b64(r, 'authenticationTag', true);
    const ciphertextMetadata = b64(r, 'ciphertextMetadata', false);
    const cdiv = b64(r, 'ciphertextDataIntegrityValue', false);
    if (iv.length !== 12 && iv.length !== 16) throw invalid(`the proxy's initializationVector is ${iv.length} bytes (12 or 16 expected)`);
    if (tag.length !== 16) throw invalid(`the proxy's authenticationTag is ${tag.length} bytes (16 expected)`);
    if (ciphertextMetadata && ciphertextMetadata.length > 20) throw invalid('the proxy\'s ciphertextMetadata exceeds 20 bytes');
    if (ciphertext.length !== plaintext.length) throw invalid('the proxy\'s ciphertext is not the length of the plaintext (AES-GCM)');
    if (!cdiv) throw invalid('the proxy did not return the ciphertextDataIntegrityValue requested');
    if (!cdiv.equals(ciphertextDataIntegrityValue(aad, ciphertextMetadata, iv, ciphertext, tag))) {
      throw invalid('the proxy\'s ciphertextDataIntegrityValue does not match its ciphertext');
    }
    return { iv, ciphertext, tag, ciphertextMetadata };
  }

  /** Undefined when the proxy answers InvalidCiphertextException (the ciphertext or AAD does not authenticate). */
  async decrypt(endpoint: XksEndpoint, keyId: string, c: XksEncryptResult, aad: Buffer, meta: XksRequestMetadata): Promise<Buffer | undefined> {
    let r: Record<string, unknown>;
    try {
      r = await this.#call(endpoint, `/keys/${encodeURIComponent(keyId)}/decrypt`, {
        requestMetadata: meta,
        ciphertext: c.ciphertext.toString('base64'),
        encryptionAlgorithm: 'AES_GCM',
        initializationVector: c.iv.toString('base64'),
        authenticationTag: c.tag.toString('base64'),
        additionalAuthenticatedData: aad.toString('base64'),
        ...(c.ciphertextMetadata && { ciphertextMetadata: c.ciphertextMetadata.toString('base64') }),
      });
    } catch (err) {
      if (err instanceof XksCallError && err.errorName === 'InvalidCiphertextException') return undefined;
      throw err;
    }
    const plaintext = b64(r, 'plaintext', true);
    if (plaintext.length !== c.ciphertext.length) throw invalid('the proxy\'s plaintext is not the length of the ciphertext');
    return plaintext;
  }

  async #call(endpoint: XksEndpoint, suffix: string, body: unknown): Promise<Record<string, unknown>> {
    try {
      return await this.#once(endpoint, suffix, body);
    } catch (err) {
      // A kept-alive connection the proxy closed meanwhile (a proxy restart): once more on a fresh connection.
      if (err instanceof XksCallError && err.stale) return this.#once(endpoint, suffix, body);
      throw err;
    }
  }

  #once(endpoint: XksEndpoint, suffix: string, body: unknown): Promise<Record<string, unknown>> {
    const req = signXksRequest(endpoint, this.opts.region, this.opts.port, `${endpoint.uriPath}${suffix}`, body, this.opts.now?.() ?? new Date());
    const url = new URL(endpoint.uriEndpoint);
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err: XksCallError | undefined, value?: Record<string, unknown>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value!);
      };
      const r = https.request(
        {
          host: url.hostname, port: this.opts.port, method: 'POST', path: req.path, headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
          ...(this.opts.ca !== undefined && { ca: this.opts.ca }), agent: agentFor(this.opts.ca), ...(isIP(url.hostname) === 0 && { servername: url.hostname }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > 1 << 20) {
              r.destroy();
              done(invalid('the proxy\'s answer exceeds 1 MiB'));
            } else chunks.push(c);
          });
          res.on('error', (e) => done(new XksCallError('not-reachable', `the connection to the proxy failed: ${e.message}`)));
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              json = undefined;
            }
            const status = res.statusCode ?? 0;
            const o = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
            if (status === 200) {
              if (!o) done(invalid('the proxy\'s answer is not a JSON object'));
              else done(undefined, o);
              return;
            }
            const errorName = typeof o?.errorName === 'string' ? o.errorName : undefined;
            if (!errorName) {
              done(new XksCallError('invalid-response', `the proxy answered HTTP ${status} without an XKS error`, status));
              return;
            }
            const msg = typeof o?.errorMessage === 'string' ? o.errorMessage.slice(0, 200) : '';
            done(new XksCallError('proxy-error', `the proxy answered ${errorName}${msg ? `: ${msg}` : ''}`, status, errorName));
          });
        },
      );
      const timer = setTimeout(() => {
        r.destroy();
        done(new XksCallError('timed-out', `the proxy did not answer within ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs);
      r.on('error', (e: NodeJS.ErrnoException) => {
        if (r.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
          const stale = new XksCallError('not-reachable', `the proxy closed the connection: ${e.code}`);
          stale.stale = true;
          done(stale);
          return;
        }
        const tls = typeof e.code === 'string' && (/CERT|SSL|TLS|SELF_SIGNED|VERIFY|ISSUER|SIGNATURE|HOSTNAME/.test(e.code) || e.code === 'EPROTO');
        done(new XksCallError(tls ? 'tls' : 'not-reachable', tls ? `TLS with the proxy failed: ${e.code}` : `the proxy is not reachable: ${e.code ?? e.message}`));
      });
      r.end(req.body);
    });
  }
}

// One keep-alive agent per CA: a TLS handshake per call would not fit a 250 ms budget on a slow link.
const agents = new Map<unknown, https.Agent>();
function agentFor(ca: string | Buffer | undefined): https.Agent {
  let a = agents.get(ca);
  if (!a) {
    a = new https.Agent({ keepAlive: true, maxSockets: 64, ...(ca !== undefined && { ca }) });
    agents.set(ca, a);
  }
  return a;
}
