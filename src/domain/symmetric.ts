import type { SecretBytes } from '../crypto/secret-bytes.js';
import { encodeBlob, encodeBlobHeader, parseBlob, type ParsedBlob } from './ciphertext-blob.js';
import { encodeEncryptionContext, type EncryptionContext } from './encryption-context.js';
import type { CryptoCall, KeyRecord, KeyStore, MaterialRecord } from './ports.js';

/**
 * The blob header of a key's material, made once per material record (records are immutable; a memo of a pure
 * function, keyed weakly, so a record that leaves the cache takes its header with it): about 1 µs per Encrypt.
 */
const headers = new WeakMap<MaterialRecord, { readonly arn: string; readonly header: Buffer }>();
function blobHeaderOf(key: KeyRecord, material: MaterialRecord): Buffer {
  const known = headers.get(material);
  if (known && known.arn === key.arn) return known.header;
  const header = encodeBlobHeader({ keyArn: key.arn, materialId: material.materialId });
  headers.set(material, { arn: key.arn, header });
  return header;
}

/** Encrypts under a key's material and returns a version-1 ciphertext blob (docs/ciphertext-format.md). */
export async function sealSymmetric(
  keystore: KeyStore,
  key: KeyRecord,
  material: MaterialRecord,
  plaintext: Buffer,
  context: EncryptionContext | undefined,
  call?: CryptoCall,
): Promise<Buffer> {
  const header = blobHeaderOf(key, material);
  const aad = Buffer.concat([header, encodeEncryptionContext(context)]);
  const { iv, ciphertext, tag } = await keystore.encrypt(material, plaintext, aad, call);
  return encodeBlob(header, iv, ciphertext, tag);
}

export { parseBlob, type ParsedBlob };

/** Opens a parsed blob with the material it names; undefined when it does not authenticate. */
export function openSymmetric(
  keystore: KeyStore,
  blob: ParsedBlob,
  material: MaterialRecord,
  context: EncryptionContext | undefined,
  call?: CryptoCall,
): Promise<SecretBytes | undefined> {
  const aad = Buffer.concat([blob.header, encodeEncryptionContext(context)]);
  return keystore.decrypt(material, blob.iv, blob.ciphertext, blob.tag, aad, call);
}
