import { writeLengthPrefixed } from '../crypto/length-prefixed.js';

export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * Canonical bytes of an encryption context, used as AES-GCM associated data.
 * Pairs are sorted by the UTF-8 bytes of their keys; the pair count and every key and value are
 * length-prefixed, so two different contexts never give the same bytes ({"a":"bc"} vs {"ab":"c"}).
 * AWS: the context must match exactly (case-sensitive) on decrypt; order does not matter.
 */
export function encodeEncryptionContext(context: EncryptionContext | undefined): Buffer {
  const keys = context ? Object.keys(context) : [];
  const pairs = keys.map((k) => [Buffer.from(k, 'utf8'), Buffer.from(context![k]!, 'utf8')] as const);
  if (pairs.length > 1) pairs.sort(([a], [b]) => Buffer.compare(a, b));
  const out = Buffer.allocUnsafe(pairs.reduce((n, [k, v]) => n + 8 + k.length + v.length, 4));
  let at = out.writeUInt32BE(pairs.length, 0);
  for (const [k, v] of pairs) at = writeLengthPrefixed(out, writeLengthPrefixed(out, at, k), v);
  return out;
}
