// The key repository's cache: fallback expiry with an injected clock (no sleeping), invalidation through a change
// feed, and a read that overlaps an invalidation is not cached.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keyArn } from '../../src/domain/arn.js';
import { KeyRepository, MAX_CACHED_KEYS } from '../../src/domain/key-repository.js';
import { LocalChangeFeed } from '../../src/domain/local-change-feed.js';
import type { Clock, KeyRecord, Storage } from '../../src/domain/ports.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { counting } from '../helpers/counting-storage.js';

const scope = { account: '111122223333', region: 'us-east-1' };
let n = 0;
const newKey = (): KeyRecord => {
  const keyId = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
  return {
    ...scope, keyId, arn: keyArn(scope, keyId), creationDate: new Date(0), description: '', keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT', origin: 'AWS_KMS', keyManager: 'CUSTOMER', keyState: 'Enabled', currentMaterialId: 'm1',
    multiRegion: false, policy: '{}', version: 1,
  };
};


describe('KeyRepository cache', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trent-cache-'));
  const file = path.join(dir, 'trent.db');
  const stores: SqliteStorage[] = [];
  const open = async () => {
    const s = new SqliteStorage(file);
    await s.migrate();
    stores.push(s);
    return s;
  };
  after(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a cached key until the expiry, then reads it again (a missed change lasts at most ttlMs)', async () => {
    let now = 1_000_000;
    const clock: Clock = { now: () => new Date(now) };
    // Two "nodes" on one store and no feed between them: only the expiry can bring A up to date.
    const a = counting(await open());
    const nodeA = new KeyRepository(a.storage, clock, { ttlMs: 30_000 });
    const nodeB = new KeyRepository(await open(), clock, { ttlMs: 30_000 });
    const key = newKey();
    await nodeB.createKey(key, [], []);
    await nodeB.createAlias({ ...scope, aliasName: 'alias/ttl', targetKeyId: key.keyId, creationDate: new Date(now), lastUpdatedDate: new Date(now) });

    assert.equal((await nodeA.getKey(scope, key.keyId))!.keyState, 'Enabled');
    assert.equal((await nodeA.getAlias(scope, 'alias/ttl'))!.targetKeyId, key.keyId);
    assert.equal(await nodeA.getAlias(scope, 'alias/none'), undefined);
    a.calls.length = 0;

    await nodeB.updateKey(scope, key.keyId, (k) => ({ ...k, keyState: 'Disabled' }));
    const other = newKey();
    await nodeB.createKey(other, [], []);
    await nodeB.updateAlias(scope, 'alias/ttl', other.keyId);
    await nodeB.createAlias({ ...scope, aliasName: 'alias/none', targetKeyId: other.keyId, creationDate: new Date(now), lastUpdatedDate: new Date(now) });

    now += 29_999;
    assert.equal((await nodeA.getKey(scope, key.keyId))!.keyState, 'Enabled', 'stale, inside the bound');
    assert.equal((await nodeA.getAlias(scope, 'alias/ttl'))!.targetKeyId, key.keyId);
    assert.equal(await nodeA.getAlias(scope, 'alias/none'), undefined, 'a cached absence is stale too');
    assert.deepEqual(a.calls, [], 'no storage reads before the expiry');

    now += 1;
    assert.equal((await nodeA.getKey(scope, key.keyId))!.keyState, 'Disabled', 'read again at the bound');
    assert.equal((await nodeA.getAlias(scope, 'alias/ttl'))!.targetKeyId, other.keyId);
    assert.equal((await nodeA.getAlias(scope, 'alias/none'))!.targetKeyId, other.keyId);
    assert.deepEqual(a.calls, ['getKey', 'getAlias', 'getAlias']);

    a.calls.length = 0;
    now += 29_999;
    await nodeA.getKey(scope, key.keyId);
    assert.deepEqual(a.calls, [], 'the fresh copy has a new expiry');
  });

  it('expires materials too, and without a ttl keeps everything until invalidated', async () => {
    let now = 0;
    const clock: Clock = { now: () => new Date(now) };
    const s = counting(await open());
    const key = newKey();
    const material = { keyArn: key.arn, materialId: 'm1', wrapped: Buffer.alloc(60, 1), createdAt: new Date(0) };
    const withTtl = new KeyRepository(s.storage, clock, { ttlMs: 1000 });
    const forever = new KeyRepository(s.storage, clock);
    await withTtl.createKey(key, [material], []);
    await withTtl.getMaterial(key, 'm1');
    await forever.getKey(scope, key.keyId);
    await forever.getMaterial(key, 'm1');
    s.calls.length = 0;
    now += 1000;
    assert.ok(await withTtl.getMaterial(key, 'm1'));
    assert.deepEqual(s.calls, ['getMaterials']);
    s.calls.length = 0;
    now += 10 * 365 * 24 * 3600 * 1000;
    await forever.getKey(scope, key.keyId);
    await forever.getMaterial(key, 'm1');
    assert.deepEqual(s.calls, []);
  });

  it('drops entries named by a change on the feed at once, whichever node wrote', async () => {
    const clock: Clock = { now: () => new Date() };
    const feed = new LocalChangeFeed();
    const nodeA = new KeyRepository(await open(), clock, { feed });
    const nodeB = new KeyRepository(await open(), clock, { feed });
    const key = newKey();
    await nodeA.createKey(key, [], []);
    assert.equal((await nodeB.getKey(scope, key.keyId))!.keyState, 'Enabled');
    await nodeA.updateKey(scope, key.keyId, (k) => ({ ...k, keyState: 'Disabled' }));
    assert.equal((await nodeB.getKey(scope, key.keyId))!.keyState, 'Disabled');

    const seen: string[] = [];
    feed.subscribe((c) => seen.push(c.kind === 'key' ? `key ${c.deleted ? 'deleted' : 'changed'}` : c.kind));
    await nodeA.createAlias({ ...scope, aliasName: 'alias/f', targetKeyId: key.keyId, creationDate: new Date(), lastUpdatedDate: new Date() });
    assert.equal((await nodeB.getAlias(scope, 'alias/f'))!.targetKeyId, key.keyId);
    const current = (await nodeA.getKey(scope, key.keyId))!;
    assert.equal(await nodeA.deleteKey(current), true);
    assert.equal(await nodeB.getKey(scope, key.keyId), undefined);
    assert.equal(await nodeB.getAlias(scope, 'alias/f'), undefined);
    await nodeA.wipe();
    assert.deepEqual(seen, ['alias', 'key deleted', 'all']);
  });

  it('does not cache a read that overlapped an invalidation (it may hold the state from before the change)', async () => {
    const clock: Clock = { now: () => new Date() };
    const real = await open();
    let hold: Promise<void> | undefined;
    const slow = new Proxy(real, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop !== 'getKey' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
        return async (...args: unknown[]) => {
          const result = await v.apply(target, args);
          await hold;
          return result;
        };
      },
    }) as Storage;
    const feed = new LocalChangeFeed();
    const nodeA = new KeyRepository(slow, clock, { feed });
    const nodeB = new KeyRepository(await open(), clock, { feed });
    const key = newKey();
    await nodeB.createKey(key, [], []);

    let release!: () => void;
    hold = new Promise((r) => (release = r));
    const read = nodeA.getKey(scope, key.keyId); // reads Enabled, then waits
    await new Promise((r) => setTimeout(r, 20));
    await nodeB.updateKey(scope, key.keyId, (k) => ({ ...k, keyState: 'Disabled' }));
    release();
    assert.equal((await read)!.keyState, 'Enabled', 'the overlapping read returns what it read');
    hold = undefined;
    assert.equal((await nodeA.getKey(scope, key.keyId))!.keyState, 'Disabled', 'but did not cache it');
  });

  it("caches a key's aliases and tags for policies once asked, and drops them on every node when they change", async () => {
    const clock: Clock = { now: () => new Date(1_000_000) };
    const feed = new LocalChangeFeed();
    const a = counting(await open());
    const nodeA = new KeyRepository(a.storage, clock, { feed });
    const nodeB = new KeyRepository(await open(), clock, { feed });
    const key = newKey();
    await nodeB.createKey(key, [], [{ key: 'Project', value: 'Alpha' }]);
    const at = new Date(1_000_000);
    await nodeB.createAlias({ ...scope, aliasName: 'alias/res-1', targetKeyId: key.keyId, creationDate: at, lastUpdatedDate: at });

    assert.deepEqual(await nodeA.getKeyAliases(key), ['alias/res-1']);
    assert.deepEqual(await nodeA.getResourceTags(key), [{ key: 'Project', value: 'Alpha' }]);
    a.calls.length = 0;
    await nodeA.getKeyAliases(key);
    await nodeA.getResourceTags(key);
    assert.deepEqual(a.calls, [], 'warm: no storage read');

    await nodeB.createAlias({ ...scope, aliasName: 'alias/res-2', targetKeyId: key.keyId, creationDate: at, lastUpdatedDate: at });
    assert.deepEqual(await nodeA.getKeyAliases(key), ['alias/res-1', 'alias/res-2']);
    await nodeB.deleteAlias(scope, 'alias/res-1');
    assert.deepEqual(await nodeA.getKeyAliases(key), ['alias/res-2']);

    await nodeB.putTags(key, [{ key: 'Project', value: 'Beta' }]);
    assert.deepEqual(await nodeA.getResourceTags(key), [{ key: 'Project', value: 'Beta' }]);
    await nodeB.removeTags(key, ['Project']);
    assert.deepEqual(await nodeA.getResourceTags(key), []);
  });

  it('does not remember that an alias/aws/* alias is missing (another process may create it)', async () => {
    const clock: Clock = { now: () => new Date(1_000_000) };
    const nodeA = new KeyRepository(await open(), clock);
    const writer = new KeyRepository(await open(), clock); // another process: no feed between them
    assert.equal(await nodeA.getAlias(scope, 'alias/aws/kinesis'), undefined);
    assert.equal(await nodeA.getAlias(scope, 'alias/not-yet'), undefined);
    const key = newKey();
    await writer.createKey(key, [], []);
    const at = new Date(1_000_000);
    await writer.createAlias({ ...scope, aliasName: 'alias/aws/kinesis', targetKeyId: key.keyId, creationDate: at, lastUpdatedDate: at });
    await writer.createAlias({ ...scope, aliasName: 'alias/not-yet', targetKeyId: key.keyId, creationDate: at, lastUpdatedDate: at });
    assert.equal((await nodeA.getAlias(scope, 'alias/aws/kinesis'))?.targetKeyId, key.keyId);
    // A customer alias is created through the server's API, which invalidates: the miss is remembered until then.
    assert.equal(await nodeA.getAlias(scope, 'alias/not-yet'), undefined);
  });
  it('bounds the cache of names that are not aliases (issue #12: 570,000 random names grew it for good)', async () => {
    const c = counting(await open());
    const repo = new KeyRepository(c.storage, { now: () => new Date(0) });
    assert.equal(await repo.getAlias(scope, 'alias/missing-0'), undefined);
    assert.equal(await repo.getAlias(scope, 'alias/missing-0'), undefined);
    assert.equal(c.calls.filter((m) => m === 'getAlias').length, 1, 'a missing alias is cached');
    // As many other missing names as the cache holds push the first one out: it is read again.
    for (let i = 1; i <= MAX_CACHED_KEYS; i++) await repo.getAlias(scope, `alias/missing-${i}`);
    c.calls.length = 0;
    await repo.getAlias(scope, 'alias/missing-0');
    assert.deepEqual(c.calls, ['getAlias']);
    await repo.getAlias(scope, `alias/missing-${MAX_CACHED_KEYS}`);
    assert.deepEqual(c.calls, ['getAlias'], 'the newest names are still cached');
  });
});
