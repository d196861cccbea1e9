// ECDH (SP 800-56A §5.7.1.2 "ECC CDH" without cofactor, as the NIST curves have cofactor 1): the shared secret is the
// x-coordinate of d·Q, as AWS's DeriveSharedSecret and `openssl pkeyutl -derive` return it. OpenSSL does the work,
// except on the SM2 curve, where sm2.ts does (OpenSSL 3.0's SM2 key type has no derive operation).
import { createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import type { EcCurve } from './key-pairs.js';
import { parseSm2Spki, Sm2Key } from './sm2.js';

/** The curves of KEY_AGREEMENT keys: the NIST curves (OpenSSL names) and SM2. */
export type AgreementCurve = EcCurve | 'SM2';
/** A peer public key: a KeyObject on a NIST curve, or a public-only Sm2Key. */
export type PeerPublicKey = KeyObject | Sm2Key;

export type PeerKey = { readonly ok: true; readonly key: PeerPublicKey } | { readonly ok: false; readonly why: 'malformed' | 'wrong-curve'; readonly curve?: string };

/**
 * The peer's public key from DER SubjectPublicKeyInfo, on `curve`. OpenSSL checks the encoding and that the point is
 * on the curve; anything else (another key type, another curve, trailing bytes, PEM) is refused.
 */
export function parsePeerPublicKey(spki: Buffer, curve: AgreementCurve): PeerKey {
  let key: KeyObject;
  if (!wholeDerSequence(spki)) return { ok: false, why: 'malformed' };
  const sm2 = parseSm2Spki(spki);
  if (curve === 'SM2' || sm2.ok) {
    if (sm2.ok) return curve === 'SM2' ? { ok: true, key: Sm2Key.fromPublicPoint(sm2.point) } : { ok: false, why: 'wrong-curve', curve: 'SM2' };
    if (sm2.why === 'malformed') return { ok: false, why: 'malformed' };
  }
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return { ok: false, why: 'malformed' };
  }
  const peerCurve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || peerCurve !== curve || curve === 'SM2') return { ok: false, why: 'wrong-curve', curve: peerCurve ?? key.asymmetricKeyType ?? 'unknown' };
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
export function ecdhSharedSecret(privateKey: KeyObject | Sm2Key, peer: PeerPublicKey): Buffer {
  if (privateKey instanceof Sm2Key || peer instanceof Sm2Key) {
    if (!(privateKey instanceof Sm2Key && peer instanceof Sm2Key)) throw new TypeError('ECDH between an SM2 key and a non-SM2 key');
    return privateKey.ecdh(peer.publicPoint);
  }
  return diffieHellman({ privateKey, publicKey: peer });
}
