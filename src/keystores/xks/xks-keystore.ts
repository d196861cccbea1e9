import { SecretBytes } from '../../crypto/secret-bytes.js';
import { createHash } from 'node:crypto';
import { parseKeyReference } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import type {
  CryptoCall, CustomKeyStoreRecord, KeyStore, MaterialRecord, Scope, SecretWrapper, XksBackend, XksCheck, XksProxySettings,
} from '../../domain/ports.js';
import { XksCallError, type XksClient, type XksEndpoint, type XksEncryptResult, type XksRequestMetadata } from './xks-client.js';

/**
 * What the MaterialRecord of a key in an external key store holds: Trent's own layer (AES-256 material, wrapped under
 * the root key as any key's material) marked with the store and the external key:
 *   u8 0xC2 (never the root key's wrap version, nor an HSM reference's 0xC1) || u8 n || custom key store id ||
 *   u8 m || XKS key id || the root-key-wrapped material (rest)
 */
const XKS_MARK = 0xc2;

export function xksMaterial(customKeyStoreId: string, xksKeyId: string, innerWrapped: Buffer): Buffer {
  const id = Buffer.from(customKeyStoreId, 'ascii');
  const xk = Buffer.from(xksKeyId, 'ascii');
  return Buffer.concat([Buffer.of(XKS_MARK, id.length), id, Buffer.of(xk.length), xk, innerWrapped]);
}

export function parseXksMaterial(wrapped: Buffer): { customKeyStoreId: string; xksKeyId: string; inner: Buffer } | undefined {
  if (wrapped.length < 4 || wrapped[0] !== XKS_MARK) return undefined;
  const n = wrapped[1]!;
  if (wrapped.length < 2 + n + 1) return undefined;
  const m = wrapped[2 + n]!;
  if (wrapped.length <= 3 + n + m) return undefined;
  return {
    customKeyStoreId: wrapped.subarray(2, 2 + n).toString('ascii'),
    xksKeyId: wrapped.subarray(3 + n, 3 + n + m).toString('ascii'),
    inner: wrapped.subarray(3 + n + m),
  };
}

export const isXksMaterial = (m: MaterialRecord): boolean => m.wrapped[0] === XKS_MARK && parseXksMaterial(m.wrapped) !== undefined;

/**
 * The external layer inside a ciphertext blob's "ciphertext" field for a key in an external key store
 * (docs/ciphertext-format.md): the blob's IV and tag are Trent's own layer's, and its ciphertext is
 *   u8 0x01 (XKS envelope version) || u8 iv length (12 or 16) || proxy IV || u8 ciphertextMetadata length (0-20) ||
 *   ciphertextMetadata || 16 proxy tag || proxy ciphertext (the external key's encryption of Trent's layer's ciphertext)
 */
const ENVELOPE_VERSION = 1;

export function encodeXksEnvelope(x: XksEncryptResult): Buffer {
  const meta = x.ciphertextMetadata ?? Buffer.alloc(0);
  return Buffer.concat([Buffer.of(ENVELOPE_VERSION, x.iv.length), x.iv, Buffer.of(meta.length), meta, x.tag, x.ciphertext]);
}

export function parseXksEnvelope(b: Buffer): XksEncryptResult | undefined {
  if (b.length < 2 || b[0] !== ENVELOPE_VERSION) return undefined;
  const ivLen = b[1]!;
  if (ivLen !== 12 && ivLen !== 16) return undefined;
  let at = 2;
  if (b.length < at + ivLen + 1) return undefined;
  const iv = b.subarray(at, at + ivLen);
  at += ivLen;
  const metaLen = b[at]!;
  at += 1;
  if (metaLen > 20 || b.length < at + metaLen + 16 + 1) return undefined;
  const meta = b.subarray(at, at + metaLen);
  at += metaLen;
  const tag = b.subarray(at, at + 16);
  at += 16;
  return { iv, tag, ciphertext: b.subarray(at), ciphertextMetadata: metaLen > 0 ? meta : undefined };
}

/** The AAD sent to the proxy: SHA-256 of Trent's AAD (blob header || encryption context), so its size is fixed. */
const proxyAad = (aad: Buffer): Buffer => createHash('sha256').update('trent-xks-aad\u0000').update(aad).digest();

/** The context of an external key store's proxy secret access key, wrapped under the root key. */
export const secretContext = (customKeyStoreId: string): string[] => ['xks-proxy-secret', customKeyStoreId];

export interface XksKeyStoreOptions {
  readonly client: XksClient;
  readonly local: KeyStore;
  readonly root: SecretWrapper;
  readonly lookup: (scope: Scope, customKeyStoreId: string) => Promise<CustomKeyStoreRecord | undefined>;
  readonly uuid: () => string;
}

/** Why a management call failed: AWS's exception and the ConnectionErrorCode a connection attempt would record. */
function classify(err: unknown): Extract<XksCheck, { ok: false }> {
  if (!(err instanceof XksCallError)) throw err;
  const m = `The external key store proxy: ${err.message}.`;
  switch (err.kind) {
    case 'not-reachable':
      return { ok: false, exception: 'XksProxyUriUnreachableException', connectionErrorCode: 'XKS_PROXY_NOT_REACHABLE', message: `KMS cannot reach the external key store proxy at its URI endpoint. ${m}` };
    case 'timed-out':
      return { ok: false, exception: 'XksProxyUriUnreachableException', connectionErrorCode: 'XKS_PROXY_TIMED_OUT', message: `The external key store proxy did not respond within the timeout period. ${m}` };
    case 'tls':
      return { ok: false, exception: 'XksProxyInvalidConfigurationException', connectionErrorCode: 'XKS_PROXY_INVALID_TLS_CONFIGURATION', message: `The TLS configuration of the external key store proxy is not valid (its certificate is not trusted by Trent's xksProxyTrustedCaFile, or not for its host name). ${m}` };
    case 'invalid-response':
      return { ok: false, exception: 'XksProxyInvalidResponseException', connectionErrorCode: 'XKS_PROXY_INVALID_RESPONSE', message: `KMS cannot interpret the response from the external key store proxy. ${m}` };
    case 'proxy-error':
      switch (err.errorName) {
        case 'AuthenticationFailedException':
          return { ok: false, exception: 'XksProxyIncorrectAuthenticationCredentialException', connectionErrorCode: 'INVALID_CREDENTIALS', message: `The external key store proxy rejected the authentication credential (XksProxyAuthenticationCredential). ${m}` };
        case 'AccessDeniedException':
          return { ok: false, exception: 'XksProxyInvalidConfigurationException', connectionErrorCode: 'XKS_PROXY_ACCESS_DENIED', message: `The external key store proxy denied access to KMS. ${m}` };
        case 'InvalidUriPathException':
          return { ok: false, exception: 'XksProxyInvalidConfigurationException', connectionErrorCode: 'XKS_PROXY_INVALID_CONFIGURATION', message: `The external key store proxy does not serve the XksProxyUriPath. ${m}` };
        case 'DependencyTimeoutException':
          return { ok: false, exception: 'XksProxyUriUnreachableException', connectionErrorCode: 'XKS_PROXY_TIMED_OUT', message: `The external key manager did not respond in time. ${m}` };
        default:
          return { ok: false, exception: 'XksProxyInvalidResponseException', connectionErrorCode: 'XKS_PROXY_INVALID_RESPONSE', message: `The external key store proxy failed the request. ${m}` };
      }
    default:
      return err.kind satisfies never;
  }
}

/** A proxy failure during a cryptographic operation: AWS answers KMSInvalidStateException for all of them. */
function cryptoFailure(err: unknown, customKeyStoreId: string): never {
  if (!(err instanceof XksCallError)) throw err;
  let why: string;
  switch (err.kind) {
    case 'not-reachable':
      why = 'the external key store proxy is not reachable';
      break;
    case 'timed-out':
      why = 'the external key store proxy did not respond within the timeout period';
      break;
    case 'tls':
      why = 'the TLS connection to the external key store proxy failed';
      break;
    case 'invalid-response':
      why = `the external key store proxy returned an invalid response (${err.message})`;
      break;
    case 'proxy-error':
      why =
        err.errorName === 'KeyNotFoundException' ? 'the external key store proxy could not find the external key'
        : err.errorName === 'InvalidStateException' ? 'the external key is not enabled in the external key manager'
        : err.errorName === 'InvalidKeyUsageException' ? 'the external key is not configured for encryption and decryption'
        : err.errorName === 'AuthenticationFailedException' ? 'the external key store proxy rejected the authentication credential'
        : err.errorName === 'AccessDeniedException' ? 'the external key store proxy denied access'
        : err.errorName === 'ThrottlingException' ? 'the external key store proxy is throttling requests'
        : `the external key store proxy failed the request (${err.errorName})`;
      break;
    default:
      return err.kind satisfies never;
  }
  throw new KmsError('KMSInvalidStateException', `The operation failed because ${why}: custom key store ${customKeyStoreId}.`);
}

/**
 * EXTERNAL_KEY_STORE custom key stores: double encryption. Encrypt runs Trent's own AES-256-GCM layer (the key's
 * material, wrapped under the root key), then sends that layer's ciphertext to the proxy for the external key;
 * Decrypt undoes them in the opposite order. Nothing is kept per store on a node: each call reads the store's record
 * (cached by CustomKeyStores) for the proxy's address and credential.
 */
export class XksKeyStore implements XksBackend {
  constructor(private readonly opts: XksKeyStoreOptions) {}

  wrapSecret(customKeyStoreId: string, secret: Buffer): Buffer {
    return this.opts.root.wrap(secretContext(customKeyStoreId), secret);
  }

  #endpoint(settings: XksProxySettings, customKeyStoreId: string): XksEndpoint {
    const secret = this.opts.root.unwrap(secretContext(customKeyStoreId), settings.secretWrapped);
    if (!secret) throw new KmsError('KMSInternalException', `The proxy credential of custom key store ${customKeyStoreId} does not open under the root key.`);
    return { uriEndpoint: settings.uriEndpoint, uriPath: settings.uriPath, accessKeyId: settings.accessKeyId, secretAccessKey: secret };
  }

  async healthCheck(settings: XksProxySettings, customKeyStoreId: string, call: CryptoCall): Promise<XksCheck> {
    const endpoint = this.#endpoint(settings, customKeyStoreId);
    try {
      const h = await this.opts.client.health(endpoint, { kmsOperation: call.operation, kmsRequestId: call.requestId });
      if (!h.ekmStatuses.some((s) => s === 'ACTIVE' || s === 'DEGRADED')) {
        return {
          ok: false, exception: 'XksProxyUriUnreachableException', connectionErrorCode: 'XKS_PROXY_NOT_REACHABLE',
          message: 'The external key store proxy reports that all external key manager instances are unavailable.',
        };
      }
      return { ok: true };
    } catch (err) {
      return classify(err);
    } finally {
      endpoint.secretAccessKey.fill(0);
    }
  }

  async checkKey(store: CustomKeyStoreRecord, xksKeyId: string, call: CryptoCall, keyArn?: string): Promise<XksCheck> {
    const endpoint = this.#endpoint(store.xks!, store.customKeyStoreId);
    try {
      const md = await this.opts.client.keyMetadata(endpoint, xksKeyId, this.#meta(call, keyArn));
      const problems = [
        md.keySpec !== 'AES_256' && `its key spec is ${md.keySpec}, not AES_256`,
        !(md.keyUsage.includes('ENCRYPT') && md.keyUsage.includes('DECRYPT')) && `its key usage is [${md.keyUsage.join(', ')}], not ENCRYPT and DECRYPT`,
        md.keyStatus !== 'ENABLED' && `its status is ${md.keyStatus}, not ENABLED`,
      ].filter((p): p is string => typeof p === 'string');
      if (problems.length > 0) {
        return { ok: false, exception: 'XksKeyInvalidConfigurationException', connectionErrorCode: 'XKS_PROXY_INVALID_CONFIGURATION', message: `The external key ${xksKeyId} cannot back a KMS key: ${problems.join('; ')}.` };
      }
      return { ok: true };
    } catch (err) {
      if (err instanceof XksCallError && err.errorName === 'KeyNotFoundException') {
        return { ok: false, exception: 'XksKeyNotFoundException', connectionErrorCode: 'XKS_PROXY_INVALID_CONFIGURATION', message: `The external key store proxy could not find an external key with id ${xksKeyId}.` };
      }
      return classify(err);
    } finally {
      endpoint.secretAccessKey.fill(0);
    }
  }

  async createMaterial(store: CustomKeyStoreRecord, keyArn: string, materialId: string, xksKeyId: string): Promise<MaterialRecord> {
    const inner = await this.opts.local.createMaterial(keyArn, materialId, 'SYMMETRIC_DEFAULT');
    return { ...inner, wrapped: xksMaterial(store.customKeyStoreId, xksKeyId, inner.wrapped) };
  }

  #meta(call: CryptoCall, keyArn?: string): XksRequestMetadata {
    return { awsPrincipalArn: call.principalArn, kmsOperation: call.operation, kmsRequestId: call.requestId, ...(keyArn !== undefined && { kmsKeyArn: keyArn }) };
  }

  async #storeFor(material: MaterialRecord): Promise<{ store: CustomKeyStoreRecord; xksKeyId: string; inner: MaterialRecord }> {
    const ref = parseXksMaterial(material.wrapped);
    if (!ref) throw new Error('not an XKS material');
    const arn = parseKeyReference(material.keyArn);
    if (!arn || arn.kind !== 'keyArn') throw new Error('an XKS material with a malformed key ARN');
    const store = await this.opts.lookup(arn.scope, ref.customKeyStoreId);
    if (!store?.xks || store.connectionState !== 'CONNECTED') {
      throw new KmsError('KMSInvalidStateException', `The external key store ${ref.customKeyStoreId} is not connected: connect it with ConnectCustomKeyStore.`);
    }
    return { store, xksKeyId: ref.xksKeyId, inner: { ...material, wrapped: ref.inner } };
  }

  #call(call: CryptoCall | undefined): CryptoCall {
    // Internal callers (none today) would still send the required fields.
    return call ?? { principalArn: 'arn:aws:iam::000000000000:root', operation: 'Encrypt', requestId: this.opts.uuid() };
  }

  async encrypt(material: MaterialRecord, plaintext: Buffer, aad: Buffer, call?: CryptoCall): Promise<{ iv: Buffer; ciphertext: Buffer; tag: Buffer }> {
    const { store, xksKeyId, inner } = await this.#storeFor(material);
    const first = await this.opts.local.encrypt(inner, plaintext, aad);
    const endpoint = this.#endpoint(store.xks!, store.customKeyStoreId);
    try {
      const outer = await this.opts.client.encrypt(endpoint, xksKeyId, first.ciphertext, proxyAad(aad), this.#meta(this.#call(call), material.keyArn));
      return { iv: first.iv, tag: first.tag, ciphertext: encodeXksEnvelope(outer) };
    } catch (err) {
      return cryptoFailure(err, store.customKeyStoreId);
    } finally {
      endpoint.secretAccessKey.fill(0);
    }
  }

  async decrypt(material: MaterialRecord, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer, call?: CryptoCall): Promise<SecretBytes | undefined> {
    const envelope = parseXksEnvelope(ciphertext);
    if (!envelope) return undefined;
    const { store, xksKeyId, inner } = await this.#storeFor(material);
    const endpoint = this.#endpoint(store.xks!, store.customKeyStoreId);
    let firstCiphertext: Buffer | undefined;
    try {
      firstCiphertext = await this.opts.client.decrypt(endpoint, xksKeyId, envelope, proxyAad(aad), this.#meta(this.#call(call), material.keyArn));
    } catch (err) {
      return cryptoFailure(err, store.customKeyStoreId);
    } finally {
      endpoint.secretAccessKey.fill(0);
    }
    if (!firstCiphertext) return undefined;
    return this.opts.local.decrypt(inner, iv, firstCiphertext, tag, aad);
  }
}
