import { GCM_IV_BYTES, GCM_TAG_BYTES } from '../crypto/aes-gcm.js';

/**
 * Trent's symmetric ciphertext blob, version 1 (docs/ciphertext-format.md):
 *
 *   u8   version (0x01)
 *   u16  length of the key ARN, then the key ARN (UTF-8)
 *   u8   length of the material id, then the material id (raw bytes; hex in the API)
 *   12   AES-GCM IV
 *   ...  AES-256-GCM ciphertext
 *   16   AES-GCM tag
 *
 * The header (version through material id) is authenticated: the AAD is header || encoded encryption context.
 */
export const BLOB_VERSION = 1;

export interface BlobHeader {
  readonly keyArn: string;
  readonly materialId: string;
}

export interface ParsedBlob extends BlobHeader {
  readonly header: Buffer;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

export function encodeBlobHeader({ keyArn, materialId }: BlobHeader): Buffer {
  const arn = Buffer.from(keyArn, 'utf8');
  const mid = Buffer.from(materialId, 'hex');
  if (arn.length > 0xffff || mid.length === 0 || mid.length > 0xff || mid.toString('hex') !== materialId) {
    throw new RangeError('key ARN or material id out of range for the blob header');
  }
  const header = Buffer.alloc(1 + 2 + arn.length + 1 + mid.length);
  let at = header.writeUInt8(BLOB_VERSION, 0);
  at = header.writeUInt16BE(arn.length, at);
  at += arn.copy(header, at);
  at = header.writeUInt8(mid.length, at);
  mid.copy(header, at);
  return header;
}

export function encodeBlob(header: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  return Buffer.concat([header, iv, ciphertext, tag]);
}

/** Parses a blob; undefined for anything that is not a well-formed version-1 blob. */
export function parseBlob(blob: Buffer): ParsedBlob | undefined {
  if (blob.length < 1 + 2 || blob.readUInt8(0) !== BLOB_VERSION) return undefined;
  const arnLength = blob.readUInt16BE(1);
  let at = 3;
  if (blob.length < at + arnLength + 1) return undefined;
  const keyArn = blob.subarray(at, at + arnLength).toString('utf8');
  at += arnLength;
  const midLength = blob.readUInt8(at);
  at += 1;
  if (midLength === 0 || blob.length < at + midLength + GCM_IV_BYTES + GCM_TAG_BYTES) return undefined;
  const materialId = blob.subarray(at, at + midLength).toString('hex');
  at += midLength;
  const header = blob.subarray(0, at);
  const iv = blob.subarray(at, at + GCM_IV_BYTES);
  at += GCM_IV_BYTES;
  const ciphertext = blob.subarray(at, blob.length - GCM_TAG_BYTES);
  const tag = blob.subarray(blob.length - GCM_TAG_BYTES);
  return { keyArn, materialId, header, iv, ciphertext, tag };
}
