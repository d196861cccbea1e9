// `trent root-key migrate` of a store with keys in custom key stores, end to end: an AWS_CLOUDHSM key store (SoftHSM2
// token; its key's material stays in the token, its password is re-wrapped) and an EXTERNAL_KEY_STORE (a real
// `trent xks-proxy`; the proxy secret and the key's inner material are re-wrapped, its XKS prefix kept). After the
// migration to a token root key, `root-key verify` passes, and a restarted server decrypts the old ciphertexts of
// both keys and encrypts new ones through @aws-sdk/client-kms; a backup of the migrated store restores.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConnectCustomKeyStoreCommand, CreateCustomKeyStoreCommand, CreateKeyCommand, DecryptCommand, DescribeCustomKeyStoresCommand, EncryptCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { devClient, repoRoot, startServer } from '../helpers/server.js';
import { softHsm, softhsmSkip } from '../helpers/softhsm.js';
import { makeTestCa, opensslSkip, type TestCa } from '../helpers/test-ca.js';
import { startXksProxy, type XksProxyProcess } from '../helpers/xks-proxy.js';
import { within } from '../helpers/poll.js';

const URI_PATH = '/trent-migrate/kms/xks/v1';
const ACCESS_KEY_ID = 'TRENTXKSMIGRATEAAAAA';
const SECRET = randomBytes(32).toString('base64');
const CLUSTER = 'cluster-migrateaaaaa';

const trent = (args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });

function selfSignedPem(dir: string, cn: string): string {
  const key = path.join(dir, `${cn}.key`);
  const crt = path.join(dir, `${cn}.crt`);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', `/CN=${cn}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  return readFileSync(crt, 'utf8');
}

describe('root key migration with HSM and external key stores', { skip: softhsmSkip ?? opensslSkip }, () => {
  let dir: string;
  let ca: TestCa;
  let proxy: XksProxyProcess;
  let env: NodeJS.ProcessEnv;
  let serverArgs: string[];
  let rootToken: { label: string; pin: string };
  let storePin: string;

  before(async () => {
    const hsm = softHsm();
    const storeToken = hsm.initToken();
    const proxyToken = hsm.initToken();
    rootToken = hsm.initToken();
    dir = mkdtempSync(path.join(tmpdir(), 'trent-migrate-stores-'));
    ca = makeTestCa('Trent migrate e2e CA');
    const cert = ca.server();
    const configFile = path.join(dir, 'xks.json');
    writeFileSync(configFile, JSON.stringify({
      host: '127.0.0.1', port: 0, tls: { cert: cert.cert, key: cert.key }, region: 'us-east-1',
      pkcs11: { module: hsm.module, tokenLabel: proxyToken.label, pinEnv: 'XKS_MIGRATE_PIN' },
      keystores: [{ uriPath: URI_PATH, credentials: [{ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET }], keys: ['ext-1'] }],
    }));
    const proxyEnv = { SOFTHSM2_CONF: hsm.conf, XKS_MIGRATE_PIN: proxyToken.pin };
    const made = trent(['xks-proxy', 'create-key', '--config', configFile, '--key-id', 'ext-1'], proxyEnv);
    assert.equal(made.status, 0, made.stderr);
    proxy = await startXksProxy(configFile, proxyEnv);
    env = {
      SOFTHSM2_CONF: hsm.conf, TRENT_PKCS11_MODULE: hsm.module, TRENT_PKCS11_PIN: rootToken.pin,
      TRENT_HSM_CLUSTERS: JSON.stringify([{ clusterId: CLUSTER, modulePath: hsm.module, tokenLabel: storeToken.label }]),
    };
    storePin = storeToken.pin;
    serverArgs = ['--xks-proxy-trusted-ca-file', ca.caCert, '--xks-proxy-port', new URL(proxy.url).port, '--request-log', 'off'];
  });
  after(async () => {
    await proxy?.stop();
    ca?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('re-wraps the XKS proxy secret and inner material, leaves HSM key references alone; both keys work after', async () => {
    const dataDir = path.join(dir, 'data');
    const uri = `pkcs11:token=${rootToken.label};object=migrated-root`;
    const server = await startServer({ dataDir, env, args: serverArgs });
    let kms: KMSClient = devClient(server.url);
    const state = async (id: string) => (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }))).CustomKeyStores![0]!.ConnectionState;

    const hsmStore = (await kms.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: 'hsm', CloudHsmClusterId: CLUSTER, TrustAnchorCertificate: selfSignedPem(dir, 'anchor'), KeyStorePassword: storePin,
    }))).CustomKeyStoreId!;
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: hsmStore }));
    await within(10_000, 'the HSM store is CONNECTED', async () => (await state(hsmStore)) === 'CONNECTED');
    const xksStore = (await kms.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: 'xks', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyUriEndpoint: 'https://127.0.0.1', XksProxyUriPath: URI_PATH,
      XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: SECRET }, XksProxyConnectivity: 'PUBLIC_ENDPOINT',
    }))).CustomKeyStoreId!;
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: xksStore }));
    await within(10_000, 'the XKS store is CONNECTED', async () => (await state(xksStore)) === 'CONNECTED');

    const hsmKey = (await kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: hsmStore }))).KeyMetadata!.KeyId!;
    const xksKey = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: xksStore, XksKeyId: 'ext-1' }))).KeyMetadata!.KeyId!;
    const localKey = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const old: Record<string, Uint8Array> = {};
    for (const [name, id] of [['hsm', hsmKey], ['xks', xksKey], ['local', localKey]] as const) {
      old[name] = (await kms.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from(`before, ${name}`), EncryptionContext: { k: name } }))).CiphertextBlob!;
    }
    kms.destroy();
    assert.equal(await server.stop({ keepData: true }), 0);

    const migrated = trent(['root-key', 'migrate', '--data-dir', dataDir, '--to', uri, '--root-key-create'], env);
    assert.equal(migrated.status, 0, migrated.stderr);
    // Materials: the local key and the XKS key's inner material; the HSM key's material is in its token.
    assert.match(migrated.stdout, /re-wrapped and verified 2 key materials, 1 access key secrets, 1 custom key store passwords, 1 external key store proxy secrets, and the fingerprint key \(1 keys in HSM key stores have their material in the HSM/);
    const verified = trent(['root-key', 'verify', '--data-dir', dataDir, '--root-key', uri], env);
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /2 key materials, 1 access key secrets, 1 custom key store passwords and 1 external key store proxy secrets all open under it/);
    const lookup = trent(['audit', 'lookup', '--data-dir', dataDir, '--event-name', 'RootKeyMigrated'], env);
    assert.equal(lookup.status, 0, lookup.stderr);
    const details = (JSON.parse(lookup.stdout.trim().split('\n')[0]!) as { serviceEventDetails: Record<string, unknown> }).serviceEventDetails;
    assert.deepEqual(
      { ...details, to: undefined },
      { from: 'file', to: undefined, keyMaterials: 2, accessKeySecrets: 1, customKeyStorePasswords: 1, xksProxySecrets: 1, hsmKeyReferences: 1 },
    );
    // The old root key file no longer opens the store.
    rmSync(path.join(dataDir, 'root-key'));

    const after = await startServer({ dataDir, env, args: [...serverArgs, '--root-key', uri] });
    kms = devClient(after.url);
    try {
      for (const [name, id] of [['hsm', hsmKey], ['xks', xksKey], ['local', localKey]] as const) {
        const pt = await kms.send(new DecryptCommand({ CiphertextBlob: old[name], EncryptionContext: { k: name } }));
        assert.equal(Buffer.from(pt.Plaintext!).toString(), `before, ${name}`, name);
        const fresh = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from(`after, ${name}`) }));
        assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: fresh.CiphertextBlob }))).Plaintext!).toString(), `after, ${name}`, name);
      }
    } finally {
      kms.destroy();
      await after.stop({ keepData: true });
    }

    // A backup of the migrated store restores under the token key (restore checks every wrapped secret, XKS included).
    const backupFile = path.join(dir, 'store.backup');
    const backup = trent(['backup', '--data-dir', dataDir, '--out', backupFile], env);
    assert.equal(backup.status, 0, backup.stderr);
    const restore = trent(['restore', '--in', backupFile, '--data-dir', path.join(dir, 'restored'), '--root-key', uri], env);
    assert.equal(restore.status, 0, restore.stderr);
  });
});
