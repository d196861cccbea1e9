// SM2 (GB/T 32918-2016, GM/T 0003-2012) on its recommended 256-bit curve, with SM3: SM2DSA signatures (part 2),
// SM2PKE public-key encryption (part 4) and plain ECDH on the SM2 curve (what AWS's DeriveSharedSecret does with
// KEY_AGREEMENT SM2 keys). Point arithmetic is @noble/curves' generic Weierstrass code (constant-time `multiply` for
// secret scalars); OpenSSL 3.0 knows the curve but Node cannot sign, encrypt or agree with SM2 keys, so it is all here.
// Encodings are AWS's and OpenSSL's: signatures as DER SEQUENCE { r, s }; SM2PKE ciphertext as the ASN.1 of
// GM/T 0009 (C1C3C2): SEQUENCE { INTEGER x1, INTEGER y1, OCTET STRING C3, OCTET STRING C2 }; keys as PKCS#8 and SPKI
// with id-ecPublicKey and the curve OID 1.2.156.10197.1.301.
import { randomBytes } from 'node:crypto';
import { weierstrass } from '@noble/curves/abstract/weierstrass.js';
import { sm3 } from './sm3.js';

const Point = weierstrass({
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
  h: 1n,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  Gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  Gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
});
type Sm2Point = InstanceType<typeof Point>;
const N = Point.Fn.ORDER;
const Fn = Point.Fn;

/** AWS's (and GM/T 0009's) default distinguishing ID for SM2DSA. */
export const DEFAULT_DISTINGUISHING_ID = Buffer.from('1234567812345678', 'ascii');
/** SM3 digests, and so SM2DSA DIGEST messages, are 32 bytes. */
export const SM2_DIGEST_BYTES = 32;

const be32 = (x: bigint): Buffer => Buffer.from(x.toString(16).padStart(64, '0'), 'hex');
const toBigInt = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));

/** A uniformly random scalar in [1, max] (rejection-free: 64 random bytes reduced, bias < 2^-256). */
function randomScalar(max: bigint): bigint {
  const r = randomBytes(64);
  try {
    return (toBigInt(r) % max) + 1n;
  } finally {
    r.fill(0);
  }
}

// --- DER (only the few shapes SM2 needs) ---

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
function derUnsigned(x: bigint): Buffer {
  let hex = x.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

/** Reads one TLV at `at` (strict DER lengths); undefined when malformed. */
function readTlv(der: Buffer, at: number): { tag: number; body: Buffer; end: number } | undefined {
  const tag = der[at];
  let len = der[at + 1];
  if (tag === undefined || len === undefined) return undefined;
  let start = at + 2;
  if (len >= 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 2 || start + n > der.length) return undefined;
    len = n === 1 ? der[start]! : der.readUInt16BE(start);
    if (len < (n === 1 ? 0x80 : 0x100)) return undefined; // not minimal
    start += n;
  }
  if (start + len > der.length) return undefined;
  return { tag, body: der.subarray(start, start + len), end: start + len };
}
/** The TLVs that exactly fill `der`. */
function readAll(der: Buffer): { tag: number; body: Buffer }[] | undefined {
  const out: { tag: number; body: Buffer }[] = [];
  for (let at = 0; at < der.length; ) {
    const t = readTlv(der, at);
    if (!t) return undefined;
    out.push(t);
    at = t.end;
  }
  return out;
}
function derPositive(body: Buffer): bigint | undefined {
  if (body.length === 0 || body[0]! & 0x80) return undefined;
  if (body.length > 1 && body[0] === 0 && !(body[1]! & 0x80)) return undefined;
  return toBigInt(body);
}

/** DER SEQUENCE { INTEGER r, INTEGER s }. */
const encodeDerSignature = (r: bigint, s: bigint): Buffer => tlv(0x30, Buffer.concat([derUnsigned(r), derUnsigned(s)]));
/** Strict DER SEQUENCE { r, s }: minimal lengths and integers, positive, nothing trailing. */
function decodeDerSignature(der: Buffer): [bigint, bigint] | undefined {
  const outer = readAll(der);
  if (outer?.length !== 1 || outer[0]!.tag !== 0x30) return undefined;
  const parts = readAll(outer[0]!.body);
  if (parts?.length !== 2 || parts[0]!.tag !== 0x02 || parts[1]!.tag !== 0x02) return undefined;
  const r = derPositive(parts[0]!.body);
  const s = derPositive(parts[1]!.body);
  return r === undefined || s === undefined ? undefined : [r, s];
}

const OID_EC_PUBLIC_KEY = Buffer.from('06072a8648ce3d0201', 'hex');
const OID_SM2 = Buffer.from('06082a811ccf5501822d', 'hex');
const ALGORITHM_ID = tlv(0x30, Buffer.concat([OID_EC_PUBLIC_KEY, OID_SM2]));

/** DER SubjectPublicKeyInfo of an SM2 public key (uncompressed point), as AWS's GetPublicKey returns it. */
export function sm2Spki(point: Uint8Array): Buffer {
  return tlv(0x30, Buffer.concat([ALGORITHM_ID, tlv(0x03, Buffer.concat([Buffer.from([0]), point]))]));
}

/** PKCS#8 PrivateKeyInfo with an RFC 5915 ECPrivateKey (no parameters, the public key), the form OpenSSL writes. */
function sm2Pkcs8(d: bigint, point: Uint8Array): Buffer {
  const ecPrivateKey = tlv(0x30, Buffer.concat([
    Buffer.from('020101', 'hex'), tlv(0x04, be32(d)), tlv(0xa1, tlv(0x03, Buffer.concat([Buffer.from([0]), point]))),
  ]));
  return tlv(0x30, Buffer.concat([Buffer.from('020100', 'hex'), ALGORITHM_ID, tlv(0x04, ecPrivateKey)]));
}

/** The public point of a DER SPKI; 'wrong-curve' for another EC curve or key type, 'malformed' otherwise. */
export function parseSm2Spki(spki: Buffer): { ok: true; point: Uint8Array } | { ok: false; why: 'malformed' | 'wrong-curve' } {
  const outer = readAll(spki);
  if (outer?.length !== 1 || outer[0]!.tag !== 0x30) return { ok: false, why: 'malformed' };
  const parts = readAll(outer[0]!.body);
  if (parts?.length !== 2 || parts[0]!.tag !== 0x30 || parts[1]!.tag !== 0x03) return { ok: false, why: 'malformed' };
  const bits = parts[1]!.body;
  if (bits[0] !== 0) return { ok: false, why: 'malformed' };
  if (!parts[0]!.body.equals(Buffer.concat([OID_EC_PUBLIC_KEY, OID_SM2]))) return { ok: false, why: 'wrong-curve' };
  try {
    const point = Point.fromBytes(bits.subarray(1));
    point.assertValidity();
    return { ok: true, point: point.toBytes(false) };
  } catch {
    return { ok: false, why: 'malformed' };
  }
}

/** An SM2 key pair held in JavaScript. The private scalar lives in a bigint (which cannot be wiped). */
export class Sm2Key {
  readonly #d: bigint | undefined;
  readonly #point: Sm2Point;
  /** Uncompressed public point 04 || X || Y. */
  readonly publicPoint: Buffer;
  readonly spki: Buffer;

  private constructor(d: bigint | undefined, point: Sm2Point) {
    this.#d = d;
    this.#point = point;
    this.publicPoint = Buffer.from(point.toBytes(false));
    this.spki = sm2Spki(this.publicPoint);
  }

  /** A fresh key pair: d uniform in [1, n-2] (GB/T 32918.1 §6.1, so that 1+d is invertible). */
  static generate(): { key: Sm2Key; pkcs8: Buffer } {
    const d = randomScalar(N - 2n);
    const key = new Sm2Key(d, Point.BASE.multiply(d));
    return { key, pkcs8: sm2Pkcs8(d, key.publicPoint) };
  }

  /** From PKCS#8 DER (id-ecPublicKey with the SM2 curve OID); an embedded public key must match d·G. */
  static fromPkcs8(der: Buffer): Sm2Key {
    const bad = (): never => {
      throw new RangeError('not an SM2 PKCS#8 private key');
    };
    const outer = readAll(der);
    if (outer?.length !== 1 || outer[0]!.tag !== 0x30) bad();
    const info = readAll(outer![0]!.body) ?? bad();
    if (info.length < 3 || info[0]!.tag !== 0x02 || !info[0]!.body.equals(Buffer.from([0]))) bad();
    const alg = info[1]!;
    if (alg.tag !== 0x30 || !alg.body.equals(Buffer.concat([OID_EC_PUBLIC_KEY, OID_SM2])) || info[2]!.tag !== 0x04) bad();
    const ecOuter = readAll(info[2]!.body);
    if (ecOuter?.length !== 1 || ecOuter[0]!.tag !== 0x30) bad();
    const ec = readAll(ecOuter![0]!.body) ?? bad();
    if (ec.length < 2 || ec[0]!.tag !== 0x02 || !ec[0]!.body.equals(Buffer.from([1])) || ec[1]!.tag !== 0x04 || ec[1]!.body.length !== 32) bad();
    const d = toBigInt(ec[1]!.body);
    if (d < 1n || d > N - 2n) bad();
    const point = Point.BASE.multiply(d);
    for (const field of ec.slice(2)) {
      if (field.tag === 0xa0 && !field.body.equals(OID_SM2)) bad();
      if (field.tag === 0xa1) {
        const bits = readAll(field.body);
        if (bits?.length !== 1 || bits[0]!.tag !== 0x03 || !Buffer.from(point.toBytes(false)).equals(bits[0]!.body.subarray(1))) bad();
      }
    }
    return new Sm2Key(d, point);
  }

  /** A public key only (from a DER SPKI already checked by parseSm2Spki, or a point). */
  static fromPublicPoint(point: Uint8Array): Sm2Key {
    const p = Point.fromBytes(point);
    p.assertValidity();
    return new Sm2Key(undefined, p);
  }

  /** The private key as PKCS#8 DER in the one form Trent writes (canonical: the same key always gives the same bytes). */
  pkcs8(): Buffer {
    return sm2Pkcs8(this.#secret(), this.publicPoint);
  }

  get hasPrivateKey(): boolean {
    return this.#d !== undefined;
  }

  #secret(): bigint {
    if (this.#d === undefined) throw new TypeError('an SM2 public key cannot do a private-key operation');
    return this.#d;
  }

  /** Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2 §5.5). */
  za(id: Buffer = DEFAULT_DISTINGUISHING_ID): Buffer {
    const bits = id.length * 8;
    if (bits > 0xffff) throw new RangeError('an SM2 distinguishing ID is at most 8191 bytes');
    const g = Point.BASE.toAffine();
    const q = this.#point.toAffine();
    return sm3(Buffer.from([bits >> 8, bits & 0xff]), id, be32(Point.CURVE().a), be32(Point.CURVE().b), be32(g.x), be32(g.y), be32(q.x), be32(q.y));
  }

  /** e = SM3(Z_A || M): what SM2DSA signs, and what AWS's MessageType DIGEST expects. */
  digest(message: Buffer, id: Buffer = DEFAULT_DISTINGUISHING_ID): Buffer {
    return sm3(this.za(id), message);
  }

  /** SM2DSA (GB/T 32918.2 §6.1) of the 32-byte digest e; DER SEQUENCE { r, s }. A fresh random k each time. */
  signDigest(e: Buffer): Buffer {
    if (e.length !== SM2_DIGEST_BYTES) throw new RangeError('an SM2DSA digest has 32 bytes');
    const d = this.#secret();
    const ev = toBigInt(e);
    const inv1d = Fn.inv(Fn.create(1n + d));
    for (;;) {
      const k = randomScalar(N - 1n);
      const x1 = Point.BASE.multiply(k).toAffine().x;
      const r = Fn.create(ev + x1);
      if (r === 0n || r + k === N) continue;
      const s = Fn.mul(inv1d, Fn.sub(k, Fn.mul(r, d)));
      if (s === 0n) continue;
      return encodeDerSignature(r, s);
    }
  }

  /** SM2DSA verification (GB/T 32918.2 §7.1) of a strict-DER signature over the digest e. */
  verifyDigest(e: Buffer, signature: Buffer): boolean {
    if (e.length !== SM2_DIGEST_BYTES) return false;
    const rs = decodeDerSignature(signature);
    if (!rs) return false;
    const [r, s] = rs;
    if (r < 1n || r >= N || s < 1n || s >= N) return false;
    const t = Fn.add(r, s);
    if (t === 0n) return false;
    const p = Point.BASE.multiplyUnsafe(s).add(this.#point.multiplyUnsafe(t));
    if (p.is0()) return false;
    return Fn.create(toBigInt(e) + p.toAffine().x) === r;
  }

  sign(message: Buffer): Buffer {
    return this.signDigest(this.digest(message));
  }

  verify(message: Buffer, signature: Buffer): boolean {
    return this.verifyDigest(this.digest(message), signature);
  }

  /** SM2PKE encryption (GB/T 32918.4 §6.1) to this public key; GM/T 0009 ASN.1 C1C3C2. */
  encrypt(plaintext: Buffer): Buffer {
    if (plaintext.length === 0) throw new RangeError('SM2PKE encrypts at least one byte');
    for (;;) {
      const k = randomScalar(N - 1n);
      const c1 = Point.BASE.multiply(k).toAffine();
      const shared = this.#point.multiply(k).toAffine();
      const x2 = be32(shared.x);
      const y2 = be32(shared.y);
      const t = kdf(Buffer.concat([x2, y2]), plaintext.length);
      if (t.every((b) => b === 0)) continue;
      const c2 = Buffer.alloc(plaintext.length);
      for (let i = 0; i < c2.length; i++) c2[i] = plaintext[i]! ^ t[i]!;
      const c3 = sm3(x2, plaintext, y2);
      t.fill(0);
      return tlv(0x30, Buffer.concat([derUnsigned(c1.x), derUnsigned(c1.y), tlv(0x04, c3), tlv(0x04, c2)]));
    }
  }

  /** SM2PKE decryption (§7.1) of ASN.1 C1C3C2; undefined for anything malformed, off the curve, or failing C3. */
  decrypt(ciphertext: Buffer): Buffer | undefined {
    const d = this.#secret();
    const outer = readAll(ciphertext);
    if (outer?.length !== 1 || outer[0]!.tag !== 0x30) return undefined;
    const parts = readAll(outer[0]!.body);
    if (parts?.length !== 4 || parts[0]!.tag !== 0x02 || parts[1]!.tag !== 0x02 || parts[2]!.tag !== 0x04 || parts[3]!.tag !== 0x04) return undefined;
    const x1 = derPositive(parts[0]!.body);
    const y1 = derPositive(parts[1]!.body);
    const c3 = parts[2]!.body;
    const c2 = parts[3]!.body;
    if (x1 === undefined || y1 === undefined || c3.length !== 32 || c2.length === 0) return undefined;
    let shared;
    try {
      const c1 = Point.fromAffine({ x: x1, y: y1 });
      c1.assertValidity(); // on the curve, not the identity; h = 1, so no small-subgroup check is needed
      shared = c1.multiply(d).toAffine();
    } catch {
      return undefined;
    }
    const x2 = be32(shared.x);
    const y2 = be32(shared.y);
    const t = kdf(Buffer.concat([x2, y2]), c2.length);
    if (t.every((b) => b === 0)) return undefined;
    const m = Buffer.alloc(c2.length);
    for (let i = 0; i < m.length; i++) m[i] = c2[i]! ^ t[i]!;
    t.fill(0);
    if (!timingSafeEqual32(sm3(x2, m, y2), c3)) {
      m.fill(0);
      return undefined;
    }
    return m;
  }

  /** ECDH on the SM2 curve: the x-coordinate of d·Q (32 bytes), as `openssl pkeyutl -derive` computes it. */
  ecdh(peerPoint: Uint8Array): Buffer {
    const q = Point.fromBytes(peerPoint);
    q.assertValidity();
    return be32(q.multiply(this.#secret()).toAffine().x);
  }
}

/** The KDF of GB/T 32918.4 §5.4.3: SM3(Z || ct) for ct = 1, 2, … (32-bit big-endian), truncated to `length`. */
export function kdf(z: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let ct = 1; blocks.length * 32 < length; ct++) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(ct);
    blocks.push(sm3(z, counter));
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function timingSafeEqual32(a: Buffer, b: Buffer): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < 32; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** A fresh SM2 key pair as PKCS#8 and SPKI DER. */
export function generateSm2KeyPair(): { privateKey: Buffer; publicKey: Buffer } {
  const { key, pkcs8 } = Sm2Key.generate();
  return { privateKey: pkcs8, publicKey: key.spki };
}
