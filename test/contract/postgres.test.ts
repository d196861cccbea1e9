import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { storageContract } from './storage-contract.js';
import { auditContract } from './audit-contract.js';

const skip = postgresSkipReason();

if (skip) {
  describe('Storage contract: PostgreSQL', { skip }, () => {});
} else {
  storageContract('PostgreSQL', {
    async create() {
      const storage = new PostgresStorage(await (await postgresCluster()).createDatabase());
      await storage.migrate();
      return storage;
    },
  });

  auditContract('PostgreSQL', {
    async create(audit) {
      const storage = new PostgresStorage(await (await postgresCluster()).createDatabase(), { audit });
      await storage.migrate();
      return storage;
    },
  });

  describe('PostgreSQL migrations', () => {
    it('are applied once when several nodes start at the same time', async () => {
      const url = await (await postgresCluster()).createDatabase();
      const nodes = Array.from({ length: 4 }, () => new PostgresStorage(url, { maxConnections: 2 }));
      try {
        await Promise.all(nodes.map((n) => n.migrate()));
        await nodes[0]!.putSetting('x', '1');
        assert.equal(await nodes[3]!.getSetting('x'), '1');
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        const r = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
        await client.end();
        assert.deepEqual(r.rows.map((x) => x.version), POSTGRES_MIGRATIONS.map((m) => m.version));
        await nodes[1]!.migrate();
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    });

    it('refuse a database migrated by a newer Trent', async () => {
      const url = await (await postgresCluster()).createDatabase();
      const s = new PostgresStorage(url);
      try {
        await s.migrate();
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)');
        await client.end();
        await assert.rejects(s.migrate(), /newer than this Trent knows/);
      } finally {
        await s.close();
      }
    });
  });
}
