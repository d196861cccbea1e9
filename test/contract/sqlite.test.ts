import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { storageContract } from './storage-contract.js';
import { auditContract } from './audit-contract.js';

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

const auditDir = mkdtempSync(path.join(tmpdir(), 'trent-audit-contract-'));
after(() => rmSync(auditDir, { recursive: true, force: true }));
auditContract('SQLite', {
  async create(audit) {
    const storage = new SqliteStorage(path.join(auditDir, `db-${n++}.sqlite`), { audit });
    await storage.migrate();
    return storage;
  },
});
