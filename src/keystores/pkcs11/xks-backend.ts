// The XKS proxy's key manager: AES keys of a PKCS#11 token, found by CKA_LABEL, used through Pkcs11Token (session
// pool, CKM_AES_GCM in the token). Token failures become the XKS API's errors.
import { randomBytes } from 'node:crypto';
import type { EkmDescription, GcmOutput, XksBackend, XksKeyInfo } from '../../xks-proxy/backend.js';
import { XksError } from '../../xks-proxy/errors.js';
import { Pkcs11TokenError } from './pkcs11-errors.js';
import type { KeyUsage, LabelledAesKey, Pkcs11Token } from './pkcs11-token.js';

/** How long a key's lookup (CKA_ID, usage, size) is reused before the token is asked again. */
const KEY_CACHE_MS = 5_000;
const HEALTH_AAD = Buffer.from('trent xks-proxy health check');

function toXksError(err: unknown): XksError {
  if (err instanceof XksError) return err;
  if (err instanceof Pkcs11TokenError) {
    switch (err.kind) {
      case 'authentication-failed':
        return new XksError('InvalidCiphertextException', 'The ciphertext, initialization vector, additional authenticated data, ciphertext metadata or authentication tag is invalid.');
      case 'key-not-found':
        return new XksError('KeyNotFoundException', 'The external key is not in the key manager.');
      case 'capacity':
        return new XksError('ThrottlingException', 'The key manager has no free session or memory; retry.');
      case 'invalid-credentials':
      case 'module-not-found':
      case 'token-not-found':
      case 'session':
      case 'device':
        // CKR_KEY_FUNCTION_NOT_PERMITTED: the key's CKA_ENCRYPT/CKA_DECRYPT changed since it was looked up.
        if (err.ckr === 'CKR_KEY_FUNCTION_NOT_PERMITTED') return new XksError('InvalidKeyUsageException', 'The key does not allow this operation.');
        return new XksError('InternalException', `The key manager failed (${err.ckr ?? err.kind}).`);
      default: {
        const never: never = err.kind;
        return new XksError('InternalException', `The key manager failed (${String(never)}).`);
      }
    }
  }
  return new XksError('InternalException', 'The key manager failed.');
}

const KEY_SPECS: Record<number, XksKeyInfo['keySpec']> = { 16: 'AES_128', 24: 'AES_192', 32: 'AES_256' };

export class Pkcs11XksBackend implements XksBackend {
  readonly #keys = new Map<string, { key: LabelledAesKey; at: number }>();

  constructor(
    private readonly token: Pkcs11Token,
    private readonly healthKeyLabel: string,
  ) {}

  async #lookup(label: string, fresh = false): Promise<LabelledAesKey> {
    const cached = this.#keys.get(label);
    if (!fresh && cached && Date.now() - cached.at < KEY_CACHE_MS) return cached.key;
    let key: LabelledAesKey | undefined;
    try {
      key = await this.token.findAesKeyByLabel(label);
    } catch (err) {
      throw toXksError(err);
    }
    if (!key) {
      this.#keys.delete(label);
      throw new XksError('KeyNotFoundException', 'The external key is not in the key manager.');
    }
    this.#keys.set(label, { key, at: Date.now() });
    return key;
  }

  /** Runs a token call with the key's CKA_ID; a key gone since it was cached is looked up once more. */
  async #withKey<T>(label: string, fn: (id: Buffer) => Promise<T>): Promise<T> {
    const key = await this.#lookup(label);
    try {
      return await fn(key.id);
    } catch (err) {
      if (!(err instanceof Pkcs11TokenError && err.kind === 'key-not-found')) throw toXksError(err);
    }
    this.#keys.delete(label);
    const again = await this.#lookup(label, true);
    try {
      return await fn(again.id);
    } catch (err) {
      throw toXksError(err);
    }
  }

  async describeKey(label: string): Promise<XksKeyInfo> {
    const key = await this.#lookup(label);
    const keySpec = KEY_SPECS[key.valueLen];
    if (!keySpec) throw new XksError('KeyNotFoundException', 'The external key is not an AES key of a supported size.');
    return { keySpec, encrypt: key.encrypt, decrypt: key.decrypt };
  }

  encrypt(label: string, plaintext: Buffer, aad: Buffer): Promise<GcmOutput> {
    return this.#withKey(label, (id) => this.token.encrypt(id, plaintext, aad));
  }

  decrypt(label: string, input: GcmOutput, aad: Buffer): Promise<Buffer> {
    return this.#withKey(label, (id) => this.token.decrypt(id, input.iv, input.ciphertext, input.tag, aad));
  }

  /** A real round trip through the token with the health-check key (never a key KMS uses). */
  async testOperation(): Promise<void> {
    const probe = randomBytes(32);
    const out = await this.encrypt(this.healthKeyLabel, probe, HEALTH_AAD);
    const back = await this.decrypt(this.healthKeyLabel, out, HEALTH_AAD);
    if (!back.equals(probe)) throw new XksError('InternalException', 'The health-check round trip returned other bytes.');
  }

  async describe(): Promise<EkmDescription> {
    try {
      const info = await this.token.info();
      return { vendor: info.manufacturer || 'unknown', id: `${info.label}/${info.serialNumber}`, model: info.model || 'unknown' };
    } catch (err) {
      throw toXksError(err);
    }
  }

  /**
   * Makes an AES-256 key labelled `label` in the token (sensitive, non-extractable, persistent) with the given usage.
   * Refuses a label that an AES key already has.
   */
  async createKey(label: string, usage: KeyUsage): Promise<void> {
    if (await this.token.findAesKeyByLabel(label)) throw new Error(`the token already has an AES key labelled "${label}"`);
    await this.token.generateAesKey(randomBytes(16), label, usage);
  }

  /** Makes the health-check key if the token does not have it yet; returns whether it was made. */
  async ensureHealthKey(): Promise<boolean> {
    if (await this.token.findAesKeyByLabel(this.healthKeyLabel)) return false;
    await this.token.generateAesKey(randomBytes(16), this.healthKeyLabel);
    return true;
  }

  close(): void {
    this.token.close();
  }
}
