// The snapshot contract (backup and restore): a store exports every record as of one instant, and an empty store of
// either backend imports it whole or not at all. Run by snapshot.test.ts for every pair of backends available.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  StorageDuplicateError, StorageNotEmptyError,
  type AccessKeyRecord, type AliasRecord, type AuditStore, type MaterialRecord, type Scope, type SnapshotRecord, type SnapshotStorage, type Storage,
} from '../../src/domain/ports.js';
import { grantRecord, keyRecord } from './storage-contract.js';
import { testEvent } from './audit-contract.js';

export type SnapshotStore = Storage & SnapshotStorage & AuditStore;

export interface SnapshotFactory {
  readonly name: string;
  /** A fresh, migrated, empty store. */
  create(): Promise<SnapshotStore>;
}

const A: Scope = { account: '111122223333', region: 'us-east-1' };
const B: Scope = { account: '444455556666', region: 'eu-west-3' };

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A store with something in every table, and the awkward values: nulls, empty strings, non-ASCII, bytes 0x00. */
export async function populate(s: Storage & AuditStore): Promise<void> {
  const material = (arn: string, id: string, at: number): MaterialRecord => ({
    keyArn: arn, materialId: id, wrapped: Buffer.concat([Buffer.of(1, 0, 0xff), randomBytes(57)]), createdAt: new Date(at),
  });
  // Rotated once on demand, automatic rotation enabled: the rotation fields and the second material's type travel too.
  const enabled = keyRecord(A, 1, {
    description: 'Schlüssel ✓ "quoted"\nnewline', policy: '{"Version":"2012-10-17","Statement":[]}', version: 7, currentMaterialId: 'm2',
    rotationPeriodDays: 90, nextRotationDate: new Date(1_710_000_000_000), onDemandRotations: 1,
  });
  // A multi-Region replica being created, and its primary Region: the relation and the transition travel too.
  const disabled = keyRecord(A, 2, {
    keyState: 'Creating', description: '', multiRegion: true, primaryRegion: 'eu-west-1', transitionState: 'Enabled', transitionDate: new Date(1_700_000_009_000),
  });
  const pending = keyRecord(B, 3, { keyState: 'PendingDeletion', deletionDate: new Date(1_900_000_000_123) });
  const noMaterial = keyRecord(B, 4, { keyState: 'PendingImport', origin: 'EXTERNAL', currentMaterialId: undefined });
  await s.insertKey(enabled, [material(enabled.arn, 'm1', 1_700_000_000_001), { ...material(enabled.arn, 'm2', 1_700_000_000_002), rotationType: 'ON_DEMAND' }], [
    { key: 'team', value: 'storage' }, { key: 'empty', value: '' }, { key: 'ünïcode', value: '値' },
  ]);
  await s.insertKey(disabled, [material(disabled.arn, 'm1', 1_700_000_000_003)], []);
  await s.insertKey(pending, [material(pending.arn, 'm1', 1_700_000_000_004)], [{ key: 'k', value: 'v' }]);
  await s.insertKey(noMaterial, [], []);
  // Imported material (BYOK): expiry fields, a description, one material waiting for RotateKeyOnDemand, one erased.
  const imported = keyRecord(A, 5, { origin: 'EXTERNAL', keyState: 'PendingImport', currentMaterialId: undefined });
  await s.insertKey(imported, [], []);
  let ik = await s.putMaterial({ ...imported, keyState: 'Enabled', currentMaterialId: 'x1' }, {
    ...material(imported.arn, 'x1', 1_700_000_000_005), expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: new Date(1_750_000_000_000), description: 'importé ✓',
  });
  ik = await s.putMaterial(ik, { ...material(imported.arn, 'x2', 1_700_000_000_006), expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', pendingRotation: true });
  ik = await s.putMaterial(ik, { ...material(imported.arn, 'x0', 1_700_000_000_004), expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: new Date(1_700_000_100_000) });
  await s.eraseMaterials(ik, ['x0']);
  const alias = (scope: Scope, name: string, target: string, created: number, updated: number): AliasRecord => ({
    account: scope.account, region: scope.region, aliasName: name, targetKeyId: target, creationDate: new Date(created), lastUpdatedDate: new Date(updated),
  });
  await s.insertAlias(alias(A, 'alias/one', enabled.keyId, 1_700_000_000_010, 1_800_000_000_010));
  await s.insertAlias(alias(A, 'alias/two', enabled.keyId, 1_700_000_000_011, 1_700_000_000_011));
  await s.insertAlias(alias(B, 'alias/one', pending.keyId, 1_700_000_000_012, 1_700_000_000_012));
  const accessKey = (id: string, account: string): AccessKeyRecord => ({
    accessKeyId: id, account, principalArn: `arn:aws:iam::${account}:root`, secretWrapped: randomBytes(59), createdAt: new Date(1_700_000_000_020),
  });
  await s.insertAccessKey(accessKey('AKIAAAAAAAAAAAAAAAAA', A.account));
  await s.insertAccessKey(accessKey('AKIABBBBBBBBBBBBBBBB', B.account));
  await s.putSetting('root.check', randomBytes(32).toString('base64'));
  await s.putSetting('root.scrypt.salt', randomBytes(16).toString('base64'));
  await s.putSetting('admin.accessKeyId', 'AKIAAAAAAAAAAAAAAAAA');
  // A custom key store (password wrapped) and a key in it, whose material record is a reference into the HSM.
  await s.insertCustomKeyStore({
    ...A, customKeyStoreId: 'cks-0123456789abcdef0', name: 'hsm ✓', type: 'AWS_CLOUDHSM', cloudHsmClusterId: 'cluster-abcdefghijk',
    trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\n', passwordWrapped: randomBytes(40), connectionState: 'CONNECTED',
    creationDate: new Date(1_700_000_000_030), version: 4,
  }, 10);
  const inHsm = keyRecord(A, 6, { origin: 'AWS_CLOUDHSM', customKeyStoreId: 'cks-0123456789abcdef0' });
  await s.insertKey(inHsm, [material(inHsm.arn, 'm1', 1_700_000_000_031)], []);
  // Principals: a user (with a path) and a role, their inline policies, an access key of the user.
  const user = `arn:aws:iam::${A.account}:user/team/Alice`;
  await s.insertPrincipal({ account: A.account, kind: 'user', name: 'Alice', path: '/team/', arn: user, createdAt: new Date(1_700_000_000_030) });
  await s.insertPrincipal({ account: B.account, kind: 'role', name: 'app', path: '/', arn: `arn:aws:iam::${B.account}:role/app`, createdAt: new Date(1_700_000_000_031) });
  await s.putIdentityPolicy({ principalArn: user, policyName: 'use', document: '{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}' });
  await s.putIdentityPolicy({ principalArn: user, policyName: 'ünïcode ✓', document: '{\n  "Statement": []\n}' });
  await s.insertAccessKey({ ...accessKey('AKIACCCCCCCCCCCCCCCC', A.account), principalArn: user });
  await s.insertGrant(grantRecord(enabled, 1, { name: 'g1', retiringPrincipal: `arn:aws:iam::${B.account}:role/r`, constraints: { encryptionContextEquals: { k: 'v ✓' } } }));
  await s.insertGrant(grantRecord(enabled, 2, { operations: ['DescribeKey'] }));
  // The audit trail: a successful use, a failure, an unauthenticated request's event (no account, no key).
  await s.appendAuditEvents([testEvent({ keyArn: enabled.arn }), testEvent({ keyArn: pending.arn, account: B.account, operation: 'Decrypt', error: 'KMSInvalidStateException' })]);
  await s.appendAuditEvents([testEvent({ operation: 'ListKeys', user: 'ünïcode' })]);
}

const TYPE_ORDER = ['setting', 'accessKey', 'principal', 'identityPolicy', 'customKeyStore', 'key', 'material', 'alias', 'tag', 'grant', 'auditEvent'];
const COUNTS = { setting: 4, accessKey: 3, principal: 2, identityPolicy: 2, customKeyStore: 1, key: 6, material: 8, alias: 3, tag: 4, grant: 2, auditEvent: 3 };

const countByType = (records: readonly SnapshotRecord[]) => {
  const counts: Record<string, number> = {};
  for (const r of records) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return counts;
};

export function snapshotContract(source: SnapshotFactory, target: SnapshotFactory): void {
  describe(`Snapshot contract: ${source.name} → ${target.name}`, () => {
    const open: SnapshotStore[] = [];
    const make = async (f: SnapshotFactory) => {
      const s = await f.create();
      open.push(s);
      return s;
    };
    after(async () => {
      await Promise.all(open.map((s) => s.close()));
    });

    it('exports every record and imports them into an empty store, all equal', async () => {
      const src = await make(source);
      await populate(src);
      const exported = await collect(src.exportSnapshot());
      assert.deepEqual(countByType(exported), COUNTS);
      assert.deepEqual(exported.map((r) => r.type), [...exported.map((r) => r.type)].sort((a, b) =>
        TYPE_ORDER.indexOf(a) - TYPE_ORDER.indexOf(b)));

      const dst = await make(target);
      const counts = await dst.importSnapshot(exported);
      assert.deepEqual(counts, COUNTS);
      assert.deepEqual(await dst.getCustomKeyStore(A, 'cks-0123456789abcdef0'), await src.getCustomKeyStore(A, 'cks-0123456789abcdef0'));
      assert.deepEqual(await collect(dst.exportSnapshot()), exported, 'the copy exports exactly what the original did');

      // And through the ordinary Storage API.
      const enabled = keyRecord(A, 1);
      const got = (await dst.getKey(A, enabled.keyId))!;
      assert.equal(got.version, 7);
      assert.equal(got.description, 'Schlüssel ✓ "quoted"\nnewline');
      assert.deepEqual(await dst.getMaterials(got.arn), await src.getMaterials(got.arn));
      assert.deepEqual(await dst.getTags(got.arn), await src.getTags(got.arn));
      assert.deepEqual(await dst.getGrants(got.arn), await src.getGrants(got.arn));
      assert.equal((await dst.getKey(B, keyRecord(B, 3).keyId))!.deletionDate!.getTime(), 1_900_000_000_123);
      assert.equal((await dst.getKey(B, keyRecord(B, 4).keyId))!.currentMaterialId, undefined);
      assert.deepEqual(await dst.getKey(A, keyRecord(A, 2).keyId), await src.getKey(A, keyRecord(A, 2).keyId));
      assert.equal((await dst.getKey(A, keyRecord(A, 2).keyId))!.primaryRegion, 'eu-west-1');
      assert.deepEqual((await dst.listAliases(A, 10)).items, (await src.listAliases(A, 10)).items);
      assert.deepEqual(await dst.getAccessKey('AKIABBBBBBBBBBBBBBBB'), await src.getAccessKey('AKIABBBBBBBBBBBBBBBB'));
      assert.equal(await dst.getSetting('root.check'), await src.getSetting('root.check'));
      // The audit trail comes across with its chain: same head, and appends continue it.
      const head = await src.auditChainHead();
      const copiedHead = await dst.auditChainHead();
      assert.deepEqual([copiedHead.seq, copiedHead.hash], [head.seq, head.hash]);
      assert.ok(copiedHead.trackingStart <= (await dst.auditEventsAfter(0, 1))[0]!.eventTime, 'tracking began no later than the first copied event');
      const [next] = await dst.appendAuditEvents([testEvent()]);
      assert.deepEqual([next!.seq, next!.prevHash], [head.seq + 1, head.hash]);
      assert.deepEqual(await dst.listPrincipals(), await src.listPrincipals());
      assert.deepEqual(await dst.getIdentityPolicies(`arn:aws:iam::${A.account}:user/team/Alice`), await src.getIdentityPolicies(`arn:aws:iam::${A.account}:user/team/Alice`));
      assert.deepEqual(await dst.listAccessKeys({ principalArn: `arn:aws:iam::${A.account}:user/team/Alice` }), await src.listAccessKeys({ principalArn: `arn:aws:iam::${A.account}:user/team/Alice` }));
      // The copy is a working store: it takes writes (compare-and-set continues from the copied version).
      await dst.updateKey({ ...got, description: 'after restore' });
      assert.equal((await dst.getKey(A, enabled.keyId))!.version, 8);
    });

    it('refuses a target that is not empty, and writes nothing into it', async () => {
      const src = await make(source);
      await populate(src);
      const exported = await collect(src.exportSnapshot());
      for (const seed of [
        async (s: Storage) => s.putSetting('root.check', 'another store'),
        async (s: Storage) => s.insertKey(keyRecord(A, 99), [], []),
        async (s: Storage) => s.insertAlias({ ...A, aliasName: 'alias/x', targetKeyId: 'k', creationDate: new Date(0), lastUpdatedDate: new Date(0) }),
        async (s: Storage) => s.insertPrincipal({ account: A.account, kind: 'user', name: 'u', path: '/', arn: `arn:aws:iam::${A.account}:user/u`, createdAt: new Date(0) }),
      ]) {
        const dst = await make(target);
        await seed(dst);
        const before = await collect(dst.exportSnapshot());
        assert.ok(before.length >= 1);
        await assert.rejects(dst.importSnapshot(exported), StorageNotEmptyError);
        assert.deepEqual(await collect(dst.exportSnapshot()), before);
      }
    });

    it('writes nothing when the records fail half way (an error of the source, a duplicate)', async () => {
      const src = await make(source);
      await populate(src);
      const exported = await collect(src.exportSnapshot());
      const dst = await make(target);
      async function* failing() {
        for (const [i, r] of exported.entries()) {
          if (i === exported.length - 2) throw new Error('backup file truncated');
          yield r;
        }
      }
      await assert.rejects(dst.importSnapshot(failing()), /backup file truncated/);
      assert.deepEqual(await collect(dst.exportSnapshot()), [], 'nothing half-written');

      const duplicated = [...exported, exported.find((r) => r.type === 'material')!];
      await assert.rejects(dst.importSnapshot(duplicated), StorageDuplicateError);
      assert.deepEqual(await collect(dst.exportSnapshot()), []);

      await dst.importSnapshot(exported);
      assert.equal((await collect(dst.exportSnapshot())).length, exported.length, 'and the store still takes a good snapshot');
    });

    it('exports the store as of one instant while writers go on', async () => {
      const src = await make(source);
      await populate(src);
      const before = await collect(src.exportSnapshot());
      const iterator = src.exportSnapshot()[Symbol.asyncIterator]();
      const first = await iterator.next(); // the snapshot is taken by now
      assert.equal(first.done, false);
      // Concurrent writes through the store: a new key, a deleted key (with its material, alias and tags), a change.
      const added = keyRecord(A, 50);
      await src.insertKey(added, [{ keyArn: added.arn, materialId: 'm1', wrapped: Buffer.of(9), createdAt: new Date(1) }], [{ key: 'new', value: '' }]);
      assert.equal(await src.deleteKey(B, keyRecord(B, 3).keyId), true);
      const k1 = (await src.getKey(A, keyRecord(A, 1).keyId))!;
      await src.updateKey({ ...k1, keyState: 'Disabled' });
      await src.putSetting('late.setting', 'x');
      const rest: SnapshotRecord[] = [first.value];
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value);
      assert.deepEqual(rest, before, 'none of the concurrent writes shows through');
      const after = await collect(src.exportSnapshot());
      assert.ok(after.some((r) => r.type === 'key' && r.key.keyId === added.keyId), 'a new export sees them');
    });

    it('can stop an export early without leaving the store locked', async () => {
      const src = await make(source);
      await populate(src);
      for await (const r of src.exportSnapshot()) {
        assert.equal(r.type, 'setting');
        break;
      }
      await src.insertKey(keyRecord(A, 60), [], []); // a writer is not blocked by the abandoned snapshot
      assert.equal((await collect(src.exportSnapshot())).filter((r) => r.type === 'key').length, 7);
    });
  });
}
