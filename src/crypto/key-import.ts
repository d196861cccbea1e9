import { constants, createCipheriv, createDecipheriv, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';

/** The wrapping algorithms Trent unwraps (GetParametersForImport WrappingAlgorithm with an RSA wrapping key). */
export type RsaWrappingAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256';

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

/** The client side (tests, tools): wraps material for import with the wrapping public key and an ephemeral AES key. */
export function wrapForImport(publicKey: KeyObject, algorithm: RsaWrappingAlgorithm, material: Buffer, ephemeralAesKey: Buffer): Buffer {
  const hash = oaepHash(algorithm);
  const oaep = (data: Buffer) => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
  if (algorithm === 'RSAES_OAEP_SHA_1' || algorithm === 'RSAES_OAEP_SHA_256') return oaep(material);
  return Buffer.concat([oaep(ephemeralAesKey), aesKwpWrap(ephemeralAesKey, material)]);
}
