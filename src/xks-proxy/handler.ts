// The XKS Proxy API v1 over one request: route under a configured URI path, POST only, SigV4, validate, call the key
// manager, answer. No HTTP here (server.ts does the transport), so the whole API is testable in process.
import type { HeaderPair } from '../auth/sigv4.js';
import {
  cdiv, CIPHERTEXT_METADATA, hsmAad, parseBody, parseDecryptRequest, parseEncryptRequest, parseRequestMetadata,
  type RequestMetadata, type XksOperation,
} from './api.js';
import type { XksBackend, XksKeyInfo } from './backend.js';
import { KEY_ID, type XksKeyMapping, type XksKeystoreConfig } from './config.js';
import { errorBody, XksError } from './errors.js';
import { verifyXksSignature } from './sigv4-verifier.js';

export const XKS_PROXY_VENDOR = 'Trent';
export const XKS_PROXY_MODEL = 'Trent XKS Proxy 0.1 (XKS Proxy API v1.0)';

export interface XksRequest {
  readonly method: string;
  /** The request target as sent: path and optional query string. */
  readonly url: string;
  readonly headers: readonly HeaderPair[];
  readonly body: Buffer;
}

export interface XksResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON body; absent: no body. */
  readonly body?: unknown;
  /** For the request log: never plaintext, keys or secrets. */
  readonly log: XksLogFields;
}

export interface XksLogFields {
  api?: XksOperation | undefined;
  uriPath?: string | undefined;
  keyId?: string | undefined;
  accessKeyId?: string | undefined;
  requestMetadata?: RequestMetadata | undefined;
  errorName?: string | undefined;
  errorMessage?: string | undefined;
}

export interface XksHandlerOptions {
  readonly region: string;
  readonly keystores: readonly XksKeystoreConfig[];
  readonly backend: XksBackend;
  readonly fleetSize: number;
  readonly clockSkewSeconds: number;
  readonly backendTimeoutMs: number;
  readonly now?: () => Date;
  /** Where unexpected failures are reported (their details never reach the caller). */
  readonly onInternalError?: (err: unknown) => void;
}

type Route = { readonly keystore: XksKeystoreConfig } & ({ readonly api: 'GetHealthStatus' } | { readonly api: Exclude<XksOperation, 'GetHealthStatus'>; readonly keyId: string });

const KEY_APIS = { metadata: 'GetKeyMetadata', encrypt: 'Encrypt', decrypt: 'Decrypt' } as const;

export class XksHandler {
  #keystores: readonly XksKeystoreConfig[];
  #health: Promise<'ACTIVE' | 'UNAVAILABLE'> | undefined;

  constructor(private readonly opts: XksHandlerOptions) {
    this.#keystores = opts.keystores;
  }

  /** Swaps the URI paths, credentials and keys (SIGHUP: credential rotation without a restart). */
  reload(keystores: readonly XksKeystoreConfig[]): void {
    this.#keystores = keystores;
  }

  async handle(req: XksRequest): Promise<XksResponse> {
    const log: XksLogFields = {};
    try {
      const q = req.url.indexOf('?');
      const path = q < 0 ? req.url : req.url.slice(0, q);
      const query = q < 0 ? '' : req.url.slice(q + 1);
      const route = this.route(path);
      log.api = route.api;
      log.uriPath = route.keystore.uriPath;
      if (route.api !== 'GetHealthStatus') log.keyId = route.keyId;
      // Spec: a GET (or any non-POST) at the URI of one of the four APIs is 405 Method Not Allowed.
      if (req.method !== 'POST') {
        log.errorName = 'MethodNotAllowed';
        return { status: 405, headers: { allow: 'POST' }, log };
      }
      const now = this.opts.now?.() ?? new Date();
      log.accessKeyId = verifyXksSignature(
        { method: req.method, path, query, headers: req.headers, body: req.body }, route.keystore.credentials, this.opts.region, now, this.opts.clockSkewSeconds,
      );
      const body = parseBody(req.body);
      if (route.api === 'GetHealthStatus') {
        log.requestMetadata = parseRequestMetadata(body, 'GetHealthStatus');
        return { status: 200, body: await this.health(), log };
      }
      if (!KEY_ID.test(route.keyId)) throw new XksError('ValidationException', 'The external key id must be 1 to 128 of A-Z a-z 0-9 - . _.');
      return { status: 200, body: await this.keyOperation(route.api, route.keystore, route.keyId, body, log), log };
    } catch (err) {
      const xks = err instanceof XksError ? err : this.internal(err);
      log.errorName = xks.errorName;
      log.errorMessage = xks.message;
      return { status: xks.status, body: errorBody(xks), log };
    }
  }

  private internal(err: unknown): XksError {
    this.opts.onInternalError?.(err);
    return new XksError('InternalException', 'The XKS proxy failed to process the request.');
  }

  /** Spec: an unknown URI path, including a wrong prefix, is InvalidUriPathException (404). */
  private route(path: string): Route {
    // One URI path may extend another (/kms/xks/v1 and /a/kms/xks/v1/b/kms/xks/v1): every candidate is tried.
    for (const keystore of this.#keystores) {
      if (!path.startsWith(`${keystore.uriPath}/`)) continue;
      const rest = path.slice(keystore.uriPath.length + 1);
      if (rest === 'health') return { keystore, api: 'GetHealthStatus' };
      const m = /^keys\/([^/]+)\/(metadata|encrypt|decrypt)$/.exec(rest);
      if (m) return { keystore, api: KEY_APIS[m[2] as keyof typeof KEY_APIS], keyId: m[1]! };
    }
    throw new XksError('InvalidUriPathException', 'The request URI path is not an XKS Proxy API path of this proxy.');
  }

  private async keyOperation(api: Exclude<XksOperation, 'GetHealthStatus'>, keystore: XksKeystoreConfig, keyId: string, body: Record<string, unknown>, log: XksLogFields): Promise<unknown> {
    switch (api) {
      case 'GetKeyMetadata': {
        log.requestMetadata = parseRequestMetadata(body, api);
        const mapping = this.mapping(keystore, keyId);
        const info = await this.describe(mapping);
        const keyUsage = [...(info.encrypt ? ['ENCRYPT'] : []), ...(info.decrypt ? ['DECRYPT'] : [])];
        return { keySpec: info.keySpec, keyUsage, keyStatus: mapping.enabled ? 'ENABLED' : 'DISABLED' };
      }
      case 'Encrypt': {
        const r = parseEncryptRequest(body);
        log.requestMetadata = r.requestMetadata;
        const mapping = this.mapping(keystore, keyId);
        const info = await this.usable(mapping);
        // The CDIV is verified by decrypting (spec, Appendix C): a key that may not decrypt cannot give one.
        if (!info.encrypt || (r.cdivAlgorithm && !info.decrypt)) {
          throw new XksError('InvalidKeyUsageException', r.cdivAlgorithm && info.encrypt ? 'The key cannot decrypt, which verifying the ciphertext data integrity value needs.' : 'The key does not allow encryption.');
        }
        const aad = hsmAad(r.aad, CIPHERTEXT_METADATA);
        const out = await this.timed(this.opts.backend.encrypt(mapping.label, r.plaintext, aad));
        const response: Record<string, string> = {
          ciphertext: out.ciphertext.toString('base64'),
          ciphertextMetadata: CIPHERTEXT_METADATA.toString('base64'),
          initializationVector: out.iv.toString('base64'),
          authenticationTag: out.tag.toString('base64'),
        };
        if (r.cdivAlgorithm) {
          // Appendix C: compute the CDIV first, then prove the output decrypts to the input, then answer.
          const value = cdiv(r.aad, CIPHERTEXT_METADATA, out.iv, out.ciphertext, out.tag);
          const back = await this.timed(this.opts.backend.decrypt(mapping.label, out, aad)).catch(() => undefined);
          if (!back || !back.equals(r.plaintext)) throw new XksError('InternalException', 'The ciphertext did not decrypt back to the plaintext; nothing was returned.');
          back.fill(0);
          response.ciphertextDataIntegrityValue = value.toString('base64');
        }
        return response;
      }
      case 'Decrypt': {
        const r = parseDecryptRequest(body);
        log.requestMetadata = r.requestMetadata;
        const mapping = this.mapping(keystore, keyId);
        const info = await this.usable(mapping);
        if (!info.decrypt) throw new XksError('InvalidKeyUsageException', 'The key does not allow decryption.');
        const plaintext = await this.timed(this.opts.backend.decrypt(mapping.label, { iv: r.iv, ciphertext: r.ciphertext, tag: r.tag }, hsmAad(r.aad, r.ciphertextMetadata)));
        return { plaintext: plaintext.toString('base64') };
      }
      default: {
        const never: never = api;
        throw new Error(`unknown XKS API ${String(never)}`);
      }
    }
  }

  private mapping(keystore: XksKeystoreConfig, keyId: string): XksKeyMapping {
    const mapping = keystore.keys.get(keyId);
    if (!mapping) throw new XksError('KeyNotFoundException', `No external key ${keyId} under this URI path.`);
    return mapping;
  }

  private describe(mapping: XksKeyMapping): Promise<XksKeyInfo> {
    return this.timed(this.opts.backend.describeKey(mapping.label));
  }

  /** Encrypt/Decrypt need an enabled AES-256 key. */
  private async usable(mapping: XksKeyMapping): Promise<XksKeyInfo> {
    const info = await this.describe(mapping);
    if (!mapping.enabled) throw new XksError('InvalidStateException', `The external key ${mapping.keyId} is disabled in the proxy configuration.`);
    if (info.keySpec !== 'AES_256') throw new XksError('InvalidKeyUsageException', `The external key is ${info.keySpec}; XKS API v1 uses AES_256 keys only.`);
    return info;
  }

  /** GetHealthStatus: a real encrypt/decrypt round trip with the test key; concurrent calls share one check. */
  private async health(): Promise<unknown> {
    this.#health ??= this.timed(this.opts.backend.testOperation()).then(
      () => 'ACTIVE' as const,
      () => 'UNAVAILABLE' as const,
    ).finally(() => {
      this.#health = undefined;
    });
    const status = await this.#health;
    const ekm = await this.timed(this.opts.backend.describe()).catch(() => ({ vendor: 'unknown', id: 'unknown', model: 'unknown' }));
    return {
      xksProxyFleetSize: this.opts.fleetSize,
      xksProxyVendor: XKS_PROXY_VENDOR,
      xksProxyModel: XKS_PROXY_MODEL,
      ekmVendor: ekm.vendor,
      ekmFleetDetails: [{ id: ekm.id, model: ekm.model, healthStatus: status }],
    };
  }

  private timed<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new XksError('DependencyTimeoutException', `The key manager did not answer within ${this.opts.backendTimeoutMs} ms.`)), this.opts.backendTimeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}
