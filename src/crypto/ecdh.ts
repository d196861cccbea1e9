// ECDH (SP 800-56A §5.7.1.2 "ECC CDH" without cofactor, as the NIST curves have cofactor 1): the shared secret is the
// x-coordinate of d·Q, as AWS's DeriveSharedSecret and `openssl pkeyutl -derive` return it. OpenSSL does the work.
import { createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import type { EcCurve } from './key-pairs.js';

export type PeerKey = { readonly ok: true; readonly key: KeyObject } | { readonly ok: false; readonly why: 'malformed' | 'wrong-curve'; readonly curve?: string };

/**
 * The peer's public key from DER SubjectPublicKeyInfo, on `curve`. OpenSSL checks the encoding and that the point is
 * on the curve; anything else (another key type, another curve, trailing bytes, PEM) is refused.
 */
export function parsePeerPublicKey(spki: Buffer, curve: EcCurve): PeerKey {
  let key: KeyObject;
  if (!wholeDerSequence(spki)) return { ok: false, why: 'malformed' };
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return { ok: false, why: 'malformed' };
  }
  const peerCurve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || peerCurve !== curve) return { ok: false, why: 'wrong-curve', curve: peerCurve ?? key.asymmetricKeyType ?? 'unknown' };
  return { ok: true, key };
}

/** The outer DER SEQUENCE covers the whole buffer: nothing trailing. */
function wholeDerSequence(der: Buffer): boolean {
  if (der[0] !== 0x30 || der.length < 2) return false;
  const first = der[1]!;
  if (first < 0x80) return 2 + first === der.length;
  const n = first & 0x7f;
  if (n < 1 || n > 2 || der.length < 2 + n) return false;
  const len = n === 1 ? der[2]! : der.readUInt16BE(2);
  return 2 + n + len === der.length;
}

/** The raw ECDH shared secret (x-coordinate, field-size bytes). */
export function ecdhSharedSecret(privateKey: KeyObject, peer: KeyObject): Buffer {
  return diffieHellman({ privateKey, publicKey: peer });
}
