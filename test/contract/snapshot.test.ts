// The snapshot contract between every pair of backends: SQLite → SQLite, SQLite → PostgreSQL, PostgreSQL → SQLite,
// PostgreSQL → PostgreSQL (the PostgreSQL pairs are skipped, with the reason, when there is no PostgreSQL).
import { after, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { snapshotContract, type SnapshotFactory } from './snapshot-contract.js';

const dir = mkdtempSync(path.join(tmpdir(), 'trent-snapshot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const sqlite: SnapshotFactory = {
  name: 'SQLite',
  async create() {
    const s = new SqliteStorage(path.join(dir, `db-${n++}.sqlite`));
    await s.migrate();
    return s;
  },
};
const postgres: SnapshotFactory = {
  name: 'PostgreSQL',
  async create() {
    const s = new PostgresStorage(await (await postgresCluster()).createDatabase(), { maxConnections: 4 });
    await s.migrate();
    return s;
  },
};

const skip = postgresSkipReason();
snapshotContract(sqlite, sqlite);
if (skip) {
  describe('Snapshot contract with PostgreSQL', { skip }, () => {});
} else {
  snapshotContract(sqlite, postgres);
  snapshotContract(postgres, sqlite);
  snapshotContract(postgres, postgres);
}
