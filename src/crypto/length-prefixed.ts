/** Unambiguous concatenation: every field is preceded by its length as a 32-bit big-endian integer. */
export function lengthPrefixed(fields: readonly (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    const bytes = typeof field === 'string' ? Buffer.from(field, 'utf8') : field;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    parts.push(len, bytes);
  }
  return Buffer.concat(parts);
}
