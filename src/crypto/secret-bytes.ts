import { createSecretKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';

const REDACTED = '[SecretBytes redacted]';
/** Marks a buffer handed over by SecretBytes.adopt. */
const OWNED: unique symbol = Symbol('owned');

/**
 * Bytes that must never reach a log, an error or a file in the clear: plaintext, key material, secret keys.
 * Every conversion to text is redacted; `unsafeBytes()` is the one explicit way to read them.
 */
export class SecretBytes {
  readonly #bytes: Buffer;
  #key: KeyObject | undefined;
  /** Copies `bytes`: the caller may wipe or reuse its own buffer. */
  constructor(bytes: Uint8Array, owned?: typeof OWNED) {
    this.#bytes = owned === OWNED && Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  }

  /** Takes ownership of a fresh buffer nobody else holds (decoded input, decrypted or random bytes): no copy. */
  static adopt(bytes: Buffer): SecretBytes {
    return new SecretBytes(bytes, OWNED);
  }
  get length(): number {
    return this.#bytes.length;
  }
  /** The raw bytes. Callers must not log, store or return them except to the principal entitled to them. */
  unsafeBytes(): Buffer {
    return this.#bytes;
  }
  /**
   * The bytes as a secret KeyObject (made once), for keys used again and again: Node 22 and later (OpenSSL 3.5) take
   * about 8.5 µs more per createCipheriv, createDecipheriv or createHmac given a Buffer key than given a KeyObject
   * (Node 20: no difference). The KeyObject holds its own copy, released when it is garbage-collected (Node cannot
   * zero it sooner); wipe() drops this reference.
   */
  keyObject(): KeyObject {
    return (this.#key ??= createSecretKey(this.#bytes));
  }
  /** Overwrites the bytes with zeros (best effort: V8 may have copies) and drops the KeyObject made of them. */
  wipe(): void {
    this.#bytes.fill(0);
    this.#key = undefined;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}
