import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type SqliteDatabase = BetterSqlite3.Database;
type SqliteConstructor = typeof BetterSqlite3;

/**
 * better-sqlite3 12 (classic addon, built from source) on Node 20; better-sqlite3 13 (Node-API, prebuilt), installed
 * as `better-sqlite3-napi`, on Node 22 and later. 12 crashes on Node 24 (its ObjectWrap destructor asserts when a
 * statement is collected outside an entered environment); 13 does not run on Node 20. Same API, same file format.
 */
export function sqliteDriver(): { Database: SqliteConstructor; name: string } {
  const require = createRequire(import.meta.url);
  const major = Number(process.versions.node.split('.')[0]);
  const name = major >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';
  return { Database: require(name) as SqliteConstructor, name };
}
