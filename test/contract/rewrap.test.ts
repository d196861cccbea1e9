// The root key migration contract (RootKeyStorage.rewrapSecrets), on SQLite and PostgreSQL: every wrapped secret is
// passed to the callback and replaced by what it returns, settings change with them, all in one transaction; a
// failure changes nothing; PostgreSQL refuses while a server holds a scheduler lease.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StorageInUseError, type RootKeyStorage, type SnapshotRecord, type WrappedSecretRecord } from '../../src/domain/ports.js';
import { PostgresJobLease } from '../../src/storage/postgres/postgres-coordination.js';
import { PostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { collect, populate as populateSnapshot, type SnapshotStore } from './snapshot-contract.js';
import { testEvent } from './audit-contract.js';
import { keyRecord } from './storage-contract.js';
import { hsmMaterialRef } from '../../src/keystores/pkcs11/hsm-keystore.js';
import { xksMaterial } from '../../src/keystores/xks/xks-keystore.js';

type Store = SnapshotStore & RootKeyStorage;
interface Factory {
  readonly name: string;
  create(): Promise<{ store: Store; url?: string }>;
}

const dir = mkdtempSync(path.join(tmpdir(), 'trent-rewrap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const XKS_STORE = 'cks-0123456789abcdef1';

/**
 * The snapshot contract's store, plus an external key store (its proxy secret wrapped, in the xks_config JSON), a key
 * in it (an XKS material: 0xC2 prefix and the wrapped inner material) and a second HSM key whose material record is
 * a real HSM reference (0xC1): the store passes them all to the callback as stored; the callback tells them apart.
 */
async function populate(s: Store): Promise<void> {
  await populateSnapshot(s);
  const A = { account: '111122223333', region: 'us-east-1' };
  await s.insertCustomKeyStore({
    ...A, customKeyStoreId: XKS_STORE, name: 'xks ✓', type: 'EXTERNAL_KEY_STORE', connectionState: 'DISCONNECTED', creationDate: new Date(1_700_000_000_040), version: 1,
    xks: { uriEndpoint: 'https://xks.example.com', uriPath: '/kms/xks/v1', connectivity: 'PUBLIC_ENDPOINT', accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretWrapped: Buffer.concat([Buffer.of(1), randomBytes(70)]) },
  }, 10);
  const inXks = keyRecord(A, 7, { origin: 'EXTERNAL_KEY_STORE', customKeyStoreId: XKS_STORE });
  await s.insertKey(inXks, [{ keyArn: inXks.arn, materialId: 'm1', wrapped: xksMaterial(XKS_STORE, 'xks-key-1', Buffer.concat([Buffer.of(1), randomBytes(60)])), createdAt: new Date(1_700_000_000_041) }], []);
  const inHsm = keyRecord(A, 8, { origin: 'AWS_CLOUDHSM', customKeyStoreId: 'cks-0123456789abcdef0' });
  await s.insertKey(inHsm, [{ keyArn: inHsm.arn, materialId: 'm1', wrapped: hsmMaterialRef('cks-0123456789abcdef0', randomBytes(32)), createdAt: new Date(1_700_000_000_042) }], []);
}

/** A stand-in for re-wrapping: reversible, and visibly different. */
const flip = (b: Buffer) => Buffer.concat([Buffer.from('new:'), Buffer.from(b).reverse()]);

/** The snapshot with every wrapped secret passed through `f` (erased material, empty, stays empty). */
function expected(records: readonly SnapshotRecord[], f: (b: Buffer) => Buffer, settings: Record<string, string | null>): SnapshotRecord[] {
  const out: SnapshotRecord[] = [];
  for (const r of records) {
    if (r.type === 'material') out.push({ ...r, material: { ...r.material, wrapped: r.material.wrapped.length > 0 ? f(r.material.wrapped) : r.material.wrapped } });
    else if (r.type === 'accessKey') out.push({ ...r, accessKey: { ...r.accessKey, secretWrapped: f(r.accessKey.secretWrapped) } });
    else if (r.type === 'customKeyStore' && r.customKeyStore.passwordWrapped) out.push({ ...r, customKeyStore: { ...r.customKeyStore, passwordWrapped: f(r.customKeyStore.passwordWrapped) } });
    else if (r.type === 'customKeyStore' && r.customKeyStore.xks) out.push({ ...r, customKeyStore: { ...r.customKeyStore, xks: { ...r.customKeyStore.xks, secretWrapped: f(r.customKeyStore.xks.secretWrapped) } } });
    else if (r.type === 'setting' && r.name in settings) {
      if (settings[r.name] !== null) out.push({ ...r, value: settings[r.name]! });
    } else out.push(r);
  }
  return out;
}

function rewrapContract(factory: Factory): void {
  describe(`Root key migration contract: ${factory.name}`, () => {
    const open: Store[] = [];
    after(async () => {
      await Promise.all(open.map((s) => s.close()));
    });
    const make = async () => {
      const made = await factory.create();
      open.push(made.store);
      return made;
    };

    it('re-wraps every wrapped secret and sets the settings in one go; nothing else changes', async () => {
      const { store } = await make();
      await populate(store);
      const before = await collect(store.exportSnapshot());
      const seen: WrappedSecretRecord[] = [];
      const settings = { 'root.check': 'hsm1:new', 'root.fingerprint': 'fp', 'root.scrypt.salt': null };
      const head = await store.auditChainHead();
      let eventCounts: unknown;
      const counts = await store.rewrapSecrets((s) => {
        seen.push(s);
        return flip(s.wrapped);
      }, settings, (c) => {
        eventCounts = { ...c };
        return testEvent({ operation: 'RootKeyMigrated' });
      });
      assert.deepEqual(eventCounts, counts, 'the audit event is made with the final counts');
      const appended = await store.auditEventsAfter(head.seq, 10);
      assert.deepEqual(appended.map((e) => e.eventName), ['RootKeyMigrated'], 'the audit event commits with the change');
      const materials = before.filter((r) => r.type === 'material' && r.material.wrapped.length > 0).length;
      assert.deepEqual(counts, { material: materials, accessKey: 3, customKeyStorePassword: 1, xksProxySecret: 1 });
      assert.equal(seen.length, materials + 5);
      assert.ok(seen.some((s) => s.kind === 'customKeyStorePassword' && s.customKeyStoreId === 'cks-0123456789abcdef0' && s.account === '111122223333'));
      const xksStore = before.find((r) => r.type === 'customKeyStore' && r.customKeyStore.customKeyStoreId === XKS_STORE);
      assert.ok(xksStore?.type === 'customKeyStore' && xksStore.customKeyStore.xks);
      assert.ok(seen.some((s) => s.kind === 'xksProxySecret' && s.customKeyStoreId === XKS_STORE && s.account === '111122223333' && s.wrapped.equals(xksStore.customKeyStore.xks!.secretWrapped)));
      // Materials come as stored, XKS prefix and HSM references included.
      assert.ok(seen.some((s) => s.kind === 'material' && s.wrapped[0] === 0xc2));
      assert.ok(seen.some((s) => s.kind === 'material' && s.wrapped[0] === 0xc1));
      assert.ok(seen.some((s) => s.kind === 'accessKey' && s.accessKeyId === 'AKIABBBBBBBBBBBBBBBB'));
      const afterwards = (await collect(store.exportSnapshot())).filter((r) => r.type !== 'auditEvent');
      const want = expected(before, flip, settings).filter((r) => r.type !== 'auditEvent');
      const settingsOf = (rs: SnapshotRecord[]) => Object.fromEntries(rs.flatMap((r) => (r.type === 'setting' ? [[r.name, r.value]] : [])));
      const others = (rs: SnapshotRecord[]) => rs.filter((r) => r.type !== 'setting');
      assert.deepEqual(others(afterwards), others(want));
      assert.deepEqual(settingsOf(afterwards), { ...settingsOf(want), 'root.fingerprint': 'fp' });
      assert.equal(settingsOf(afterwards)['root.scrypt.salt'], undefined, 'a null setting is deleted');
    });

    it('changes nothing when the callback fails part way', async () => {
      const { store } = await make();
      await populate(store);
      const before = await collect(store.exportSnapshot());
      let calls = 0;
      await assert.rejects(
        store.rewrapSecrets((s) => {
          if (++calls === 4) throw new Error('does not unwrap');
          return flip(s.wrapped);
        }, { 'root.check': 'changed' }, () => testEvent({ operation: 'RootKeyMigrated' })),
        /does not unwrap/,
      );
      assert.deepEqual(await collect(store.exportSnapshot()), before);
    });

    if (factory.name === 'PostgreSQL') {
      it('refuses while a server holds a scheduler lease, and goes ahead once it is released', async () => {
        const { store, url } = await make();
        await populate(store);
        const before = await collect(store.exportSnapshot());
        const lease = new PostgresJobLease(url!, 30_000);
        try {
          assert.equal(await lease.tryAcquire('deletion-sweeper'), true);
          await assert.rejects(store.rewrapSecrets((s) => flip(s.wrapped), { 'root.check': 'x' }), StorageInUseError);
          assert.deepEqual(await collect(store.exportSnapshot()), before);
          await lease.release('deletion-sweeper');
          await store.rewrapSecrets((s) => flip(s.wrapped), { 'root.check': 'x' });
          assert.equal(await store.getSetting('root.check'), 'x');
        } finally {
          await lease.close();
        }
      });
    }
  });
}

rewrapContract({
  name: 'SQLite',
  async create() {
    const store = new SqliteStorage(path.join(dir, `db-${n++}.sqlite`));
    await store.migrate();
    return { store };
  },
});
const skip = postgresSkipReason();
if (skip) {
  describe('Root key migration contract: PostgreSQL', { skip }, () => {});
} else {
  rewrapContract({
    name: 'PostgreSQL',
    async create() {
      const url = await (await postgresCluster()).createDatabase();
      const store = new PostgresStorage(url, { maxConnections: 4 });
      await store.migrate();
      return { store, url };
    },
  });
}
