// ECDSA over a caller-supplied digest (AWS's MessageType DIGEST), which Node's crypto.sign cannot do: it always
// hashes. Signing takes k·G from OpenSSL (an ECDH public key computation, constant time) and does the scalar
// arithmetic mod n here with a random blinding factor; verification (public data only) is done here entirely.
// RAW messages are signed and verified by OpenSSL (crypto.sign / crypto.verify), not by this module.
import { createECDH, randomBytes, type KeyObject } from 'node:crypto';
import type { EcCurve } from './key-pairs.js';

interface Curve {
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  readonly n: bigint;
}

/** Domain parameters (SEC 2 / FIPS 186-4), as `openssl ecparam -param_enc explicit -text` prints them. */
export const CURVES: Readonly<Record<EcCurve, Curve>> = {
  prime256v1: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  secp384r1: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  secp521r1: {
    p: (1n << 521n) - 1n,
    a: (1n << 521n) - 4n,
    b: 0x51953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
    gx: 0xc6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x11839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    n: 0x1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
  secp256k1: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn,
    a: 0n,
    b: 7n,
    gx: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
    gy: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
  },
};

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new RangeError('not invertible');
  return mod(s0, m);
}

const bitLength = (x: bigint): number => x.toString(2).length;
const toBigInt = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`));
function toBytes(x: bigint, length: number): Buffer {
  const hex = x.toString(16).padStart(length * 2, '0');
  return Buffer.from(hex, 'hex');
}

/** bits2int of SEC 1 §4.1.3 step 5: the leftmost bitLength(n) bits of the digest. */
function digestToInt(digest: Buffer, n: bigint): bigint {
  const e = toBigInt(digest);
  const excess = digest.length * 8 - bitLength(n);
  return excess > 0 ? e >> BigInt(excess) : e;
}

type Jacobian = readonly [bigint, bigint, bigint]; // Z = 0: the point at infinity
const INFINITY: Jacobian = [1n, 1n, 0n];

function double(c: Curve, [x, y, z]: Jacobian): Jacobian {
  if (z === 0n || y === 0n) return INFINITY;
  const { p } = c;
  const xx = mod(x * x, p);
  const yy = mod(y * y, p);
  const yyyy = mod(yy * yy, p);
  const zz = mod(z * z, p);
  const s = mod(2n * ((x + yy) ** 2n - xx - yyyy), p);
  const m = mod(3n * xx + c.a * zz * zz, p);
  const x3 = mod(m * m - 2n * s, p);
  return [x3, mod(m * (s - x3) - 8n * yyyy, p), mod((y + z) ** 2n - yy - zz, p)];
}

function add(c: Curve, P: Jacobian, Q: Jacobian): Jacobian {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const { p } = c;
  const [x1, y1, z1] = P;
  const [x2, y2, z2] = Q;
  const z1z1 = mod(z1 * z1, p);
  const z2z2 = mod(z2 * z2, p);
  const u1 = mod(x1 * z2z2, p);
  const u2 = mod(x2 * z1z1, p);
  const s1 = mod(y1 * z2 * z2z2, p);
  const s2 = mod(y2 * z1 * z1z1, p);
  if (u1 === u2) return s1 === s2 ? double(c, P) : INFINITY;
  const h = mod(u2 - u1, p);
  const i = mod(4n * h * h, p);
  const j = mod(h * i, p);
  const r = mod(2n * (s2 - s1), p);
  const v = mod(u1 * i, p);
  const x3 = mod(r * r - j - 2n * v, p);
  return [x3, mod(r * (v - x3) - 2n * s1 * j, p), mod(((z1 + z2) ** 2n - z1z1 - z2z2) * h, p)];
}

/** u1·G + u2·Q (Shamir's trick). Variable time: for verification, on public values only. */
function mulAdd(c: Curve, u1: bigint, Q: Jacobian, u2: bigint): Jacobian {
  const G: Jacobian = [c.gx, c.gy, 1n];
  const GQ = add(c, G, Q);
  let R = INFINITY;
  for (let i = Math.max(bitLength(u1), bitLength(u2)) - 1; i >= 0; i--) {
    R = double(c, R);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) R = add(c, R, GQ);
    else if (b1) R = add(c, R, G);
    else if (b2) R = add(c, R, Q);
  }
  return R;
}

function affineX(c: Curve, [x, , z]: Jacobian): bigint {
  const zi = inverse(z, c.p);
  return mod(x * zi * zi, c.p);
}

function randomScalar(n: bigint): bigint {
  return (toBigInt(randomBytes(Math.ceil(bitLength(n) / 8) + 8)) % (n - 1n)) + 1n;
}

export function curveOf(key: KeyObject): EcCurve {
  const name = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || !name || !(name in CURVES)) throw new TypeError(`unsupported EC key ${String(name)}`);
  return name as EcCurve;
}

/** ECDSA signature (DER SEQUENCE of r and s, as AWS returns it) of a digest, with a random nonce. */
export function ecdsaSignDigest(privateKey: KeyObject, digest: Buffer): Buffer {
  const curve = curveOf(privateKey);
  const c = CURVES[curve];
  const jwk = privateKey.export({ format: 'jwk' });
  const d = toBigInt(Buffer.from(jwk.d!, 'base64url'));
  const e = digestToInt(digest, c.n);
  const scalarBytes = Math.ceil(bitLength(c.n) / 8);
  const fieldBytes = Math.ceil(bitLength(c.p) / 8);
  for (;;) {
    const k = randomScalar(c.n);
    const ecdh = createECDH(curve);
    ecdh.setPrivateKey(toBytes(k, scalarBytes));
    const point = ecdh.getPublicKey(); // 04 || X || Y: k·G, computed by OpenSSL
    const r = mod(toBigInt(point.subarray(1, 1 + fieldBytes)), c.n);
    if (r === 0n) continue;
    const blind = randomScalar(c.n);
    const kInverse = mod(inverse(mod(k * blind, c.n), c.n) * blind, c.n);
    const s = mod(kInverse * (e + mod(r * d, c.n)), c.n);
    if (s === 0n) continue;
    return encodeDerSignature(r, s);
  }
}

export function ecdsaVerifyDigest(publicKey: KeyObject, digest: Buffer, signature: Buffer): boolean {
  const c = CURVES[curveOf(publicKey)];
  const rs = decodeDerSignature(signature);
  if (!rs) return false;
  const [r, s] = rs;
  if (r < 1n || r >= c.n || s < 1n || s >= c.n) return false;
  const jwk = publicKey.export({ format: 'jwk' });
  const Q: Jacobian = [toBigInt(Buffer.from(jwk.x!, 'base64url')), toBigInt(Buffer.from(jwk.y!, 'base64url')), 1n];
  const w = inverse(s, c.n);
  const X = mulAdd(c, mod(digestToInt(digest, c.n) * w, c.n), Q, mod(r * w, c.n));
  return X[2] !== 0n && mod(affineX(c, X), c.n) === r;
}

function derInteger(x: bigint): Buffer {
  let bytes = toBytes(x, Math.max(1, Math.ceil(bitLength(x) / 8)));
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
