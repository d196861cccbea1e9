import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { storageContract } from './storage-contract.js';

const dir = mkdtempSync(path.join(tmpdir(), 'trent-contract-'));
let n = 0;
storageContract('SQLite', {
  async create() {
    const storage = new SqliteStorage(path.join(dir, `db-${n++}.sqlite`));
    await storage.migrate();
    return storage;
  },
  async cleanup() {
    rmSync(dir, { recursive: true, force: true });
  },
});
