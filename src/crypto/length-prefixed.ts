/** Writes `bytes` preceded by its length (u32 big-endian) at `at`; returns the offset after it. */
export function writeLengthPrefixed(out: Buffer, at: number, bytes: Buffer): number {
  at = out.writeUInt32BE(bytes.length, at);
  return at + bytes.copy(out, at);
}

/** Unambiguous concatenation: every field is preceded by its length as a 32-bit big-endian integer. */
export function lengthPrefixed(fields: readonly (Buffer | string)[]): Buffer {
  const bytes = fields.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : f));
  const out = Buffer.allocUnsafe(bytes.reduce((n, b) => n + 4 + b.length, 0));
  let at = 0;
  for (const b of bytes) at = writeLengthPrefixed(out, at, b);
  return out;
}
