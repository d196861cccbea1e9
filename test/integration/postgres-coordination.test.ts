// The PostgreSQL coordination adapters against a real server: the job lease (one holder, expiry, release) and the
// change feed (delivery to every listener, an unknown payload drops everything).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { CacheChange, JobLease } from '../../src/domain/ports.js';
import { LeasedJob } from '../../src/scheduler/leased-job.js';
import { CHANGE_CHANNEL, parseChange, PostgresChangeFeed, PostgresJobLease } from '../../src/storage/postgres/postgres-coordination.js';
import { PostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';

const skip = postgresSkipReason();

async function migratedDatabase(): Promise<string> {
  const url = await (await postgresCluster()).createDatabase();
  const storage = new PostgresStorage(url, { maxConnections: 1 });
  await storage.migrate();
  await storage.close();
  return url;
}

async function until(deadlineMs: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await probe())) {
    if (Date.now() > end) assert.fail(`not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('PostgreSQL coordination', { skip }, () => {
  it('a job lease has one holder at a time, is renewed by it, expires, and is released', async () => {
    const url = await migratedDatabase();
    const a = new PostgresJobLease(url, 400);
    const b = new PostgresJobLease(url, 400);
    try {
      const both = await Promise.all([a.tryAcquire('job'), b.tryAcquire('job')]);
      assert.equal(both.filter(Boolean).length, 1, 'exactly one of two concurrent tries wins');
      const [holder, other] = both[0] ? [a, b] : [b, a];
      assert.equal(await holder.tryAcquire('job'), true, 'renewed');
      assert.equal(await other.tryAcquire('job'), false);
      assert.equal(await other.tryAcquire('another job'), true, 'leases are per job');
      // The holder stops renewing (as if killed): the other takes over once the lease has expired.
      const start = Date.now();
      await until(5_000, () => other.tryAcquire('job'));
      assert.ok(Date.now() - start >= 300, 'not before the lease expired');
      assert.equal(await holder.tryAcquire('job'), false);
      await other.release('job');
      assert.equal(await holder.tryAcquire('job'), true, 'a released lease is free at once');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a node that cannot renew its lease (database unreachable) stops running the job, and fails fast', async () => {
    const url = await migratedDatabase();
    const reachable = new PostgresJobLease(url, 60_000);
    // Nothing listens on port 1: connection refused, as when PostgreSQL is down.
    const unreachable = new PostgresJobLease('postgres://postgres@127.0.0.1:1/none', 60_000, () => {}, 1_000);
    let current = reachable;
    const lease: JobLease = { tryAcquire: (job) => current.tryAcquire(job), release: (job) => current.release(job) };
    let runs = 0;
    const changes: boolean[] = [];
    const job = new LeasedJob('sweeper', lease, async () => void runs++, (held) => changes.push(held));
    try {
      await job.run();
      assert.equal(job.held, true);
      current = unreachable;
      const start = Date.now();
      await assert.rejects(job.run());
      assert.ok(Date.now() - start < 2_000, 'the failed renewal is bounded');
      assert.equal(job.held, false, 'no longer held');
      assert.equal(runs, 1, 'the job did not run without the lease');
      assert.deepEqual(changes, [true, false]);
      current = reachable;
      await job.run();
      assert.equal(job.held, true, 'renewed once the database answers again');
      assert.equal(runs, 2);
    } finally {
      await reachable.close();
      await unreachable.close();
    }
  });

  it('delivers each published change to every listening feed, the publisher included', async () => {
    const url = await migratedDatabase();
    const feeds = await Promise.all([PostgresChangeFeed.open(url), PostgresChangeFeed.open(url)]);
    const seen: CacheChange[][] = [[], []];
    feeds.forEach((f, i) => f.subscribe((c) => seen[i]!.push(c)));
    try {
      const change: CacheChange = { kind: 'key', account: '111122223333', region: 'us-east-1', keyId: 'k', arn: 'arn:aws:kms:us-east-1:111122223333:key/k', deleted: true };
      await feeds[0]!.publish(change);
      await feeds[1]!.publish({ kind: 'alias', account: '111122223333', region: 'us-east-1', aliasName: 'alias/a' });
      await until(2_000, () => seen.every((s) => s.length === 2));
      for (const s of seen) assert.deepEqual(s.map((c) => c.kind), ['key', 'alias']);
      assert.deepEqual(seen[1]![0], change);

      // A payload this version does not understand (a newer node, say) drops everything.
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      await other.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, '{"kind":"grant","keyId":"k"}']);
      await other.end();
      await until(2_000, () => seen.every((s) => s.length === 3));
      assert.deepEqual(seen[0]![2], { kind: 'all' });
    } finally {
      await Promise.all(feeds.map((f) => f.close()));
    }
  });

  it('parses only well-formed changes', () => {
    assert.deepEqual(parseChange('not json'), { kind: 'all' });
    assert.deepEqual(parseChange(undefined), { kind: 'all' });
    assert.deepEqual(parseChange('{"kind":"key","account":"1","region":"r","keyId":"k"}'), { kind: 'all' }, 'no arn');
    assert.deepEqual(parseChange('{"kind":"all"}'), { kind: 'all' });
  });
});
