import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { storageContract } from './storage-contract.js';
import { auditContract, testEvent } from './audit-contract.js';
import { grantRecord, keyRecord } from './storage-contract.js';
import { ChainChecker } from '../../src/domain/audit-chain.js';
import { RequestAuditScope } from '../../src/audit/audit-trail.js';

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

  describe('PostgreSQL audit chain across nodes', () => {
    it('stays one linear chain when several nodes append batches and commit state changes (tags, aliases, grants under their limits) with their events at once', async () => {
      const url = await (await postgresCluster()).createDatabase();
      // Every write runs in a request scope, so it commits the request's event with it.
      const scope = new RequestAuditScope();
      scope.bind(() => testEvent({ operation: 'TagResource' }));
      const request = (fn: () => Promise<unknown>) => scope.run({ requestId: 'r', time: 0, sourceIp: '', userAgent: '', authorization: '', operation: 'TagResource' }, fn);
      const nodes = Array.from({ length: 3 }, () => new PostgresStorage(url, { maxConnections: 4, audit: scope }));
      try {
        await nodes[0]!.migrate();
        const key = keyRecord({ account: '111122223333', region: 'us-east-1' }, 1);
        await request(() => nodes[0]!.insertKey(key, [], []));
        await Promise.all(nodes.flatMap((n, i) => [
          ...Array.from({ length: 10 }, () => n.appendAuditEvents([testEvent(), testEvent()])),
          ...Array.from({ length: 5 }, (_, j) => request(() => n.putTags(key.arn, [{ key: `n${i}-${j}`, value: 'v' }], 50))),
          ...Array.from({ length: 5 }, (_, j) => request(() => n.insertAlias({
            account: key.account, region: key.region, aliasName: `alias/n${i}-${j}`, targetKeyId: key.keyId, creationDate: new Date(0), lastUpdatedDate: new Date(0),
          }, 50))),
          ...Array.from({ length: 5 }, (_, j) => request(() => n.insertGrant(grantRecord(key, 100 * i + j), { perKey: 50, perGrantee: 50 }))),
        ]));
        const events = await nodes[1]!.auditEventsAfter(0, 1000);
        assert.equal(events.length, 1 + 3 * 10 * 2 + 3 * 5 * 3);
        const checker = new ChainChecker();
        for (const e of events) assert.equal(checker.check(e), undefined, `event ${e.seq}`);
        assert.equal(checker.checkHead(await nodes[2]!.auditChainHead()), undefined);
        assert.equal(events.filter((e) => e.eventName === 'TagResource').length, 1 + 45, 'every write committed its event');
        assert.equal((await nodes[0]!.getTags(key.arn)).length, 15);
        assert.equal(await nodes[0]!.countAliases(key, key.keyId), 15);
        assert.equal((await nodes[0]!.getGrants(key.arn)).length, 15);
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    });
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

    it('migration 11 keeps a U+0001 stored before it, now that strings are stored encoded (text-codec.ts)', async () => {
      const url = await (await postgresCluster()).createDatabase();
      const s = new PostgresStorage(url);
      const client = new pg.Client({ connectionString: url });
      try {
        await s.migrate();
        await client.connect();
        // The database as a Trent before migration 11 left it: no write_locks, a description with a raw U+0001.
        await client.query('DELETE FROM schema_migrations WHERE version = 11');
        await client.query('DROP TABLE write_locks');
        const key = keyRecord({ account: '111122223333', region: 'us-east-1' }, 1, { description: 'a\u00010b\u0001' });
        await client.query(
          `INSERT INTO keys (account, region, key_id, arn, creation_date, description, key_usage, key_spec, origin, key_manager, key_state,
             multi_region, policy, version) VALUES ($1, $2, $3, $4, 0, $5, 'ENCRYPT_DECRYPT', 'SYMMETRIC_DEFAULT', 'AWS_KMS', 'CUSTOMER', 'Enabled', false, '{}', 1)`,
          [key.account, key.region, key.keyId, key.arn, key.description],
        );
        await s.migrate();
        assert.equal((await s.getKey(key, key.keyId))!.description, 'a\u00010b\u0001');
        await s.updateKey({ ...(await s.getKey(key, key.keyId))!, description: 'c\u0000' });
        assert.equal((await s.getKey(key, key.keyId))!.description, 'c\u0000');
      } finally {
        await client.end();
        await s.close();
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
