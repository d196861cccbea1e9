// PostgreSQL's text cannot hold U+0000 (SQLSTATE 22021), SQLite's can, and AWS accepts it wherever the model has no
// pattern (a Description, a tag key or value, a custom key store name, a grant id looked up): every string Trent sends
// to PostgreSQL as a parameter goes through encodeText, every text column it reads back through decodeText
// (docs/postgresql.md, "Strings with U+0000").
//
//   U+0000 → U+0001 '0'      U+0001 → U+0001 '1'      any other character → itself
//
// Each character maps to a code that no other code is a prefix of, in the same order as the characters, so the
// encoding is injective (equality, primary keys and unique constraints mean what they meant) and keeps the bytewise
// order of the "C" collation (paging by tag key or alias name stays SQLite's order). A string without U+0000 and U+0001
// is stored as is. Migration 11 encoded the U+0001 that stores written before it may hold.
import pg from 'pg';

const SPECIAL = /[\u0000\u0001]/;
const SPECIAL_ALL = /[\u0000\u0001]/g;
const ENCODED_ALL = /\u0001([01])/g;

export function encodeText(s: string): string {
  return SPECIAL.test(s) ? s.replace(SPECIAL_ALL, (c) => (c === '\u0000' ? '\u00010' : '\u00011')) : s;
}

export function decodeText(s: string): string {
  return s.includes('\u0001') ? s.replace(ENCODED_ALL, (_, d: string) => (d === '0' ? '\u0000' : '\u0001')) : s;
}

/** A statement's parameters with every string, and every string of an array (`= ANY($1::text[])`), encoded. */
export function encodeValues(values: readonly unknown[] | undefined): unknown[] | undefined {
  if (values === undefined) return undefined;
  return values.map((v) => (typeof v === 'string' ? encodeText(v) : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? encodeText(x) : x)) : v));
}

const TEXT_OID = 25;

/** node-postgres type parsers (a pool's `types`): text columns decoded, everything else as node-postgres parses it. */
export const DECODING_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TEXT_OID && format !== 'binary' ? decodeText : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};
