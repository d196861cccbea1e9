// ML-DSA (FIPS 204) with @noble/post-quantum: OpenSSL 3.0 (Node.js 20) has no ML-DSA; OpenSSL 3.5 (Node.js 24) does,
// and the tests check both ways against it there. Keys are kept as their 32-byte seed ξ, in the seed-only PKCS#8 form
// of RFC 9881 (`privateKey OCTET STRING { [0] IMPLICIT OCTET STRING (SIZE (32)) }`), which OpenSSL 3.5 reads; the
// public key goes out as DER SubjectPublicKeyInfo with the id-ml-dsa-* OID and no parameters, as AWS's GetPublicKey.
import { randomBytes } from 'node:crypto';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { shake256 } from '@noble/hashes/sha3.js';

export type MlDsaLevel = 44 | 65 | 87;

const ALGORITHMS = { 44: ml_dsa44, 65: ml_dsa65, 87: ml_dsa87 } as const;
/** id-ml-dsa-44/65/87: 2.16.840.1.101.3.4.3.17/18/19 (NIST CSOR), the last arc per level. */
const OID_ARC: Readonly<Record<MlDsaLevel, number>> = { 44: 0x11, 65: 0x12, 87: 0x13 };
const OID_PREFIX = Buffer.from('06096086480165030403', 'hex');
const SEED_BYTES = 32;
/** FIPS 204 §6.2: μ is 64 bytes. */
export const MU_BYTES = 64;

const algorithmIdentifier = (level: MlDsaLevel): Buffer => Buffer.concat([Buffer.from([0x30, 0x0b]), OID_PREFIX, Buffer.from([OID_ARC[level]])]);

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);

/** Seed-only PKCS#8 (RFC 9881 §6): version 0, the ML-DSA AlgorithmIdentifier, and [0] seed inside the OCTET STRING. */
export function mlDsaPkcs8(level: MlDsaLevel, seed: Uint8Array): Buffer {
  if (seed.length !== SEED_BYTES) throw new RangeError('an ML-DSA seed has 32 bytes');
  return tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x00]), algorithmIdentifier(level), tlv(0x04, tlv(0x80, Buffer.from(seed)))]));
}

/** DER SubjectPublicKeyInfo of an ML-DSA public key. */
export function mlDsaSpki(level: MlDsaLevel, publicKey: Uint8Array): Buffer {
  return tlv(0x30, Buffer.concat([algorithmIdentifier(level), tlv(0x03, Buffer.concat([Buffer.from([0]), Buffer.from(publicKey)]))]));
}

/** The level and seed of a seed-only ML-DSA PKCS#8 key; undefined for anything else. */
export function parseMlDsaPkcs8(der: Buffer): { level: MlDsaLevel; seed: Buffer } | undefined {
  for (const level of [44, 65, 87] as const) {
    const prefix = mlDsaPkcs8(level, Buffer.alloc(SEED_BYTES)).subarray(0, -SEED_BYTES);
    if (der.length === prefix.length + SEED_BYTES && der.subarray(0, prefix.length).equals(prefix)) return { level, seed: Buffer.from(der.subarray(prefix.length)) };
  }
  return undefined;
}

/** A fresh key: seed-only PKCS#8 and the SPKI of its public key. */
export function generateMlDsaKeyPair(level: MlDsaLevel): { privateKey: Buffer; publicKey: Buffer } {
  const seed = randomBytes(SEED_BYTES);
  try {
    const { publicKey, secretKey } = ALGORITHMS[level].keygen(seed);
    secretKey.fill(0);
    return { privateKey: mlDsaPkcs8(level, seed), publicKey: mlDsaSpki(level, publicKey) };
  } finally {
    seed.fill(0);
  }
}

/**
 * μ of FIPS 204 Algorithm 2 (ML-DSA.Sign, empty context) and §6.2: SHAKE256(SHAKE256(pk, 64) || 0x00 || 0x00 || M, 64).
 * A caller who computes it signs a message of any size with MessageType EXTERNAL_MU; the signature is the same kind
 * as of the RAW message (pure ML-DSA, not HashML-DSA).
 */
export function mlDsaMu(publicKey: Uint8Array, message: Uint8Array): Buffer {
  const tr = shake256(publicKey, { dkLen: 64 });
  return Buffer.from(shake256(Buffer.concat([tr, Buffer.from([0, 0]), message]), { dkLen: MU_BYTES }));
}

/** An unwrapped ML-DSA key pair: the expanded secret key stays inside; `wipe` zeroes it. */
export class MlDsaKey {
  readonly level: MlDsaLevel;
  readonly publicKey: Uint8Array;
  readonly spki: Buffer;
  readonly #secretKey: Uint8Array;

  private constructor(level: MlDsaLevel, seed: Uint8Array) {
    const { publicKey, secretKey } = ALGORITHMS[level].keygen(seed);
    this.level = level;
    this.publicKey = publicKey;
    this.#secretKey = secretKey;
    this.spki = mlDsaSpki(level, publicKey);
  }

  static fromPkcs8(der: Buffer): MlDsaKey {
    const parsed = parseMlDsaPkcs8(der);
    if (!parsed) throw new TypeError('not a seed-only ML-DSA PKCS#8 key');
    try {
      return new MlDsaKey(parsed.level, parsed.seed);
    } finally {
      parsed.seed.fill(0);
    }
  }

  /** Hedged ML-DSA.Sign (fresh randomness, FIPS 204's default) of a message, or of μ when `externalMu`. */
  sign(message: Uint8Array, externalMu: boolean): Buffer {
    const alg = ALGORITHMS[this.level];
    if (!externalMu) return Buffer.from(alg.sign(message, this.#secretKey));
    if (message.length !== MU_BYTES) throw new RangeError(`μ has ${MU_BYTES} bytes, got ${message.length}`);
    return Buffer.from(alg.internal.sign(message, this.#secretKey, { externalMu: true }));
  }

  verify(message: Uint8Array, externalMu: boolean, signature: Uint8Array): boolean {
    const alg = ALGORITHMS[this.level];
    if (signature.length !== alg.lengths.signature) return false;
    try {
      if (!externalMu) return alg.verify(signature, message, this.publicKey);
      if (message.length !== MU_BYTES) throw new RangeError(`μ has ${MU_BYTES} bytes, got ${message.length}`);
      return alg.internal.verify(signature, message, this.publicKey, { externalMu: true });
    } catch (e) {
      if (e instanceof RangeError) throw e;
      return false;
    }
  }

  wipe(): void {
    this.#secretKey.fill(0);
  }
}
