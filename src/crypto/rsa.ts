// RSA signatures (RFC 8017 §8: RSASSA-PSS and RSASSA-PKCS1-v1_5) over a message digest, and RSAES-OAEP.
// Signing works on the digest (AWS's MessageType DIGEST); a RAW message is hashed first by the caller, so one code
// path serves both. The RSA private operation itself is OpenSSL's (blinded); only the padding is done here.
import { constants, createHash, privateDecrypt, privateEncrypt, publicDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { constantTimeEqual } from './hmac.js';

export type RsaHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';
export type SignatureHash = 'sha256' | 'sha384' | 'sha512';

export const HASH_BYTES: Readonly<Record<RsaHash, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** DER DigestInfo prefixes of RFC 8017 §9.2, note 1. */
const DIGEST_INFO: Readonly<Record<SignatureHash, Buffer>> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

export function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || !bits) throw new TypeError('not an RSA key');
  return bits;
}

/** RSASSA-PKCS1-v1_5 signature of a digest (EMSA-PKCS1-v1_5 encoding with the DigestInfo). */
export function pkcs1SignDigest(privateKey: KeyObject, hash: SignatureHash, digest: Buffer): Buffer {
  checkDigest(hash, digest);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO[hash], digest]));
}

export function pkcs1VerifyDigest(publicKey: KeyObject, hash: SignatureHash, digest: Buffer, signature: Buffer): boolean {
  checkDigest(hash, digest);
  if (signature.length !== Math.ceil(modulusBits(publicKey) / 8)) return false;
  let recovered: Buffer;
  try {
    recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return false;
  }
  return constantTimeEqual(recovered, Buffer.concat([DIGEST_INFO[hash], digest]));
}

/** MGF1 (RFC 8017 §B.2.1). */
export function mgf1(hash: RsaHash, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let c = 0, n = 0; n < length; c++) {
    counter.writeUInt32BE(c);
    const block = createHash(hash).update(seed).update(counter).digest();
    out.push(block);
    n += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with MGF1 over the same hash; `salt` of any length (AWS: the hash length). */
export function emsaPssEncode(hash: SignatureHash, digest: Buffer, emBits: number, salt: Buffer): Buffer {
  checkDigest(hash, digest);
  const hLen = HASH_BYTES[hash];
  const emLen = Math.ceil(emBits / 8);
  if (emLen < hLen + salt.length + 2) throw new RangeError('encoding error: modulus too short');
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[db.length - salt.length - 1] = 0x01;
  salt.copy(db, db.length - salt.length);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >>> (8 * emLen - emBits);
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with a fixed salt length. */
export function emsaPssVerify(hash: SignatureHash, digest: Buffer, em: Buffer, emBits: number, saltLength: number): boolean {
  const hLen = HASH_BYTES[hash];
  const emLen = Math.ceil(emBits / 8);
  if (digest.length !== hLen || em.length !== emLen || emLen < hLen + saltLength + 2 || em[emLen - 1] !== 0xbc) return false;
  const topMask = 0xff >>> (8 * emLen - emBits);
  if ((em[0]! & ~topMask) !== 0) return false;
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= topMask;
  const psLen = emLen - hLen - saltLength - 2;
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false;
  if (db[psLen] !== 0x01) return false;
  const salt = db.subarray(db.length - saltLength);
  return constantTimeEqual(h, createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest());
}

/** RSASSA-PSS signature of a digest; salt length = hash length (AWS's RSASSA_PSS_SHA_*). */
export function pssSignDigest(privateKey: KeyObject, hash: SignatureHash, digest: Buffer, salt: Buffer = randomBytes(HASH_BYTES[hash])): Buffer {
  const bits = modulusBits(privateKey);
  const k = Math.ceil(bits / 8);
  const em = emsaPssEncode(hash, digest, bits - 1, salt);
  const block = em.length === k ? em : Buffer.concat([Buffer.alloc(k - em.length), em]);
  return privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block); // s = m^d mod n
}

export function pssVerifyDigest(publicKey: KeyObject, hash: SignatureHash, digest: Buffer, signature: Buffer): boolean {
  checkDigest(hash, digest);
  const bits = modulusBits(publicKey);
  const k = Math.ceil(bits / 8);
  if (signature.length !== k) return false;
  let m: Buffer;
  try {
    m = publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature); // m = s^e mod n
  } catch {
    return false; // s >= n
  }
  const emLen = Math.ceil((bits - 1) / 8);
  if (m.length - emLen > 0 && m.subarray(0, m.length - emLen).some((b) => b !== 0)) return false;
  return emsaPssVerify(hash, digest, m.subarray(m.length - emLen), bits - 1, HASH_BYTES[hash]);
}

/** The largest plaintext RSAES-OAEP takes: k - 2·hLen - 2 bytes (RFC 8017 §7.1.1). */
export function oaepMaxPlaintext(modulusBitLength: number, hash: RsaHash): number {
  return Math.ceil(modulusBitLength / 8) - 2 * HASH_BYTES[hash] - 2;
}

/** RSAES-OAEP with the same hash for the label and MGF1, empty label. */
export function oaepEncrypt(publicKey: KeyObject, hash: RsaHash, plaintext: Buffer): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);
}

/** Undefined when the ciphertext does not decrypt (wrong key, wrong hash, tampered). */
export function oaepDecrypt(privateKey: KeyObject, hash: RsaHash, ciphertext: Buffer): Buffer | undefined {
  if (ciphertext.length !== Math.ceil(modulusBits(privateKey) / 8)) return undefined;
  try {
    return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ciphertext);
  } catch {
    return undefined;
  }
}

function checkDigest(hash: SignatureHash, digest: Buffer): void {
  if (digest.length !== HASH_BYTES[hash]) throw new RangeError(`a ${hash} digest has ${HASH_BYTES[hash]} bytes, got ${digest.length}`);
}
