import { createHmac, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gcmDecrypt, gcmEncrypt, GCM_IV_BYTES, GCM_TAG_BYTES } from '../../crypto/aes-gcm.js';
import { lengthPrefixed } from '../../crypto/length-prefixed.js';
import { SecretBytes } from '../../crypto/secret-bytes.js';
import type { RandomSource, SecretWrapper, Storage } from '../../domain/ports.js';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;
const WRAP_VERSION = 1;
const CHECK_LABEL = 'trent root key check v1';
/** The `root.check` setting of a store whose root key is in an HSM starts with this (docs/root-key.md). */
export const HSM_CHECK_PREFIX = 'hsm1:';
const SCRYPT_PARAMS = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/**
 * The root of trust: an AES-256 key that wraps every piece of key material and every secret at rest.
 * Wrapped form: u8 version || 12-byte IV || AES-256-GCM ciphertext || 16-byte tag, with the associated data
 * binding it to what it is (e.g. ["material", key ARN, material id]) so a wrapped blob cannot be moved.
 */
export class RootKey implements SecretWrapper {
  readonly #key: SecretBytes;
  private constructor(key: Buffer) {
    this.#key = new SecretBytes(key);
  }

  static fromBytes(key: Buffer): RootKey {
    if (key.length !== 32) throw new Error('the root key must be 32 bytes');
    return new RootKey(key);
  }

  /** Reads the root key file, or creates it (mode 0600) when it does not exist yet. */
  static async fromFile(path: string, random: RandomSource): Promise<{ rootKey: RootKey; created: boolean }> {
    try {
      const text = await readFile(path, 'utf8');
      const bytes = Buffer.from(text.trim(), 'base64');
      if (bytes.length !== 32) throw new Error(`root key file ${path} does not hold a base64 32-byte key`);
      return { rootKey: new RootKey(bytes), created: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const bytes = random.bytes(32);
    await writeFile(path, `${bytes.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(path, 0o600);
    return { rootKey: new RootKey(bytes), created: true };
  }

  /** Reads an existing root key file; never creates one (restore: the key must be the backed-up store's). */
  static async fromExistingFile(path: string): Promise<RootKey> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`there is no root key file at ${path}`);
      throw err;
    }
    const bytes = Buffer.from(text.trim(), 'base64');
    if (bytes.length !== 32) throw new Error(`root key file ${path} does not hold a base64 32-byte key`);
    return new RootKey(bytes);
  }

  /** Derives the root key from a passphrase and a known salt (base64), touching no store. */
  static async fromPassphraseAndSalt(passphrase: string, salt: string): Promise<RootKey> {
    if (passphrase.length < 12) throw new Error('the root key passphrase must be at least 12 characters');
    return new RootKey(await scrypt(passphrase, Buffer.from(salt, 'base64'), 32, SCRYPT_PARAMS));
  }

  /** The check value a store keeps in its `root.check` setting (an HMAC of a fixed label, not the key). */
  checkValue(): string {
    return createHmac('sha256', this.#key.unsafeBytes()).update(CHECK_LABEL).digest('base64');
  }

  /** Whether `stored` (a `root.check` setting) was made by this root key; constant time. */
  matchesCheckValue(stored: string): boolean {
    if (stored.startsWith(HSM_CHECK_PREFIX)) return false;
    const a = Buffer.from(stored, 'base64');
    const b = Buffer.from(this.checkValue(), 'base64');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Derives the root key from a passphrase with scrypt; the salt is kept in the store's settings. */
  static async fromPassphrase(passphrase: string, storage: Storage, random: RandomSource): Promise<RootKey> {
    if (passphrase.length < 12) throw new Error('the root key passphrase must be at least 12 characters');
    // Several nodes may start at once on a new store: the first salt written wins.
    const salt = (await storage.getSetting('root.scrypt.salt')) ?? (await storage.putSettingIfAbsent('root.scrypt.salt', random.bytes(16).toString('base64')));
    const key = await scrypt(passphrase, Buffer.from(salt, 'base64'), 32, SCRYPT_PARAMS);
    return new RootKey(key);
  }

  /** Makes sure this root key is the one the store was created with (a check value, not the key). */
  async verifyAgainst(storage: Storage): Promise<void> {
    const check = this.checkValue();
    const stored = await storage.putSettingIfAbsent('root.check', check);
    if (stored.startsWith(HSM_CHECK_PREFIX)) {
      throw new Error('this data store\'s root key is in a PKCS#11 token (an HSM root key): start with --root-key pkcs11:... (docs/root-key.md); refusing to start');
    }
    if (!timingSafeEqual(Buffer.from(stored, 'base64'), Buffer.from(check, 'base64'))) {
      throw new Error('the root key does not match this data store (wrong key file or passphrase): refusing to start');
    }
  }

  /**
   * A keyed fingerprint: HMAC-SHA-256 of `data` under a subkey derived from the root key for `context`. The same input
   * always gives the same value; without the root key nobody can test a guess (ids of imported material). A store
   * with a `root.fingerprint` setting (an HSM root key, or a migrated store) keys them with that secret instead.
   */
  fingerprint(context: readonly string[], data: Buffer): Buffer {
    return keyedFingerprint(this.#key.unsafeBytes(), context, data);
  }

  /**
   * A copy of the secret this key's fingerprints are keyed with (the key itself): `trent root-key migrate` keeps it,
   * wrapped under the new root key, as the store's fingerprint key, so imported material keeps its ids. Zero it after use.
   */
  fingerprintKeyCopy(): Buffer {
    return Buffer.from(this.#key.unsafeBytes());
  }

  wrap(context: readonly string[], secret: Buffer): Buffer {
    const { iv, ciphertext, tag } = gcmEncrypt(this.#key.keyObject(), secret, lengthPrefixed(context));
    return Buffer.concat([Buffer.of(WRAP_VERSION), iv, ciphertext, tag]);
  }

  /** Undefined when the wrapped bytes were not made by this root key for this context. */
  unwrap(context: readonly string[], wrapped: Buffer): Buffer | undefined {
    if (wrapped.length < 1 + GCM_IV_BYTES + GCM_TAG_BYTES || wrapped[0] !== WRAP_VERSION) return undefined;
    const iv = wrapped.subarray(1, 1 + GCM_IV_BYTES);
    const tag = wrapped.subarray(wrapped.length - GCM_TAG_BYTES);
    const ciphertext = wrapped.subarray(1 + GCM_IV_BYTES, wrapped.length - GCM_TAG_BYTES);
    return gcmDecrypt(this.#key.keyObject(), { iv, ciphertext, tag }, lengthPrefixed(context));
  }
}

/** HMAC-SHA-256 of `data` under HMAC(key, ["trent fingerprint v1", ...context]). */
export function keyedFingerprint(key: Buffer, context: readonly string[], data: Buffer): Buffer {
  const subkey = createHmac('sha256', key).update(lengthPrefixed(['trent fingerprint v1', ...context])).digest();
  try {
    return createHmac('sha256', subkey).update(data).digest();
  } finally {
    subkey.fill(0);
  }
}
