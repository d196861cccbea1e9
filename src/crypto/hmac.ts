import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

export type HmacHash = 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** HMAC (RFC 2104) of `message` under `key` (bytes, or a secret KeyObject: SecretBytes.keyObject). */
export function hmac(hash: HmacHash, key: Buffer | KeyObject, message: Buffer): Buffer {
  return createHmac(hash, key).update(message).digest();
}

/** Constant-time equality of two MACs or signatures; a length mismatch is false (the length is not secret). */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
