import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';

export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

export interface GcmSealed {
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/** Where IVs come from: any CSPRNG (a RandomPool, or crypto.randomBytes by default). */
export type IvSource = (n: number) => Buffer;

/** A key of 16, 24 or 32 bytes, as bytes or as a secret KeyObject (faster from Node 22 on: SecretBytes.keyObject). */
export type AesKey = Buffer | KeyObject;

/** AES-GCM encryption with a fresh random 96-bit IV (never caller-chosen). */
export function gcmEncrypt(key: AesKey, plaintext: Buffer, aad: Buffer, iv: IvSource = randomBytes): GcmSealed {
  return gcmEncryptWithIv(key, iv(GCM_IV_BYTES), plaintext, aad);
}

/** Deterministic variant for known-answer tests only; production code calls gcmEncrypt. */
export function gcmEncryptWithIv(key: AesKey, iv: Buffer, plaintext: Buffer, aad: Buffer): GcmSealed {
  const cipher = createCipheriv(gcmAlgorithm(key), key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = cipher.update(plaintext);
  const rest = cipher.final(); // always empty for GCM (a stream mode); kept for correctness
  return { iv, ciphertext: rest.length ? Buffer.concat([ciphertext, rest]) : ciphertext, tag: cipher.getAuthTag() };
}

/** Returns undefined when the tag does not authenticate (tampering, wrong key, wrong AAD). */
export function gcmDecrypt(key: AesKey, sealed: GcmSealed, aad: Buffer): Buffer | undefined {
  if (sealed.iv.length !== GCM_IV_BYTES || sealed.tag.length !== GCM_TAG_BYTES) return undefined;
  const decipher = createDecipheriv(gcmAlgorithm(key), key, sealed.iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  try {
    const plaintext = decipher.update(sealed.ciphertext);
    const rest = decipher.final();
    return rest.length ? Buffer.concat([plaintext, rest]) : plaintext;
  } catch {
    return undefined;
  }
}

function gcmAlgorithm(key: AesKey): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  const length = Buffer.isBuffer(key) ? key.length : key.symmetricKeySize;
  switch (length) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      throw new RangeError(`AES key must be 16, 24 or 32 bytes, got ${String(length)}`);
  }
}
