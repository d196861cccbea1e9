import { lengthPrefixed } from '../crypto/length-prefixed.js';

export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * Canonical bytes of an encryption context, used as AES-GCM associated data.
 * Pairs are sorted by the UTF-8 bytes of their keys; the pair count and every key and value are
 * length-prefixed, so two different contexts never give the same bytes ({"a":"bc"} vs {"ab":"c"}).
 * AWS: the context must match exactly (case-sensitive) on decrypt; order does not matter.
 */
export function encodeEncryptionContext(context: EncryptionContext | undefined): Buffer {
  const entries = Object.entries(context ?? {}).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  entries.sort(([a], [b]) => Buffer.compare(a, b));
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  return Buffer.concat([count, lengthPrefixed(entries.flat())]);
}
