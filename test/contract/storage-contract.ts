// The Storage contract: every backend (SQLite now, PostgreSQL later) must pass this suite.
// Call storageContract(name, factory) from a backend's test file; each test gets a fresh, migrated store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IAM_GENERATION_SETTING, type PrincipalRecord } from '../../src/domain/principals.js';
import {
  StorageConflictError, StorageDuplicateError, StorageLimitError,
  type AliasRecord, type CustomKeyStoreRecord, type GrantRecord, type KeyRecord, type MaterialRecord, type Scope, type Storage,
} from '../../src/domain/ports.js';

export interface StorageFactory {
  /** A fresh, migrated, empty store. */
  create(): Promise<Storage>;
  /** Called once after the suite (remove temp dirs, drop schemas). */
  cleanup?(): Promise<void>;
}

const A: Scope = { account: '111122223333', region: 'us-east-1' };
const B: Scope = { account: '444455556666', region: 'us-east-1' };
const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export function keyRecord(scope: Scope, n: number, over: Partial<KeyRecord> = {}): KeyRecord {
  const keyId = id(n);
  return {
    account: scope.account, region: scope.region, keyId, arn: `arn:aws:kms:${scope.region}:${scope.account}:key/${keyId}`,
    creationDate: new Date(1_700_000_000_000), description: `key ${n}`, keyUsage: 'ENCRYPT_DECRYPT', keySpec: 'SYMMETRIC_DEFAULT',
    origin: 'AWS_KMS', keyManager: 'CUSTOMER', keyState: 'Enabled', currentMaterialId: 'm1', multiRegion: false, policy: '{}', version: 1,
    ...over,
  };
}
const material = (key: KeyRecord): MaterialRecord => ({ keyArn: key.arn, materialId: 'm1', wrapped: Buffer.from([1, 2, 3]), createdAt: new Date(1_700_000_000_000) });
const alias = (scope: Scope, name: string, target: string, at = 1_700_000_000_000): AliasRecord => ({
  account: scope.account, region: scope.region, aliasName: name, targetKeyId: target, creationDate: new Date(at), lastUpdatedDate: new Date(at),
});

export function grantRecord(key: KeyRecord, n: number, over: Partial<GrantRecord> = {}): GrantRecord {
  return {
    keyArn: key.arn, account: key.account, region: key.region, grantId: n.toString(16).padStart(64, '0'),
    granteePrincipal: 'arn:aws:iam::444455556666:root', issuingAccount: `arn:aws:iam::${key.account}:root`,
    operations: ['Encrypt', 'Decrypt'], creationDate: new Date(1_700_000_000_000 + n), ...over,
  };
}

export function storageContract(name: string, factory: StorageFactory): void {
  describe(`Storage contract: ${name}`, () => {
    let s: Storage;
    const fresh = async () => {
      s = await factory.create();
      return s;
    };
    before(fresh);
    after(async () => {
      await s?.close();
      await factory.cleanup?.();
    });
    const reset = async () => {
      await s.close();
      await fresh();
    };

    it('inserts a key with materials and tags atomically and refuses a duplicate', async () => {
      await reset();
      const k = keyRecord(A, 1);
      await s.insertKey(k, [material(k)], [{ key: 't', value: 'v' }]);
      assert.deepEqual({ ...(await s.getKey(A, k.keyId)), deletionDate: undefined }, { ...k, deletionDate: undefined });
      assert.equal(await s.getKey(B, k.keyId), undefined, 'keys belong to one account');
      assert.equal((await s.getMaterials(k.arn)).length, 1);
      await assert.rejects(s.insertKey(k, [], [{ key: 'other', value: '' }]), StorageDuplicateError);
      assert.deepEqual(await s.getTags(k.arn), [{ key: 't', value: 'v' }], 'the failed insert wrote nothing');
    });

    it('updates a key with compare-and-set on its version', async () => {
      await reset();
      const k = keyRecord(A, 1);
      await s.insertKey(k, [], []);
      const updated = await s.updateKey({ ...k, keyState: 'Disabled' });
      assert.equal(updated.version, 2);
      assert.equal((await s.getKey(A, k.keyId))!.keyState, 'Disabled');
      await assert.rejects(s.updateKey({ ...k, description: 'stale' }), StorageConflictError);
      assert.equal((await s.getKey(A, k.keyId))!.description, 'key 1');
    });

    it('lists keys of one scope in pages ordered by key id', async () => {
      await reset();
      for (const n of [5, 3, 1, 4, 2]) await s.insertKey(keyRecord(A, n), [], []);
      await s.insertKey(keyRecord(B, 9), [], []);
      const p1 = await s.listKeys(A, 2);
      assert.deepEqual(p1.items.map((k) => k.keyId), [id(1), id(2)]);
      const p2 = await s.listKeys(A, 2, p1.next);
      assert.deepEqual(p2.items.map((k) => k.keyId), [id(3), id(4)]);
      const p3 = await s.listKeys(A, 2, p2.next);
      assert.deepEqual(p3.items.map((k) => k.keyId), [id(5)]);
      assert.equal(p3.next, undefined);
    });

    it('lists keys due for deletion across scopes, and deletes a key with its materials, aliases and tags', async () => {
      await reset();
      const due = keyRecord(A, 1, { keyState: 'PendingDeletion', deletionDate: new Date(2_000) });
      const later = keyRecord(B, 2, { keyState: 'PendingDeletion', deletionDate: new Date(5_000) });
      const enabled = keyRecord(A, 3);
      for (const k of [due, later, enabled]) await s.insertKey(k, [material(k)], [{ key: 'k', value: 'v' }]);
      await s.insertAlias(alias(A, 'alias/due', due.keyId));
      await s.insertAlias(alias(A, 'alias/kept', enabled.keyId));
      assert.deepEqual((await s.listKeysDueForDeletion(new Date(3_000), 10)).map((k) => k.arn), [due.arn]);
      assert.deepEqual((await s.listKeysDueForDeletion(new Date(5_000), 10)).map((k) => k.arn), [due.arn, later.arn]);

      assert.equal(await s.deleteKey(A, due.keyId, due.version + 1), false, 'compare-and-delete refuses a stale version');
      assert.ok(await s.getKey(A, due.keyId));
      assert.equal(await s.deleteKey(A, due.keyId, due.version), true);
      assert.equal(await s.getKey(A, due.keyId), undefined);
      assert.deepEqual(await s.getMaterials(due.arn), []);
      assert.deepEqual(await s.getTags(due.arn), []);
      assert.equal(await s.getAlias(A, 'alias/due'), undefined);
      assert.ok(await s.getAlias(A, 'alias/kept'));
      assert.equal(await s.deleteKey(A, due.keyId), false, 'deleting twice is a no-op');
    });

    it('creates, moves, lists and deletes aliases per account and region', async () => {
      await reset();
      await s.insertAlias(alias(A, 'alias/a', id(1)));
      await s.insertAlias(alias(B, 'alias/a', id(2)), 1);
      await assert.rejects(s.insertAlias(alias(A, 'alias/a', id(3))), StorageDuplicateError);
      assert.equal((await s.getAlias(A, 'alias/a'))!.targetKeyId, id(1));
      assert.equal((await s.getAlias(B, 'alias/a'))!.targetKeyId, id(2));

      assert.equal(await s.updateAlias(A, 'alias/a', id(3), new Date(1_800_000_000_000)), true);
      const moved = (await s.getAlias(A, 'alias/a'))!;
      assert.equal(moved.targetKeyId, id(3));
      assert.equal(moved.lastUpdatedDate.getTime(), 1_800_000_000_000);
      assert.equal(moved.creationDate.getTime(), 1_700_000_000_000);
      assert.equal(await s.updateAlias(A, 'alias/none', id(3), new Date()), false);

      for (const n of ['alias/c', 'alias/b', 'alias/d']) await s.insertAlias(alias(A, n, id(3)));
      const p1 = await s.listAliases(A, 2);
      assert.deepEqual(p1.items.map((a) => a.aliasName), ['alias/a', 'alias/b']);
      const p2 = await s.listAliases(A, 2, p1.next);
      assert.deepEqual(p2.items.map((a) => a.aliasName), ['alias/c', 'alias/d']);
      assert.equal(p2.next, undefined);
      assert.deepEqual((await s.listAliases(A, 10, undefined, id(3))).items.map((a) => a.aliasName), ['alias/a', 'alias/b', 'alias/c', 'alias/d']);
      assert.deepEqual((await s.listAliases(A, 10, undefined, id(1))).items, []);
      assert.equal(await s.countAliases(A, id(3)), 4);

      assert.equal(await s.deleteAlias(A, 'alias/b'), true);
      assert.equal(await s.deleteAlias(A, 'alias/b'), false);
      assert.equal(await s.getAlias(A, 'alias/b'), undefined);
    });

    it('enforces a per-key alias limit on insert and on move, writing nothing when it refuses', async () => {
      await reset();
      await s.insertAlias(alias(A, 'alias/1', id(1)), 2);
      await s.insertAlias(alias(A, 'alias/2', id(1)), 2);
      await assert.rejects(s.insertAlias(alias(A, 'alias/3', id(1)), 2), StorageLimitError);
      assert.equal(await s.getAlias(A, 'alias/3'), undefined);
      await s.insertAlias(alias(A, 'alias/x', id(2)), 2);
      await assert.rejects(s.updateAlias(A, 'alias/x', id(1), new Date(), 2), StorageLimitError);
      assert.equal((await s.getAlias(A, 'alias/x'))!.targetKeyId, id(2));
      assert.equal(await s.updateAlias(A, 'alias/1', id(1), new Date(), 2), true, 'a move onto the same key is not a new alias');
    });

    it('adds, overwrites and removes tags; a call over the limit writes nothing', async () => {
      await reset();
      const k = keyRecord(A, 1);
      await s.insertKey(k, [], []);
      await s.putTags(k.arn, [{ key: 'b', value: '1' }, { key: 'a', value: '' }], 3);
      await s.putTags(k.arn, [{ key: 'b', value: '2' }], 3);
      assert.deepEqual(await s.getTags(k.arn), [{ key: 'a', value: '' }, { key: 'b', value: '2' }]);
      await assert.rejects(s.putTags(k.arn, [{ key: 'a', value: 'changed' }, { key: 'c', value: '' }, { key: 'd', value: '' }], 3), StorageLimitError);
      assert.deepEqual(await s.getTags(k.arn), [{ key: 'a', value: '' }, { key: 'b', value: '2' }]);
      await s.putTags(k.arn, [{ key: 'c', value: '3' }], 3);
      await s.removeTags(k.arn, ['a', 'missing']);
      assert.deepEqual(await s.getTags(k.arn), [{ key: 'b', value: '2' }, { key: 'c', value: '3' }]);
    });

    // Concurrency: calls issued together must behave as if they ran one after the other, in some order. On PostgreSQL
    // they really overlap (several pooled connections); on SQLite they serialize, and the outcome must be the same.
    const settle = async <T>(calls: Promise<T>[]) => {
      const results = await Promise.allSettled(calls);
      return {
        won: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
        lost: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])),
      };
    };

    it('lets exactly one of two concurrent compare-and-set updates win, the other gets a conflict', async () => {
      await reset();
      const k = keyRecord(A, 1);
      await s.insertKey(k, [], []);
      for (let round = 0; round < 10; round++) {
        const current = (await s.getKey(A, k.keyId))!;
        const { won, lost } = await settle([
          s.updateKey({ ...current, description: `left ${round}` }),
          s.updateKey({ ...current, description: `right ${round}`, keyState: 'Disabled' }),
        ]);
        assert.equal(won.length, 1, `round ${round}: exactly one update wins`);
        assert.equal(lost.length, 1);
        assert.ok(lost[0] instanceof StorageConflictError, `the loser gets StorageConflictError, not ${String(lost[0])}`);
        const stored = (await s.getKey(A, k.keyId))!;
        assert.equal(stored.version, current.version + 1);
        assert.equal(stored.description, won[0]!.description, 'the stored record is the winner\'s, whole');
        assert.equal(stored.keyState, won[0]!.keyState);
      }
    });

    it('lets exactly one of a concurrent delete and update of the same version win', async () => {
      await reset();
      for (let n = 1; n <= 6; n++) {
        const k = keyRecord(A, n);
        await s.insertKey(k, [material(k)], [{ key: 't', value: 'v' }]);
        const [deleted, updated] = await Promise.allSettled([s.deleteKey(A, k.keyId, k.version), s.updateKey({ ...k, keyState: 'Disabled' })]);
        assert.equal(deleted.status, 'fulfilled');
        const deleteWon = (deleted as PromiseFulfilledResult<boolean>).value;
        if (deleteWon) {
          assert.equal(updated.status, 'rejected');
          assert.ok((updated as PromiseRejectedResult).reason instanceof StorageConflictError);
          assert.equal(await s.getKey(A, k.keyId), undefined);
          assert.deepEqual(await s.getMaterials(k.arn), []);
        } else {
          assert.equal(updated.status, 'fulfilled', 'the update won, so the delete of the old version did nothing');
          assert.equal((await s.getKey(A, k.keyId))!.keyState, 'Disabled');
          assert.equal((await s.getMaterials(k.arn)).length, 1);
        }
      }
    });

    it('lets exactly one of concurrent inserts of the same key or alias name win', async () => {
      await reset();
      const k = keyRecord(A, 1);
      const keys = await settle(Array.from({ length: 4 }, (_, i) => s.insertKey({ ...k, description: `try ${i}` }, [material(k)], [{ key: `t${i}`, value: '' }])));
      assert.equal(keys.won.length, 1);
      assert.ok(keys.lost.every((e) => e instanceof StorageDuplicateError), String(keys.lost.find((e) => !(e instanceof StorageDuplicateError))));
      assert.equal((await s.getTags(k.arn)).length, 1, 'only the winner\'s tags were written');
      const aliases = await settle(Array.from({ length: 4 }, (_, i) => s.insertAlias(alias(A, 'alias/same', id(i + 1)), 10)));
      assert.equal(aliases.won.length, 1);
      assert.ok(aliases.lost.every((e) => e instanceof StorageDuplicateError), String(aliases.lost.find((e) => !(e instanceof StorageDuplicateError))));
    });

    it('never lets concurrent alias inserts or moves pass the per-key limit', async () => {
      await reset();
      const inserts = await settle(Array.from({ length: 10 }, (_, i) => s.insertAlias(alias(A, `alias/n${i}`, id(1)), 3)));
      assert.equal(inserts.won.length, 3, 'as if one after the other: the first three fit');
      assert.ok(inserts.lost.every((e) => e instanceof StorageLimitError), String(inserts.lost.find((e) => !(e instanceof StorageLimitError))));
      assert.equal(await s.countAliases(A, id(1)), 3);

      for (let i = 0; i < 6; i++) await s.insertAlias(alias(A, `alias/m${i}`, id(2)));
      const moves = await settle(Array.from({ length: 6 }, (_, i) => s.updateAlias(A, `alias/m${i}`, id(3), new Date(), 2)));
      assert.equal(moves.won.length, 2);
      assert.ok(moves.won.every((moved) => moved === true));
      assert.ok(moves.lost.every((e) => e instanceof StorageLimitError), String(moves.lost.find((e) => !(e instanceof StorageLimitError))));
      assert.equal(await s.countAliases(A, id(3)), 2);
      assert.equal(await s.countAliases(A, id(2)), 4);
    });

    it('keeps the first of concurrent putSettingIfAbsent calls and returns it to every caller', async () => {
      await reset();
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.putSettingIfAbsent('contract.first', `v${i}`)));
      const stored = await s.getSetting('contract.first');
      assert.ok(stored !== undefined && /^v\d$/.test(stored));
      assert.deepEqual(results, Array(8).fill(stored));
      assert.equal(await s.putSettingIfAbsent('contract.first', 'later'), stored);
    });

    it('never lets concurrent tag writes pass the per-key limit, and a refused call writes nothing', async () => {
      await reset();
      const k = keyRecord(A, 1);
      await s.insertKey(k, [], []);
      const calls = await settle(
        Array.from({ length: 6 }, (_, i) => s.putTags(k.arn, [{ key: `a${i}`, value: '' }, { key: `b${i}`, value: '' }], 5)),
      );
      assert.equal(calls.won.length, 2, 'as if one after the other: two calls of two tags fit under five');
      assert.ok(calls.lost.every((e) => e instanceof StorageLimitError), String(calls.lost.find((e) => !(e instanceof StorageLimitError))));
      const tags = await s.getTags(k.arn);
      assert.equal(tags.length, 4);
      for (const t of tags.filter((x) => x.key.startsWith('a'))) assert.ok(tags.some((x) => x.key === `b${t.key.slice(1)}`), 'each call whole or not at all');
    });

    it('keeps rotation settings, and rotates atomically: the new material and the key change commit together or not at all', async () => {
      await reset();
      const k = keyRecord(A, 1, { rotationPeriodDays: 365, nextRotationDate: new Date(1_731_536_000_000), deletionDate: undefined });
      await s.insertKey(k, [material(k)], []);
      assert.deepEqual(await s.getKey(A, k.keyId), k, 'the rotation fields round-trip');
      const m2: MaterialRecord = { keyArn: k.arn, materialId: 'm2', wrapped: Buffer.from([4]), createdAt: new Date(1_731_536_000_001), rotationType: 'AUTOMATIC' };
      const next = { ...k, currentMaterialId: 'm2', nextRotationDate: new Date(1_763_072_000_001) };
      const stored = await s.rotateKey(next, m2);
      assert.deepEqual(stored, { ...next, version: 2 });
      assert.deepEqual(await s.getKey(A, k.keyId), stored);
      assert.deepEqual(await s.getMaterials(k.arn), [material(k), m2], 'materials in the order they were made, with how they came to be');

      // A stale version (a concurrent rotation won): nothing is written, not even the material.
      const m3: MaterialRecord = { ...m2, materialId: 'm3', rotationType: 'ON_DEMAND' };
      await assert.rejects(s.rotateKey({ ...next, currentMaterialId: 'm3', onDemandRotations: 1 }, m3), StorageConflictError);
      assert.deepEqual((await s.getMaterials(k.arn)).map((m) => m.materialId), ['m1', 'm2']);
      assert.deepEqual(await s.getKey(A, k.keyId), stored);

      // A material id that exists already: the key change is rolled back with it.
      await assert.rejects(s.rotateKey({ ...stored, currentMaterialId: 'm1', onDemandRotations: 1 }, { ...m3, materialId: 'm1' }), StorageDuplicateError);
      assert.deepEqual(await s.getKey(A, k.keyId), stored, 'the key change was rolled back');

      // Of concurrent rotations from one version, exactly one wins.
      const tries = await settle(Array.from({ length: 4 }, (_, i) =>
        s.rotateKey({ ...stored, currentMaterialId: `c${i}`, onDemandRotations: 1 }, { ...m3, materialId: `c${i}` })));
      assert.equal(tries.won.length, 1);
      assert.ok(tries.lost.every((e) => e instanceof StorageConflictError), String(tries.lost.find((e) => !(e instanceof StorageConflictError))));
      assert.equal((await s.getMaterials(k.arn)).length, 3);

      // Turning rotation off clears the fields.
      const now = (await s.getKey(A, k.keyId))!;
      const off = await s.updateKey({ ...now, rotationPeriodDays: undefined, nextRotationDate: undefined });
      const read = (await s.getKey(A, k.keyId))!;
      assert.equal(read.rotationPeriodDays, undefined);
      assert.equal(read.nextRotationDate, undefined);
      assert.equal(read.onDemandRotations, 1);
      assert.equal(read.version, off.version);
    });

    it('imports material: putMaterial inserts or replaces a material and changes the key in one compare-and-set', async () => {
      await reset();
      const k = keyRecord(A, 1, { origin: 'EXTERNAL', keyState: 'PendingImport', currentMaterialId: undefined });
      await s.insertKey(k, [], []);
      const imported: MaterialRecord = {
        keyArn: k.arn, materialId: 'i1', wrapped: Buffer.from([9, 9, 9]), createdAt: new Date(2_000),
        expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: new Date(5_000), description: 'first import',
      };
      const stored = await s.putMaterial({ ...k, keyState: 'Enabled', currentMaterialId: 'i1' }, imported);
      assert.equal(stored.version, 2);
      assert.equal((await s.getKey(A, k.keyId))!.keyState, 'Enabled');
      const [m] = await s.getMaterials(k.arn);
      assert.deepEqual({ ...m, pendingRotation: undefined, rotationType: undefined }, { ...imported, pendingRotation: undefined, rotationType: undefined });
      // The same id again replaces the row (re-import after expiry); a stale version writes nothing.
      const again = await s.putMaterial(stored, { ...imported, wrapped: Buffer.from([7, 7]), validTo: new Date(9_000) });
      assert.equal(again.version, 3);
      assert.deepEqual((await s.getMaterials(k.arn)).map((x) => [x.materialId, [...x.wrapped], x.validTo?.getTime()]), [['i1', [7, 7], 9_000]]);
      await assert.rejects(s.putMaterial(stored, { ...imported, materialId: 'i2' }), StorageConflictError);
      assert.deepEqual((await s.getMaterials(k.arn)).map((x) => x.materialId), ['i1'], 'the refused import wrote nothing');
    });

    it('erases imported material: the row and its import fields stay, the wrapped bytes go, with the key change', async () => {
      await reset();
      const k = keyRecord(A, 1, { origin: 'EXTERNAL', currentMaterialId: undefined, keyState: 'PendingImport' });
      await s.insertKey(k, [], []);
      const m: MaterialRecord = { keyArn: k.arn, materialId: 'i1', wrapped: Buffer.from([1, 2, 3, 4]), createdAt: new Date(2_000), expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: new Date(5_000) };
      const withMaterial = await s.putMaterial({ ...k, keyState: 'Enabled', currentMaterialId: 'i1' }, m);
      await assert.rejects(s.eraseMaterials({ ...withMaterial, version: 1 }, ['i1']), StorageConflictError);
      assert.equal((await s.getMaterials(k.arn))[0]!.wrapped.length, 4, 'a refused erasure erased nothing');
      const erased = await s.eraseMaterials({ ...withMaterial, keyState: 'PendingImport' }, ['i1']);
      assert.equal(erased.keyState, 'PendingImport');
      const [after] = await s.getMaterials(k.arn);
      assert.equal(after!.materialId, 'i1');
      assert.equal(after!.wrapped.length, 0);
      assert.equal(after!.validTo?.getTime(), 5_000);
      assert.equal((await s.getKey(A, k.keyId))!.keyState, 'PendingImport');
    });

    it('lists imported materials due for expiry, not yet erased, in any scope, oldest first', async () => {
      await reset();
      const mk = async (scope: Scope, n: number, validTo: number | undefined, wrapped = Buffer.from([1])) => {
        const k = keyRecord(scope, n, { origin: 'EXTERNAL', keyState: 'PendingImport', currentMaterialId: undefined });
        await s.insertKey(k, [], []);
        await s.putMaterial({ ...k, keyState: 'Enabled', currentMaterialId: `e${n}` }, {
          keyArn: k.arn, materialId: `e${n}`, wrapped, createdAt: new Date(1_000),
          expirationModel: validTo === undefined ? 'KEY_MATERIAL_DOES_NOT_EXPIRE' : 'KEY_MATERIAL_EXPIRES', validTo: validTo === undefined ? undefined : new Date(validTo),
        });
        return k;
      };
      await mk(A, 1, 4_000);
      await mk(B, 2, 3_000);
      await mk(A, 3, 9_000);
      await mk(A, 4, undefined);
      const k5 = await mk(A, 5, 2_000);
      await s.eraseMaterials({ ...(await s.getKey(A, k5.keyId))!, keyState: 'PendingImport' }, ['e5']);
      assert.deepEqual((await s.listMaterialsDueForExpiry(new Date(5_000), 10)).map((m) => m.materialId), ['e2', 'e1']);
      assert.deepEqual((await s.listMaterialsDueForExpiry(new Date(5_000), 1)).map((m) => m.materialId), ['e2']);
    });

    it('multi-Region keys: the fields round-trip, related keys are found by account and key id, updateKeys writes all or nothing', async () => {
      await reset();
      const keyId = `mrk-${'ab'.repeat(16)}`;
      const inRegion = (region: string, over: Partial<KeyRecord> = {}): KeyRecord => keyRecord({ account: A.account, region }, 0, {
        keyId, arn: `arn:aws:kms:${region}:${A.account}:key/${keyId}`, multiRegion: true, primaryRegion: 'us-east-1', ...over,
      });
      const primary = inRegion('us-east-1');
      const west = inRegion('us-west-2', { creationDate: new Date(1_700_000_000_500), keyState: 'Creating', transitionState: 'Enabled', transitionDate: new Date(1_700_000_001_000) });
      const eu = inRegion('eu-west-1', { creationDate: new Date(1_700_000_000_900) });
      const other = keyRecord(B, 0, { keyId, arn: `arn:aws:kms:us-east-1:${B.account}:key/${keyId}`, multiRegion: true, primaryRegion: 'us-east-1' });
      for (const k of [primary, west, eu, other]) await s.insertKey(k, [{ ...material(k) }], []);
      const norm = (k: KeyRecord | undefined) => k && { ...k, deletionDate: undefined };
      assert.deepEqual(norm(await s.getKey({ account: A.account, region: 'us-west-2' }, keyId)), norm(west));
      assert.deepEqual((await s.getRelatedKeys(A.account, keyId)).map((k) => k.region), ['us-east-1', 'us-west-2', 'eu-west-1'], 'creation order; one account only');
      assert.deepEqual(await s.getRelatedKeys(A.account, id(1)), []);
      // Transitions due at or before now, oldest first.
      assert.deepEqual((await s.listKeysInTransition(new Date(1_700_000_000_999), 10)).map((k) => k.arn), []);
      assert.deepEqual((await s.listKeysInTransition(new Date(1_700_000_001_000), 10)).map((k) => k.arn), [west.arn]);
      // One transaction: a change of primary on every related key, and a material for each.
      const moved = [primary, west, eu].map((k) => ({ ...k, primaryRegion: 'eu-west-1', currentMaterialId: 'm2' }));
      const newMaterials = moved.map((k) => ({ ...material(k), materialId: 'm2', rotationType: 'ON_DEMAND' as const }));
      const stored = await s.updateKeys(moved, newMaterials);
      assert.deepEqual(stored.map((k) => k.version), [2, 2, 2]);
      assert.deepEqual((await s.getRelatedKeys(A.account, keyId)).map((k) => [k.primaryRegion, k.currentMaterialId, k.version]), [
        ['eu-west-1', 'm2', 2], ['eu-west-1', 'm2', 2], ['eu-west-1', 'm2', 2],
      ]);
      assert.deepEqual((await s.getMaterials(eu.arn)).map((m) => m.materialId).sort(), ['m1', 'm2']);
      // A stale version anywhere: nothing written, neither keys nor materials.
      const stale = [stored[0]!, { ...west, version: 1 }].map((k) => ({ ...k, description: 'stale', pendingDeletionWindowInDays: 9 }));
      await assert.rejects(s.updateKeys(stale, [{ ...material(primary), materialId: 'm3' }]), StorageConflictError);
      assert.equal((await s.getKey(A, keyId))!.description, 'key 0');
      assert.deepEqual((await s.getMaterials(primary.arn)).map((m) => m.materialId).sort(), ['m1', 'm2']);
      const window = await s.updateKeys([{ ...stored[0]!, keyState: 'PendingReplicaDeletion', pendingDeletionWindowInDays: 9 }], []);
      assert.equal((await s.getKey(A, keyId))!.pendingDeletionWindowInDays, 9);
      assert.equal(window[0]!.version, 3);
    });

    it('lists Enabled keys whose automatic rotation is due, in any scope, soonest first', async () => {
      await reset();
      const at = (ms: number) => ({ rotationPeriodDays: 90, nextRotationDate: new Date(ms) });
      const keys = [
        keyRecord(A, 1, at(2_000)),
        keyRecord(B, 2, at(1_000)),
        keyRecord(A, 3, at(5_000)), // not yet due
        keyRecord(A, 4, { ...at(1_500), keyState: 'Disabled' }), // not rotated while disabled
        keyRecord(A, 5, { ...at(1_500), keyState: 'PendingDeletion', deletionDate: new Date(9_000) }),
        keyRecord(A, 6), // rotation not enabled
      ];
      for (const k of keys) await s.insertKey(k, [material(k)], []);
      assert.deepEqual((await s.listKeysDueForRotation(new Date(3_000), 10)).map((k) => k.keyId), [id(2), id(1)]);
      assert.deepEqual((await s.listKeysDueForRotation(new Date(3_000), 1)).map((k) => k.keyId), [id(2)]);
      assert.deepEqual(await s.listKeysDueForRotation(new Date(999), 10), []);
    });

    it('custom key stores: insert, unique name and cluster per scope, limit, compare-and-set update, paging', async () => {
      await reset();
      const cks = (n: number, over: Partial<CustomKeyStoreRecord> = {}): CustomKeyStoreRecord => ({
        account: A.account, region: A.region, customKeyStoreId: `cks-${String(n).padStart(17, '0')}`, name: `store ${n}`,
        type: 'AWS_CLOUDHSM', cloudHsmClusterId: `cluster-abcdefghij${n}`, trustAnchorCertificate: '-----BEGIN CERTIFICATE-----',
        passwordWrapped: Buffer.from([9, 8, 7]), connectionState: 'DISCONNECTED', creationDate: new Date(1_700_000_000_000), version: 1, ...over,
      });
      await s.insertCustomKeyStore(cks(1), 3);
      assert.deepEqual(await s.getCustomKeyStore(A, cks(1).customKeyStoreId), cks(1));
      assert.equal(await s.getCustomKeyStore(B, cks(1).customKeyStoreId), undefined, 'stores belong to one account');
      await assert.rejects(s.insertCustomKeyStore(cks(2, { name: 'store 1' }), 3), StorageDuplicateError, 'names are unique in a scope');
      await assert.rejects(s.insertCustomKeyStore(cks(2, { cloudHsmClusterId: cks(1).cloudHsmClusterId }), 3), StorageDuplicateError, 'one store per cluster');
      await s.insertCustomKeyStore({ ...cks(1), account: B.account }, 3); // the same name and cluster in another account
      await s.insertCustomKeyStore(cks(2), 3);
      const { cloudHsmClusterId: _c, trustAnchorCertificate: _t, passwordWrapped: _p, ...bare } = cks(3, { type: 'EXTERNAL_KEY_STORE' });
      await s.insertCustomKeyStore(bare, 3);
      await assert.rejects(s.insertCustomKeyStore(cks(4), 3), StorageLimitError);
      assert.deepEqual(await s.getCustomKeyStore(A, bare.customKeyStoreId), bare, 'absent fields read back absent');
      const p1 = await s.listCustomKeyStores(A, 2);
      assert.deepEqual(p1.items.map((c) => c.name), ['store 1', 'store 2']);
      const p2 = await s.listCustomKeyStores(A, 2, p1.next);
      assert.deepEqual(p2.items.map((c) => c.name), ['store 3']);
      assert.equal(p2.next, undefined);

      assert.deepEqual(await s.listConnectedCustomKeyStores(10), []);
      await s.insertCustomKeyStore({ ...cks(9), account: B.account, connectionState: 'CONNECTED' }, 3);
      assert.deepEqual((await s.listConnectedCustomKeyStores(10)).map((c) => [c.account, c.customKeyStoreId]), [[B.account, cks(9).customKeyStoreId]]);
      const connected = await s.updateCustomKeyStore({ ...cks(1), connectionState: 'FAILED', connectionErrorCode: 'INVALID_CREDENTIALS' });
      assert.equal(connected.version, 2);
      assert.deepEqual(await s.getCustomKeyStore(A, cks(1).customKeyStoreId), { ...cks(1), connectionState: 'FAILED', connectionErrorCode: 'INVALID_CREDENTIALS', version: 2 });
      await assert.rejects(s.updateCustomKeyStore({ ...cks(1), name: 'stale' }), StorageConflictError, 'version 1 is gone');
      await assert.rejects(s.updateCustomKeyStore({ ...connected, name: 'store 2' }), StorageDuplicateError);
      const renamed = await s.updateCustomKeyStore({ ...connected, name: 'renamed', connectionErrorCode: undefined, connectionState: 'DISCONNECTED' });
      assert.equal((await s.getCustomKeyStore(A, cks(1).customKeyStoreId))?.name, 'renamed');
      assert.equal((await s.getCustomKeyStore(A, cks(1).customKeyStoreId))?.connectionErrorCode, undefined);

      // Deletion: refused while a key lives in the store, compare-and-delete on the version.
      const k = keyRecord(A, 70, { origin: 'AWS_CLOUDHSM', customKeyStoreId: cks(1).customKeyStoreId });
      await s.insertKey(k, [material(k)], []);
      assert.equal((await s.getKey(A, k.keyId))?.customKeyStoreId, cks(1).customKeyStoreId);
      assert.equal((await s.getKey(A, k.keyId))?.origin, 'AWS_CLOUDHSM');
      assert.equal(await s.deleteCustomKeyStore(A, cks(1).customKeyStoreId, renamed.version), 'has-keys');
      await s.deleteKey(A, k.keyId);
      await assert.rejects(s.deleteCustomKeyStore(A, cks(1).customKeyStoreId, 1), StorageConflictError);
      assert.equal(await s.deleteCustomKeyStore(A, cks(1).customKeyStoreId, renamed.version), 'deleted');
      assert.equal(await s.getCustomKeyStore(A, cks(1).customKeyStoreId), undefined);
      assert.equal(await s.deleteCustomKeyStore(A, cks(1).customKeyStoreId, renamed.version), 'not-found');
      await s.wipe();
      assert.deepEqual((await s.listCustomKeyStores(A, 10)).items, []);
    });

    it('external key stores: proxy settings round-trip and update; one KMS key per external key and store', async () => {
      await reset();
      const xks = { uriEndpoint: 'https://xks.example.com', uriPath: '/a/kms/xks/v1', connectivity: 'PUBLIC_ENDPOINT' as const, accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretWrapped: Buffer.from([1, 2, 3]) };
      const store: CustomKeyStoreRecord = {
        account: A.account, region: A.region, customKeyStoreId: 'cks-0000000000000000x', name: 'xks', type: 'EXTERNAL_KEY_STORE', xks,
        connectionState: 'DISCONNECTED', creationDate: new Date(1_700_000_000_000), version: 1,
      };
      await s.insertCustomKeyStore(store, 3);
      assert.deepEqual(await s.getCustomKeyStore(A, store.customKeyStoreId), store);
      const moved = { ...xks, uriPath: '/b/kms/xks/v1', accessKeyId: 'ABCDEFGHIJKLMNOPQRSU', secretWrapped: Buffer.from([4, 5]) };
      const updated = await s.updateCustomKeyStore({ ...store, xks: moved, connectionState: 'CONNECTED' });
      assert.deepEqual(await s.getCustomKeyStore(A, store.customKeyStoreId), { ...store, xks: moved, connectionState: 'CONNECTED', version: updated.version });
      const k1 = keyRecord(A, 81, { origin: 'EXTERNAL_KEY_STORE', customKeyStoreId: store.customKeyStoreId, xksKeyId: 'foo' });
      await s.insertKey(k1, [material(k1)], []);
      assert.equal((await s.getKey(A, k1.keyId))?.xksKeyId, 'foo');
      const k2 = keyRecord(A, 82, { origin: 'EXTERNAL_KEY_STORE', customKeyStoreId: store.customKeyStoreId, xksKeyId: 'foo' });
      await assert.rejects(s.insertKey(k2, [material(k2)], []), StorageDuplicateError, 'the external key backs another KMS key of the store');
      assert.equal(await s.getKey(A, k2.keyId), undefined);
      const k3 = keyRecord(A, 83, { origin: 'EXTERNAL_KEY_STORE', customKeyStoreId: store.customKeyStoreId, xksKeyId: 'bar' });
      await s.insertKey(k3, [material(k3)], []);
      assert.equal((await s.getKey(A, keyRecord(A, 1).keyId))?.xksKeyId, undefined);
    });

    it('stores grants with every field, lists them by key with paging and filters, and deletes them', async () => {
      await reset();
      const k = keyRecord(A, 1);
      const other = keyRecord(A, 2);
      await s.insertKey(k, [material(k)], []);
      await s.insertKey(other, [material(other)], []);
      const full = grantRecord(k, 3, {
        name: 'n:a/b_c-d', retiringPrincipal: 'arn:aws:iam::444455556666:role/r', operations: ['Encrypt', 'CreateGrant'],
        constraints: { encryptionContextSubset: { Dept: 'IT', 'é': 'ü' } },
      });
      const plain = grantRecord(k, 1);
      const toC = grantRecord(k, 2, { granteePrincipal: 'arn:aws:iam::777788889999:user/u', constraints: { encryptionContextEquals: {} } });
      for (const g of [full, plain, toC, grantRecord(other, 9)]) await s.insertGrant(g);
      assert.deepEqual(await s.getGrant(k.arn, full.grantId), full);
      assert.deepEqual(await s.getGrant(k.arn, plain.grantId), plain, 'absent optional fields read back absent');
      assert.equal(await s.getGrant(other.arn, full.grantId), undefined);
      assert.deepEqual(await s.getGrants(k.arn), [plain, toC, full]);
      await assert.rejects(s.insertGrant(plain), StorageDuplicateError);

      const p1 = await s.listGrants(k.arn, 2);
      assert.deepEqual(p1.items.map((g) => g.grantId), [plain.grantId, toC.grantId]);
      assert.equal(p1.next, toC.grantId);
      const p2 = await s.listGrants(k.arn, 2, p1.next);
      assert.deepEqual(p2.items, [full]);
      assert.equal(p2.next, undefined);
      assert.deepEqual((await s.listGrants(k.arn, 10, undefined, { grantId: toC.grantId })).items, [toC]);
      assert.deepEqual((await s.listGrants(k.arn, 10, undefined, { granteePrincipal: 'arn:aws:iam::444455556666:root' })).items, [plain, full]);

      assert.equal(await s.deleteGrant(k.arn, toC.grantId), true);
      assert.equal(await s.deleteGrant(k.arn, toC.grantId), false);
      assert.deepEqual(await s.getGrants(k.arn), [plain, full]);
    });

    it('lists retirable grants of a region across keys and accounts, paged by key ARN and grant id', async () => {
      await reset();
      const r = 'arn:aws:iam::444455556666:role/retirer';
      const ka = keyRecord(A, 1);
      const kb = keyRecord(B, 2);
      const kWest = keyRecord({ account: A.account, region: 'eu-west-1' }, 3);
      for (const k of [ka, kb, kWest]) await s.insertKey(k, [material(k)], []);
      const gs = [grantRecord(kb, 1, { retiringPrincipal: r }), grantRecord(ka, 2, { retiringPrincipal: r }), grantRecord(ka, 3, { retiringPrincipal: r })];
      for (const g of [...gs, grantRecord(ka, 4), grantRecord(kWest, 5, { retiringPrincipal: r })]) await s.insertGrant(g);
      const expected = [...gs].sort((x, y) => (x.keyArn + x.grantId < y.keyArn + y.grantId ? -1 : 1));
      const seen: GrantRecord[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await s.listRetirableGrants('us-east-1', r, 2, after);
        seen.push(...page.items);
        if (!page.next) break;
        after = page.next;
      }
      assert.deepEqual(seen, expected);
      assert.deepEqual(await s.listRetirableGrants('us-east-1', 'arn:aws:iam::444455556666:root', 10), { items: [], next: undefined });
    });

    it('enforces the per-key and per-grantee grant limits, also under concurrency, writing nothing when it refuses', async () => {
      await reset();
      const k = keyRecord(A, 1);
      await s.insertKey(k, [material(k)], []);
      const limits = { perKey: 5, perGrantee: 3 };
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => s.insertGrant(grantRecord(k, i + 1), limits)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof StorageLimitError, String(r.reason));
      await s.insertGrant(grantRecord(k, 10, { granteePrincipal: 'arn:aws:iam::777788889999:root' }), limits);
      await s.insertGrant(grantRecord(k, 11, { granteePrincipal: 'arn:aws:iam::777788889999:root' }), limits);
      await assert.rejects(s.insertGrant(grantRecord(k, 12, { granteePrincipal: 'arn:aws:iam::123412341234:root' }), limits), StorageLimitError);
      assert.equal((await s.getGrants(k.arn)).length, 5);
    });

    it('deletes the grants of a deleted key, and wipe removes every grant', async () => {
      await reset();
      const k = keyRecord(A, 1);
      const kept = keyRecord(A, 2);
      await s.insertKey(k, [material(k)], []);
      await s.insertKey(kept, [material(kept)], []);
      await s.insertGrant(grantRecord(k, 1));
      await s.insertGrant(grantRecord(kept, 2));
      assert.equal(await s.deleteKey(A, k.keyId), true);
      assert.deepEqual(await s.getGrants(k.arn), []);
      assert.equal((await s.getGrants(kept.arn)).length, 1);
      await s.wipe();
      assert.deepEqual(await s.getGrants(kept.arn), []);
    });

    // Issue #12 item 10. PostgreSQL text cannot hold U+0000; the store must keep it anyway, exactly, as SQLite does:
    // U+0001 and the two-character strings an escaping scheme could confuse with it too.
    const NUL = '\u0000';
    const SOH = '\u0001';
    const tricky = [`a${NUL}b`, `a${SOH}b`, `a${SOH}0b`, `a${SOH}1b`, `${NUL}`, `${SOH}`, `${SOH}0`, `${NUL}${SOH}${NUL}`, 'a\\0b'];

    it('stores U+0000 and U+0001 in descriptions, policies, tags, aliases and key ids exactly, and finds them', async () => {
      await reset();
      const keys = tricky.map((d, i) => keyRecord(A, i + 1, { description: d, policy: `{"Sid":"${d}"}` }));
      for (const k of keys) await s.insertKey(k, [material(k)], []);
      const bare = (x: KeyRecord | undefined) => x && { ...x, deletionDate: undefined };
      for (const k of keys) assert.deepEqual(bare(await s.getKey(A, k.keyId)), bare(k), JSON.stringify(k.description));
      const updated = await s.updateKey({ ...keys[0]!, description: `${NUL}new${NUL}` });
      assert.equal((await s.getKey(A, keys[0]!.keyId))!.description, `${NUL}new${NUL}`);
      assert.equal(updated.version, 2);
      assert.equal(await s.getKey(A, `${keys[0]!.keyId}${NUL}`), undefined, 'a key id with U+0000 finds nothing');
      const withNulId = keyRecord(A, 99, { keyId: `k${NUL}1`, arn: `arn:aws:kms:${A.region}:${A.account}:key/k${NUL}1` });
      await s.insertKey(withNulId, [], []);
      assert.deepEqual(bare(await s.getKey(A, `k${NUL}1`)), bare(withNulId));
      assert.equal(await s.getKey(A, `k${SOH}01`), undefined);

      // Tags: distinct keys stay distinct, in bytewise order (the same on both backends), and can be removed.
      const k = keys[1]!;
      const tagKeys = ['a', `a${NUL}`, `a${SOH}`, `a${SOH}0`, `a${SOH}1`, `a${NUL}${NUL}`];
      await s.putTags(k.arn, tagKeys.map((key, i) => ({ key, value: `${tricky[i]}` })), 50);
      const sorted = [...tagKeys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual(await s.getTags(k.arn), sorted.map((key) => ({ key, value: tricky[tagKeys.indexOf(key)]! })));
      await s.putTags(k.arn, [{ key: `a${NUL}`, value: `${NUL}` }], 50);
      await s.removeTags(k.arn, [`a${SOH}0`, `a${NUL}${NUL}`]);
      assert.deepEqual((await s.getTags(k.arn)).map((t) => [t.key, t.value]), [
        ['a', tricky[0]], [`a${NUL}`, NUL], [`a${SOH}`, tricky[2]], [`a${SOH}1`, tricky[4]],
      ]);

      // Aliases: a name with U+0000 is its own name; looking one up that does not exist finds nothing.
      await s.insertAlias(alias(A, `alias/x${NUL}`, k.keyId), 50);
      await s.insertAlias(alias(A, `alias/x${SOH}0`, k.keyId), 50);
      await assert.rejects(s.insertAlias(alias(A, `alias/x${NUL}`, keys[2]!.keyId), 50), StorageDuplicateError);
      assert.equal((await s.getAlias(A, `alias/x${NUL}`))!.targetKeyId, k.keyId);
      assert.equal(await s.getAlias(A, `alias/y${NUL}`), undefined);
      assert.deepEqual((await s.listAliases(A, 10)).items.map((a) => a.aliasName), [`alias/x${NUL}`, `alias/x${SOH}0`]);
      assert.equal(await s.updateAlias(A, `alias/x${NUL}`, keys[2]!.keyId, new Date(), 50), true);
      assert.equal(await s.deleteAlias(A, `alias/x${NUL}`), true);
      assert.equal(await s.getAlias(A, `alias/x${NUL}`), undefined);
      assert.ok(await s.getAlias(A, `alias/x${SOH}0`));
    });

    it('stores U+0000 in grants, custom key store names and identity policies exactly, and finds them', async () => {
      await reset();
      const k = keyRecord(A, 1);
      await s.insertKey(k, [material(k)], []);
      const g = grantRecord(k, 1, { name: `n${NUL}`, constraints: { encryptionContextSubset: { [`k${NUL}`]: `v${NUL}${SOH}` } } });
      await s.insertGrant(g, { perKey: 10, perGrantee: 10 });
      assert.deepEqual(await s.getGrant(k.arn, g.grantId), g);
      assert.deepEqual((await s.listGrants(k.arn, 10)).items, [g]);
      assert.equal(await s.getGrant(k.arn, `${g.grantId}${NUL}`), undefined);
      assert.deepEqual((await s.listGrants(k.arn, 10, undefined, { grantId: `x${NUL}` })).items, []);
      assert.equal(await s.deleteGrant(k.arn, `x${NUL}`), false);

      const store = (n: number, name: string): CustomKeyStoreRecord => ({
        account: A.account, region: A.region, customKeyStoreId: `cks-${String(n).padStart(17, '0')}`, name, type: 'EXTERNAL_KEY_STORE',
        connectionState: 'DISCONNECTED', creationDate: new Date(1_700_000_000_000), version: 1,
      });
      await s.insertCustomKeyStore(store(1, `s${NUL}`), 10);
      await s.insertCustomKeyStore(store(2, `s${SOH}0`), 10);
      await assert.rejects(s.insertCustomKeyStore(store(3, `s${NUL}`), 10), StorageDuplicateError);
      assert.deepEqual(await s.getCustomKeyStore(A, store(1, '').customKeyStoreId), store(1, `s${NUL}`));
      assert.deepEqual((await s.listCustomKeyStores(A, 10)).items.map((c) => c.name), [`s${NUL}`, `s${SOH}0`]);

      const arn = `arn:aws:iam::${A.account}:user/u`;
      await s.putIdentityPolicy({ principalArn: arn, policyName: 'p', document: `{"a":"${NUL}"}` });
      assert.deepEqual(await s.getIdentityPolicies(arn), [{ principalArn: arn, policyName: 'p', document: `{"a":"${NUL}"}` }]);
      await s.putSetting(`x${NUL}`, `${NUL}${SOH}`);
      assert.equal(await s.getSetting(`x${NUL}`), `${NUL}${SOH}`);
      assert.equal(await s.getSetting(`x${SOH}0`), undefined);
    });

    const principal = (account: string, kind: PrincipalRecord['kind'], name: string, path = '/'): PrincipalRecord => ({
      account, kind, name, path, arn: `arn:aws:iam::${account}:${kind}${path}${name}`, createdAt: new Date(1_700_000_000_000),
    });
    const accessKey = (accessKeyId: string, account: string, principalArn: string) => ({
      accessKeyId, account, principalArn, secretWrapped: Buffer.from([1, 0, 2]), createdAt: new Date(1_700_000_000_001),
    });

    it('stores users and roles; names are unique per account and kind without regard to case', async () => {
      await reset();
      const alice = principal(A.account, 'user', 'Alice', '/team/');
      await s.insertPrincipal(alice);
      await s.insertPrincipal(principal(A.account, 'role', 'alice'));
      await s.insertPrincipal(principal(B.account, 'user', 'alice'));
      await assert.rejects(s.insertPrincipal(principal(A.account, 'user', 'ALICE')), StorageDuplicateError);
      assert.deepEqual(await s.getPrincipal(A.account, 'user', 'aLiCe'), alice);
      assert.deepEqual(await s.getPrincipalByArn(alice.arn), alice);
      assert.equal(await s.getPrincipal(A.account, 'user', 'bob'), undefined);
      assert.deepEqual((await s.listPrincipals(A.account)).map((p) => p.arn), [`arn:aws:iam::${A.account}:role/alice`, alice.arn]);
      assert.equal((await s.listPrincipals()).length, 3);
    });

    it('adds, replaces, lists and deletes inline identity policies', async () => {
      await reset();
      const arn = principal(A.account, 'user', 'u').arn;
      await s.insertPrincipal(principal(A.account, 'user', 'u'));
      await s.putIdentityPolicy({ principalArn: arn, policyName: 'b', document: '{"v":1}' });
      await s.putIdentityPolicy({ principalArn: arn, policyName: 'a', document: 'ünïcode ✓' });
      await s.putIdentityPolicy({ principalArn: arn, policyName: 'b', document: '{"v":2}' });
      assert.deepEqual(await s.getIdentityPolicies(arn), [
        { principalArn: arn, policyName: 'a', document: 'ünïcode ✓' },
        { principalArn: arn, policyName: 'b', document: '{"v":2}' },
      ]);
      assert.equal(await s.deleteIdentityPolicy(arn, 'a'), true);
      assert.equal(await s.deleteIdentityPolicy(arn, 'a'), false);
      assert.deepEqual((await s.getIdentityPolicies(arn)).map((p) => p.policyName), ['b']);
    });

    it('lists and deletes access keys; deleting a principal deletes its policies and access keys together', async () => {
      await reset();
      const u = principal(A.account, 'user', 'u');
      await s.insertPrincipal(u);
      await s.putIdentityPolicy({ principalArn: u.arn, policyName: 'p', document: '{}' });
      const root = `arn:aws:iam::${A.account}:root`;
      await s.insertAccessKey(accessKey('AKIAUSER000000000002', A.account, u.arn));
      await s.insertAccessKey(accessKey('AKIAUSER000000000001', A.account, u.arn));
      await s.insertAccessKey(accessKey('AKIAROOT000000000001', A.account, root));
      await s.insertAccessKey(accessKey('AKIAROOT000000000002', B.account, `arn:aws:iam::${B.account}:root`));
      assert.deepEqual((await s.listAccessKeys({ principalArn: u.arn })).map((k) => k.accessKeyId), ['AKIAUSER000000000001', 'AKIAUSER000000000002']);
      assert.deepEqual((await s.listAccessKeys({ account: A.account })).map((k) => k.accessKeyId), ['AKIAROOT000000000001', 'AKIAUSER000000000001', 'AKIAUSER000000000002']);
      assert.equal((await s.listAccessKeys()).length, 4);
      assert.equal(await s.deleteAccessKey('AKIAUSER000000000002'), true);
      assert.equal(await s.deleteAccessKey('AKIAUSER000000000002'), false);
      assert.equal(await s.getAccessKey('AKIAUSER000000000002'), undefined);
      assert.equal(await s.deletePrincipal(u.arn), true);
      assert.equal(await s.getPrincipalByArn(u.arn), undefined);
      assert.deepEqual(await s.getIdentityPolicies(u.arn), []);
      assert.equal(await s.getAccessKey('AKIAUSER000000000001'), undefined);
      assert.deepEqual((await s.listAccessKeys({ account: A.account })).map((k) => k.accessKeyId), ['AKIAROOT000000000001'], "the root's key stays");
      assert.equal(await s.deletePrincipal(u.arn), false);
    });

    it('every principal, policy and access key write increments the IAM generation, concurrent ones included', async () => {
      await reset();
      const generation = async () => Number((await s.getSetting(IAM_GENERATION_SETTING)) ?? '0');
      const g0 = await generation();
      const u = principal(A.account, 'user', 'g');
      await s.insertPrincipal(u);
      await s.putIdentityPolicy({ principalArn: u.arn, policyName: 'p', document: '{}' });
      await s.deleteIdentityPolicy(u.arn, 'p');
      await s.insertAccessKey(accessKey('AKIAGENERATION000001', A.account, u.arn));
      await s.deleteAccessKey('AKIAGENERATION000001');
      await s.deletePrincipal(u.arn);
      const g1 = await generation();
      assert.equal(g1, g0 + 6);
      const others = Array.from({ length: 8 }, (_, i) => principal(A.account, 'role', `r${i}`));
      await Promise.all(others.map((p) => s.insertPrincipal(p)));
      assert.equal(await generation(), g1 + 8, 'no increment is lost');
    });
  });
}
