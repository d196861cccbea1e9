// One entry point for every signature scheme Trent offers. `prehashed`: the message is already the digest
// (AWS's MessageType DIGEST); otherwise it is hashed here (RAW).
import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { ecdsaSignDigest, ecdsaVerifyDigest } from './ecdsa.js';
import { ed25519phSignDigest, ed25519phVerifyDigest } from './ed25519ph.js';
import { MlDsaKey } from './ml-dsa.js';
import { Sm2Key } from './sm2.js';
import { pkcs1SignDigest, pkcs1VerifyDigest, pssSignDigest, pssVerifyDigest, type SignatureHash } from './rsa.js';

export type SignatureScheme =
  | { readonly kind: 'rsa-pss'; readonly hash: SignatureHash }
  | { readonly kind: 'rsa-pkcs1'; readonly hash: SignatureHash }
  | { readonly kind: 'ecdsa'; readonly hash: SignatureHash }
  /** PureEdDSA (RFC 8032 Ed25519): the message itself, never a digest. */
  | { readonly kind: 'ed25519' }
  /** HashEdDSA (RFC 8032 Ed25519ph) with SHA-512: the digest is signed, a RAW message is hashed first. */
  | { readonly kind: 'ed25519ph' }
  /** ML-DSA (FIPS 204, pure, empty context); `prehashed` means the message is μ (AWS's EXTERNAL_MU). */
  | { readonly kind: 'ml-dsa' }
  /** SM2DSA (GB/T 32918.2) with SM3 and the default distinguishing ID; `prehashed`: the message is e = SM3(Z_A || M). */
  | { readonly kind: 'sm2dsa' };

/** OpenSSL holds classic keys; ML-DSA and SM2 keys are held in JavaScript (Node cannot sign with either). */
export type SigningKey = KeyObject | MlDsaKey | Sm2Key;

function keyObject(key: SigningKey): KeyObject {
  if (key instanceof MlDsaKey) throw new TypeError('an ML-DSA key signs with the ml-dsa scheme only');
  if (key instanceof Sm2Key) throw new TypeError('an SM2 key signs with the sm2dsa scheme only');
  return key;
}
function mlDsaKey(key: SigningKey): MlDsaKey {
  if (!(key instanceof MlDsaKey)) throw new TypeError('the ml-dsa scheme needs an ML-DSA key');
  return key;
}
function sm2Key(key: SigningKey): Sm2Key {
  if (!(key instanceof Sm2Key)) throw new TypeError('the sm2dsa scheme needs an SM2 key');
  return key;
}

const digestOf = (hash: SignatureHash | 'sha512', message: Buffer, prehashed: boolean): Buffer =>
  prehashed ? message : createHash(hash).update(message).digest();

export function signMessage(key: SigningKey, scheme: SignatureScheme, message: Buffer, prehashed: boolean): Buffer {
  if (scheme.kind === 'ml-dsa') return mlDsaKey(key).sign(message, prehashed);
  if (scheme.kind === 'sm2dsa') return prehashed ? sm2Key(key).signDigest(message) : sm2Key(key).sign(message);
  const privateKey = keyObject(key);
  switch (scheme.kind) {
    case 'rsa-pss':
      return pssSignDigest(privateKey, scheme.hash, digestOf(scheme.hash, message, prehashed));
    case 'rsa-pkcs1':
      return pkcs1SignDigest(privateKey, scheme.hash, digestOf(scheme.hash, message, prehashed));
    case 'ecdsa':
      return prehashed ? ecdsaSignDigest(privateKey, message) : sign(scheme.hash, message, { key: privateKey, dsaEncoding: 'der' });
    case 'ed25519':
      if (prehashed) throw new RangeError('Ed25519 signs messages, not digests');
      return sign(null, message, privateKey);
    case 'ed25519ph':
      return ed25519phSignDigest(privateKey, digestOf('sha512', message, prehashed));
    default: {
      const never: never = scheme;
      throw new Error(`unknown signature scheme ${String(never)}`);
    }
  }
}

export function verifySignature(key: SigningKey, scheme: SignatureScheme, message: Buffer, prehashed: boolean, signature: Buffer): boolean {
  if (scheme.kind === 'ml-dsa') return mlDsaKey(key).verify(message, prehashed, signature);
  if (scheme.kind === 'sm2dsa') return prehashed ? sm2Key(key).verifyDigest(message, signature) : sm2Key(key).verify(message, signature);
  const publicKey = keyObject(key);
  switch (scheme.kind) {
    case 'rsa-pss':
      return pssVerifyDigest(publicKey, scheme.hash, digestOf(scheme.hash, message, prehashed), signature);
    case 'rsa-pkcs1':
      return pkcs1VerifyDigest(publicKey, scheme.hash, digestOf(scheme.hash, message, prehashed), signature);
    case 'ecdsa':
      return prehashed ? ecdsaVerifyDigest(publicKey, message, signature) : verify(scheme.hash, message, { key: publicKey, dsaEncoding: 'der' }, signature);
    case 'ed25519':
      if (prehashed) throw new RangeError('Ed25519 verifies messages, not digests');
      return signature.length === 64 && verify(null, message, publicKey, signature);
    case 'ed25519ph':
      return ed25519phVerifyDigest(publicKey, digestOf('sha512', message, prehashed), signature);
    default: {
      const never: never = scheme;
      throw new Error(`unknown signature scheme ${String(never)}`);
    }
  }
}
