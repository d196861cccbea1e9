import { constants, createCipheriv, createDecipheriv, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { Sm2Key } from './sm2.js';

/** The wrapping algorithms Trent unwraps with an RSA wrapping key (GetParametersForImport WrappingAlgorithm). */
export type RsaWrappingAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256';
/** Every wrapping algorithm Trent unwraps: the RSA ones, and SM2PKE with an SM2 wrapping key. */
export type WrappingAlgorithm = RsaWrappingAlgorithm | 'SM2PKE';
/** The wrapping key pair GetParametersForImport makes (WrappingKeySpec RSA_2048/3072/4096 or SM2). */
export type WrappingKeyParams = { readonly type: 'rsa'; readonly bits: 2048 | 3072 | 4096 } | { readonly type: 'sm2' };

/** RFC 5649 alternative initial value: OpenSSL's `id-aes256-wrap-pad` takes it as its 4-byte IV. */
const KWP_IV = Buffer.from('a65959a6', 'hex');

/** AES-256 key wrap with padding (RFC 5649), what `openssl enc -id-aes256-wrap-pad` makes. */
export function aesKwpWrap(kek: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv('id-aes256-wrap-pad', kek, KWP_IV);
  return Buffer.concat([c.update(plaintext), c.final()]);
}

/** RFC 5649 unwrap; undefined when the integrity check fails (wrong key, tampered or truncated input). */
export function aesKwpUnwrap(kek: Buffer, wrapped: Buffer): Buffer | undefined {
  if (kek.length !== 32 || wrapped.length < 16 || wrapped.length % 8 !== 0) return undefined;
  try {
    const d = createDecipheriv('id-aes256-wrap-pad', kek, KWP_IV);
    return Buffer.concat([d.update(wrapped), d.final()]);
  } catch {
    return undefined;
  }
}

const oaepHash = (algorithm: RsaWrappingAlgorithm): 'sha1' | 'sha256' => (algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256');

function oaepDecrypt(key: KeyObject, hash: 'sha1' | 'sha256', data: Buffer): Buffer | undefined {
  try {
    return privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
  } catch {
    return undefined;
  }
}

/**
 * Unwraps imported key material (importing-keys-encrypt-key-material.html): RSAES_OAEP_*: RSA-OAEP of the material
 * (MGF1 with the same hash, empty label); RSA_AES_KEY_WRAP_*: RSA-OAEP of an ephemeral AES-256 key (as many bytes as
 * the modulus) followed by the material under that key with AES-KWP (RFC 5649), i.e. CKM_RSA_AES_KEY_WRAP. Undefined
 * when it does not unwrap.
 */
export function unwrapImportedMaterial(privateKey: KeyObject, algorithm: RsaWrappingAlgorithm, wrapped: Buffer): Buffer | undefined {
  const hash = oaepHash(algorithm);
  switch (algorithm) {
    case 'RSAES_OAEP_SHA_1':
    case 'RSAES_OAEP_SHA_256':
      return oaepDecrypt(privateKey, hash, wrapped);
    case 'RSA_AES_KEY_WRAP_SHA_1':
    case 'RSA_AES_KEY_WRAP_SHA_256': {
      const modulusBytes = (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
      if (wrapped.length <= modulusBytes) return undefined;
      const aesKey = oaepDecrypt(privateKey, hash, wrapped.subarray(0, modulusBytes));
      if (!aesKey) return undefined;
      try {
        return aesKey.length === 32 ? aesKwpUnwrap(aesKey, wrapped.subarray(modulusBytes)) : undefined;
      } finally {
        aesKey.fill(0);
      }
    }
    default: {
      const never: never = algorithm;
      throw new Error(`unknown wrapping algorithm ${String(never)}`);
    }
  }
}

/**
 * SM2PKE (WrappingKeySpec SM2): the material encrypted directly to the SM2 wrapping public key, in the ciphertext
 * format of Trent's (and AWS's) SM2PKE Decrypt — GM/T 0009 ASN.1 C1C3C2, what `openssl pkeyutl -encrypt` makes with
 * an SM2 public key. `pkcs8` is the SM2 wrapping private key. Undefined when it does not decrypt.
 */
export function unwrapSm2Pke(pkcs8: Buffer, wrapped: Buffer): Buffer | undefined {
  let key: Sm2Key;
  try {
    key = Sm2Key.fromPkcs8(pkcs8);
  } catch {
    return undefined;
  }
  return key.decrypt(wrapped);
}

/** The client side (tests, tools): wraps material for import with the wrapping public key and an ephemeral AES key. */
export function wrapForImport(publicKey: KeyObject, algorithm: RsaWrappingAlgorithm, material: Buffer, ephemeralAesKey: Buffer): Buffer {
  const hash = oaepHash(algorithm);
  const oaep = (data: Buffer) => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
  if (algorithm === 'RSAES_OAEP_SHA_1' || algorithm === 'RSAES_OAEP_SHA_256') return oaep(material);
  return Buffer.concat([oaep(ephemeralAesKey), aesKwpWrap(ephemeralAesKey, material)]);
}
