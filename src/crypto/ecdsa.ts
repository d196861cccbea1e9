// ECDSA over a caller-supplied digest (AWS's MessageType DIGEST), which Node's crypto.sign cannot do: it always
// hashes. Both directions use @noble/curves (constant-time scalar multiplication, hedged RFC 6979 nonces: the
// deterministic nonce is mixed with fresh randomness, so signatures differ from call to call as AWS's do).
// RAW messages are signed and verified by OpenSSL (crypto.sign / crypto.verify), not by this module.
import type { KeyObject } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { EcCurve } from './key-pairs.js';

const NOBLE = { prime256v1: p256, secp384r1: p384, secp521r1: p521, secp256k1 } as const satisfies Record<EcCurve, unknown>;

export function curveOf(key: KeyObject): EcCurve {
  const name = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || !name || !(name in NOBLE)) throw new TypeError(`unsupported EC key ${String(name)}`);
  return name as EcCurve;
}

/** The uncompressed point 04 || X || Y of an EC public key. */
export function ecPoint(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

/**
 * ECDSA signature (DER SEQUENCE of r and s, as AWS returns it) of a digest. The digest is used as given (bits2int of
 * SEC 1 §4.1.3 truncates it to the order's bit length). S is not normalised to the low half: AWS does not do it
 * either, and OpenSSL accepts both.
 */
export function ecdsaSignDigest(privateKey: KeyObject, digest: Buffer): Buffer {
  const curve = curveOf(privateKey);
  const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  try {
    return Buffer.from(NOBLE[curve].sign(digest, d, { prehash: false, lowS: false, format: 'der', extraEntropy: true }));
  } finally {
    d.fill(0);
  }
}

/** Verifies a DER signature over a digest; strict DER only, high and low S both accepted (as OpenSSL does). */
export function ecdsaVerifyDigest(publicKey: KeyObject, digest: Buffer, signature: Buffer): boolean {
  const curve = curveOf(publicKey);
  if (!decodeDerSignature(signature)) return false;
  try {
    return NOBLE[curve].verify(signature, digest, ecPoint(publicKey), { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}

const toBigInt = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`));

function derInteger(x: bigint): Buffer {
  let hex = x.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02]), derLength(bytes.length), bytes]);
}

function derLength(n: number): Buffer {
  return n < 0x80 ? Buffer.from([n]) : Buffer.from([0x81, n]);
}

export function encodeDerSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** Strict DER: minimal lengths and integers, positive values, nothing trailing. */
export function decodeDerSignature(der: Buffer): [bigint, bigint] | undefined {
  let at = 0;
  const readLength = (): number | undefined => {
    const first = der[at++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    if (first !== 0x81) return undefined;
    const n = der[at++];
    return n !== undefined && n >= 0x80 ? n : undefined;
  };
  const readInteger = (): bigint | undefined => {
    if (der[at++] !== 0x02) return undefined;
    const len = readLength();
    if (len === undefined || len === 0 || at + len > der.length) return undefined;
    const bytes = der.subarray(at, at + len);
    at += len;
    if (bytes[0]! & 0x80) return undefined; // negative
    if (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) return undefined; // not minimal
    return toBigInt(bytes);
  };
  if (der[at++] !== 0x30) return undefined;
  const total = readLength();
  if (total === undefined || at + total !== der.length) return undefined;
  const r = readInteger();
  const s = r === undefined ? undefined : readInteger();
  if (r === undefined || s === undefined || at !== der.length) return undefined;
  return [r, s];
}
