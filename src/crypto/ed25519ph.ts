// Ed25519ph (RFC 8032 §5.1, HashEdDSA with SHA-512) over a caller-supplied SHA-512 digest: AWS's ED25519_PH_SHA_512
// with MessageType DIGEST. OpenSSL 3.0 (Node.js 20) has no Ed25519ph, so @noble/curves does the curve arithmetic.
// noble's own `ed25519ph` hashes the message itself; this instance takes PH(M) as given (identity prehash) with the
// same dom2(phflag = 1, empty context) prefix, so its output equals ed25519ph.sign(M) (RFC 8032 §7.3 vector).
import type { KeyObject } from 'node:crypto';
import { eddsa } from '@noble/curves/abstract/edwards.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';

const DOM2 = Buffer.from('SigEd25519 no Ed25519 collisions');

const ed25519phOfDigest = eddsa(ed25519.Point, sha512, {
  // RFC 8032 §5.1.5 step 2: prune the buffer.
  adjustScalarBytes: (bytes: Uint8Array): Uint8Array => {
    bytes[0]! &= 248;
    bytes[31]! &= 127;
    bytes[31]! |= 64;
    return bytes;
  },
  // dom2(phflag, context), RFC 8032 §2.
  domain: (data: Uint8Array, ctx: Uint8Array, phflag: boolean): Uint8Array => {
    if (ctx.length > 255) throw new RangeError('context too long');
    return Buffer.concat([DOM2, Buffer.from([phflag ? 1 : 0, ctx.length]), ctx, data]);
  },
  prehash: (digest: Uint8Array): Uint8Array => digest,
  // Strict RFC 8032 / FIPS 186-5 verification (canonical encodings), as OpenSSL verifies Ed25519.
  zip215: false,
});

function check(digest: Buffer): void {
  if (digest.length !== 64) throw new RangeError(`Ed25519ph signs a SHA-512 digest (64 bytes), got ${digest.length}`);
}

/** Ed25519ph signature (64 bytes) of a SHA-512 digest with an Ed25519 private key. */
export function ed25519phSignDigest(privateKey: KeyObject, digest: Buffer): Buffer {
  check(digest);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('not an Ed25519 key');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  try {
    return Buffer.from(ed25519phOfDigest.sign(digest, seed));
  } finally {
    seed.fill(0);
  }
}

export function ed25519phVerifyDigest(publicKey: KeyObject, digest: Buffer, signature: Buffer): boolean {
  check(digest);
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new TypeError('not an Ed25519 key');
  if (signature.length !== 64) return false;
  const point = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  try {
    return ed25519phOfDigest.verify(signature, digest, point);
  } catch {
    return false;
  }
}
