// The root key in a PKCS#11 token (SoftHSM2), end to end: `trent serve --root-key pkcs11:…` with real SDK clients
// signing with the administrator credentials (their secret wrapped by the token), a restart, no root key file in the
// data dir, a wrong PIN or token refused clearly; and `trent root-key migrate` of a store made with a root key file:
// old ciphertexts, MACs, credentials and imported material (same id on re-import) all work with the token key only,
// and migrating back to a file works too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DeleteImportedKeyMaterialCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, GenerateMacCommand,
  GetParametersForImportCommand, ImportKeyMaterialCommand, KMSClient, VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { startServer } from '../helpers/server.js';
import { ROOT } from '../helpers/paths.js';
import { softHsm, softhsmSkip } from '../helpers/softhsm.js';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';

function readProfile(file: string, profile: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current = '';
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const section = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (section) current = section[1]!;
    const kv = /^\s*([\w-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (kv && current === profile) out[kv[1]!] = kv[2]!;
  }
  return out;
}

const adminClient = (url: string, dataDir: string) => {
  const creds = readProfile(path.join(dataDir, 'credentials'), 'trent');
  return new KMSClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: creds.aws_access_key_id!, secretAccessKey: creds.aws_secret_access_key! }, maxAttempts: 1 });
};

const trent = (args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });

describe('HSM root key (SoftHSM2), end to end', { skip: softhsmSkip }, () => {
  let tok: { label: string; pin: string; slot: number };
  let env: NodeJS.ProcessEnv;
  const dirs: string[] = [];
  const newDir = (prefix: string) => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  before(() => {
    const hsm = softHsm();
    tok = hsm.initToken();
    env = { SOFTHSM2_CONF: hsm.conf, TRENT_PKCS11_MODULE: hsm.module, TRENT_PKCS11_PIN: tok.pin };
  });
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('serves with the root key in the token: SigV4, keys, restart; no root key file; wrong PIN, token or key refused', async () => {
    const dataDir = newDir('trent-hsmroot-');
    const uri = `pkcs11:token=${tok.label};object=serve-root`;
    const first = await startServer({ dev: false, dataDir, env, args: ['--root-key', uri, '--root-key-create', '--request-log', 'off'] });
    assert.match(first.stderr(), new RegExp(`Root key: pkcs11:token=${tok.label};object=serve-root`));
    let kms = adminClient(first.url, dataDir);
    const key = (await kms.send(new CreateKeyCommand({ Description: 'under the HSM root key' }))).KeyMetadata!;
    const enc = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('sealed by the token'), EncryptionContext: { app: 'e2e' } }));
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }));
    kms.destroy();
    assert.equal(await first.stop({ keepData: true }), 0);
    assert.ok(!readdirSync(dataDir).includes('root-key'), `no root key file in the data dir: ${readdirSync(dataDir).join(', ')}`);
    assert.ok(!first.stderr().includes(tok.pin), 'the PIN is never printed');

    // Restarted without --root-key-create: the same token key, the same store.
    const second = await startServer({ dev: false, dataDir, env, args: ['--root-key', uri, '--request-log', 'off'] });
    kms = adminClient(second.url, dataDir);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { app: 'e2e' } }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'sealed by the token');
    const dk2 = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
    assert.deepEqual(Buffer.from(dk2.Plaintext!), Buffer.from(dk.Plaintext!));
    kms.destroy();
    await second.stop({ keepData: true });

    // A wrong PIN: a clear error, exit 1, the PIN not echoed.
    const wrongPin = trent(['serve', '--port', '0', '--data-dir', dataDir, '--root-key', uri], { ...env, TRENT_PKCS11_PIN: 'not-the-pin-0000' });
    assert.equal(wrongPin.status, 1, wrongPin.stderr);
    assert.match(wrongPin.stderr, /cannot open the root key token .*the PIN was refused \(CKR_PIN_INCORRECT\)/);
    assert.ok(!wrongPin.stderr.includes('not-the-pin-0000'));
    // Another key of the same token, and another token.
    const otherKey = trent(['serve', '--port', '0', '--data-dir', dataDir, '--root-key', `pkcs11:token=${tok.label};object=some-other-key`, '--root-key-create'], env);
    assert.equal(otherKey.status, 1);
    assert.match(otherKey.stderr, /the root key does not match this data store/);
    const otherToken = trent(['serve', '--port', '0', '--data-dir', dataDir, '--root-key', 'pkcs11:token=no-such-token;object=serve-root'], env);
    assert.equal(otherToken.status, 1);
    assert.match(otherToken.stderr, /no token labelled "no-such-token"/);
    // Without --root-key: refused, and no root key file is made.
    const noHsm = trent(['serve', '--port', '0', '--data-dir', dataDir], env);
    assert.equal(noHsm.status, 1);
    assert.match(noHsm.stderr, /root key is in a PKCS#11 token: give --root-key/);
    assert.ok(!existsSync(path.join(dataDir, 'root-key')));
  });

  it('migrates a store made with a root key file to the token key (and back): everything still opens', async () => {
    const dataDir = newDir('trent-migrate-');
    const uri = `pkcs11:token=${tok.label};object=migrated-root`;
    const server = await startServer({ dev: false, dataDir, env, args: ['--request-log', 'off'] });
    let kms = adminClient(server.url, dataDir);
    const sym = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const enc = await kms.send(new EncryptCommand({ KeyId: sym, Plaintext: Buffer.from('made under the file key') }));
    const hmac = (await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
    const mac = await kms.send(new GenerateMacCommand({ KeyId: hmac, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('m') }));
    // Imported material: its id is a keyed fingerprint of the material, which must survive the migration.
    const imported = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    const material = randomBytes(32);
    const importIt = async (client: KMSClient) => {
      const p = await client.send(new GetParametersForImportCommand({ KeyId: imported, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
      const publicKey = createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' });
      const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
      return client.send(new ImportKeyMaterialCommand({ KeyId: imported, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    };
    const firstImport = await importIt(kms);
    const encImported = await kms.send(new EncryptCommand({ KeyId: imported, Plaintext: Buffer.from('imported') }));

    // Refused while the server runs.
    const busy = trent(['root-key', 'migrate', '--data-dir', dataDir, '--to', uri, '--root-key-create'], env);
    assert.equal(busy.status, 1, busy.stdout);
    assert.match(busy.stderr, /a Trent server is running on/);
    kms.destroy();
    await server.stop({ keepData: true });

    const migrated = trent(['root-key', 'migrate', '--data-dir', dataDir, '--to', uri, '--root-key-create'], env);
    assert.equal(migrated.status, 0, migrated.stderr);
    assert.match(migrated.stdout, /re-wrapped and verified 3 key materials, 1 access key secrets, 0 custom key store passwords, 0 external key store proxy secrets, and the fingerprint key\.\n/);
    assert.match(migrated.stdout, new RegExp(`Start Trent on this store with --root-key pkcs11:token=${tok.label};object=migrated-root`));
    // The old file no longer opens the store: a server given it refuses.
    const oldKey = trent(['serve', '--port', '0', '--data-dir', dataDir], env);
    assert.equal(oldKey.status, 1);
    assert.match(oldKey.stderr, /root key is in a PKCS#11 token/);
    // The audit trail records the migration, and its hash chain still verifies.
    const lookup = trent(['audit', 'lookup', '--data-dir', dataDir, '--event-name', 'RootKeyMigrated'], env);
    assert.equal(lookup.status, 0, lookup.stderr);
    const events = lookup.stdout.trim().split('\n').map((l) => JSON.parse(l) as { serviceEventDetails: Record<string, unknown> });
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.serviceEventDetails, { from: 'file', to: `pkcs11:token=${tok.label};object=migrated-root`, keyMaterials: 3, accessKeySecrets: 1, customKeyStorePasswords: 0, xksProxySecrets: 0, hsmKeyReferences: 0 });
    assert.ok(!lookup.stdout.includes(tok.pin));
    assert.equal(trent(['audit', 'verify', '--data-dir', dataDir], env).status, 0);
    renameSync(path.join(dataDir, 'root-key'), path.join(newDir('trent-offline-'), 'old-root-key'));
    const verified = trent(['root-key', 'verify', '--data-dir', dataDir, '--root-key', uri], env);
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /3 key materials, 1 access key secrets, 0 custom key store passwords and 0 external key store proxy secrets all open under it\.\n/);

    const hsmServer = await startServer({ dev: false, dataDir, env, args: ['--root-key', uri, '--request-log', 'off'] });
    kms = adminClient(hsmServer.url, dataDir); // the same access key: its secret was re-wrapped
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString(), 'made under the file key');
    assert.equal((await kms.send(new VerifyMacCommand({ KeyId: hmac, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('m'), Mac: mac.Mac }))).MacValid, true);
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: encImported.CiphertextBlob }))).Plaintext!).toString(), 'imported');
    // Deleted and imported again: the same material gets the same id, so the old ciphertext decrypts again.
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: imported }));
    const again = await importIt(kms);
    assert.equal(again.KeyMaterialId, firstImport.KeyMaterialId);
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: encImported.CiphertextBlob }))).Plaintext!).toString(), 'imported');
    const newKey = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const encNew = await kms.send(new EncryptCommand({ KeyId: newKey, Plaintext: Buffer.from('made under the token key') }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: newKey }))).KeyMetadata!.Enabled, true);
    kms.destroy();
    await hsmServer.stop({ keepData: true });
    assert.ok(!readdirSync(dataDir).includes('root-key'));

    // A backup stays wrapped under the token key: it restores with that key (and not with a file key).
    const backupFile = path.join(newDir('trent-backup-'), 'store.backup');
    const backup = trent(['backup', '--data-dir', dataDir, '--out', backupFile], env);
    assert.equal(backup.status, 0, backup.stderr);
    const restoredDir = newDir('trent-restored-');
    const wrongRestore = trent(['restore', '--in', backupFile, '--data-dir', path.join(restoredDir, 'x')], env);
    assert.equal(wrongRestore.status, 1);
    const restore = trent(['restore', '--in', backupFile, '--data-dir', restoredDir, '--root-key', uri], env);
    assert.equal(restore.status, 0, restore.stderr);
    assert.match(restore.stdout, /The configured root key matches the backup/);
    const restored = await startServer({ dev: true, dataDir: restoredDir, env, args: ['--root-key', uri, '--request-log', 'off'] });
    const devKms = new KMSClient({ endpoint: restored.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIADEVTEST', secretAccessKey: 'dev' }, maxAttempts: 1 });
    assert.equal(Buffer.from((await devKms.send(new DecryptCommand({ CiphertextBlob: encNew.CiphertextBlob }))).Plaintext!).toString(), 'made under the token key');
    devKms.destroy();
    await restored.stop({ keepData: true });

    // And back to a (new) root key file.
    const back = trent(['root-key', 'migrate', '--data-dir', dataDir, '--root-key', uri, '--to-file', path.join(dataDir, 'root-key')], env);
    assert.equal(back.status, 0, back.stderr);
    assert.match(back.stdout, /Created a new root key in .*root-key.*re-wrapped and verified 4 key materials, 1 access key secrets/s);
    const fileServer = await startServer({ dev: false, dataDir, env, args: ['--request-log', 'off'] });
    kms = adminClient(fileServer.url, dataDir);
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: encNew.CiphertextBlob }))).Plaintext!).toString(), 'made under the token key');
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString(), 'made under the file key');
    kms.destroy();
    await fileServer.stop({ keepData: true });
  });

  it('migrates a PostgreSQL store (passphrase root key) to the token key; refused while a node runs', { skip: postgresSkipReason() }, async () => {
    const url = await (await postgresCluster()).createDatabase();
    const dataDir = newDir('trent-pg-migrate-');
    const uri = `pkcs11:token=${tok.label};object=pg-root`;
    const pass = { ...env, TRENT_ROOT_KEY_PASSPHRASE: 'a long deployment passphrase' };
    const server = await startServer({ dev: false, dataDir, env: pass, args: ['--store', url, '--request-log', 'off'] });
    let kms = adminClient(server.url, dataDir);
    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const enc = await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('in postgres') }));
    // A running node holds the scheduler leases: refused, nothing changed.
    const busy = trent(['root-key', 'migrate', '--store', url, '--data-dir', newDir('trent-elsewhere-'), '--to', uri, '--root-key-create'], pass);
    assert.equal(busy.status, 1, busy.stdout);
    assert.match(busy.stderr, /the store is in use \(a node holds the scheduler lease of .*\): stop every Trent server on it first; nothing changed/);
    kms.destroy();
    await server.stop({ keepData: true });

    const migrated = trent(['root-key', 'migrate', '--store', url, '--data-dir', dataDir, '--to', uri, '--root-key-create'], pass);
    assert.equal(migrated.status, 0, migrated.stderr);
    assert.match(migrated.stdout, /from the root key passphrase to pkcs11:token=.*;object=pg-root: re-wrapped and verified 1 key materials, 1 access key secrets/);
    // The passphrase no longer opens the store; the token key does.
    const oldKey = trent(['serve', '--port', '0', '--store', url, '--data-dir', dataDir], pass);
    assert.equal(oldKey.status, 1);
    assert.match(oldKey.stderr, /root key is in a PKCS#11 token/);
    const hsmServer = await startServer({ dev: false, dataDir, env, args: ['--store', url, '--root-key', uri, '--request-log', 'off'] });
    kms = adminClient(hsmServer.url, dataDir);
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString(), 'in postgres');
    kms.destroy();
    await hsmServer.stop({ keepData: true });
  });
});
