// AWS_CLOUDHSM custom key stores backed by a SoftHSM2 token, end to end through @aws-sdk/client-kms and the aws CLI:
// create, connect (a wrong PIN fails the connection), keys made in the token, encrypt/decrypt by the HSM, disconnect
// (the keys refuse), reconnect, and a restart that keeps everything.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConnectCustomKeyStoreCommand, CreateCustomKeyStoreCommand, CreateKeyCommand, DecryptCommand, DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand, DescribeKeyCommand, DisconnectCustomKeyStoreCommand, EnableKeyRotationCommand, EncryptCommand,
  GenerateDataKeyCommand, GenerateDataKeyPairCommand, GenerateDataKeyWithoutPlaintextCommand, GenerateRandomCommand, ReEncryptCommand, ScheduleKeyDeletionCommand,
  UpdateCustomKeyStoreCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { softHsm, softhsmSkip } from '../helpers/softhsm.js';
import { awsCli } from '../helpers/aws-cli.js';
import { errorName, within } from '../helpers/poll.js';
import { ROOT } from '../helpers/paths.js';
import { Pkcs11Modules, Pkcs11Token } from '../../src/keystores/pkcs11/pkcs11-token.js';

const rejects = (p: Promise<unknown>, name: string, message?: RegExp) =>
  assert.rejects(p, (err: Error) => {
    assert.equal(err.name, name, `${err.name}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });

function selfSignedPem(dir: string, cn: string): string {
  const key = path.join(dir, `${cn}.key`);
  const crt = path.join(dir, `${cn}.crt`);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', `/CN=${cn}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  return readFileSync(crt, 'utf8');
}

describe('HSM key store (AWS_CLOUDHSM over SoftHSM2)', { skip: softhsmSkip }, () => {
  let dir: string;
  let dataDir: string;
  let server: TestServer;
  let kms: KMSClient;
  let tokenA: { label: string; pin: string; slot: number };
  let tokenB: { label: string; pin: string; slot: number };
  let env: NodeJS.ProcessEnv;
  let anchor: string;
  const CLUSTER_A = 'cluster-softhsmaaaaa';
  const CLUSTER_B = 'cluster-softhsmbbbbb';
  const CLUSTER_A2 = 'cluster-softhsmaaaab'; // the same token as A: a "related" cluster

  before(async () => {
    const hsm = softHsm();
    tokenA = hsm.initToken();
    tokenB = hsm.initToken();
    dir = mkdtempSync(path.join(tmpdir(), 'trent-hsm-e2e-'));
    dataDir = path.join(dir, 'data');
    anchor = selfSignedPem(dir, 'anchor-a');
    const clusters = [
      { clusterId: CLUSTER_A, modulePath: hsm.module, tokenLabel: tokenA.label, trustAnchorCertificateFile: path.join(dir, 'anchor-a.crt') },
      { clusterId: CLUSTER_A2, modulePath: hsm.module, tokenLabel: tokenA.label },
      { clusterId: CLUSTER_B, modulePath: hsm.module, slot: tokenB.slot, maxSessions: 2 },
    ];
    env = { SOFTHSM2_CONF: hsm.conf, TRENT_HSM_CLUSTERS: JSON.stringify(clusters) };
    server = await startServer({ dataDir, env });
    kms = devClient(server.url);
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let storeId: string;
  let keyId: string;
  let keyMaterialId: string;
  let ciphertext: Uint8Array;

  it('CreateCustomKeyStore checks the cluster, the trust anchor, names and clusters in use', async () => {
    const base = { CustomKeyStoreName: 'hsm-a', CloudHsmClusterId: CLUSTER_A, TrustAnchorCertificate: anchor, KeyStorePassword: 'wrong-pin-123' };
    await rejects(kms.send(new CreateCustomKeyStoreCommand({ ...base, CloudHsmClusterId: 'cluster-notconfigured' })), 'CloudHsmClusterNotFoundException');
    await rejects(kms.send(new CreateCustomKeyStoreCommand({ ...base, TrustAnchorCertificate: selfSignedPem(dir, 'other') })), 'IncorrectTrustAnchorException');
    await rejects(kms.send(new CreateCustomKeyStoreCommand({ ...base, TrustAnchorCertificate: 'not a certificate' })), 'IncorrectTrustAnchorException');
    await rejects(kms.send(new CreateCustomKeyStoreCommand({ CustomKeyStoreName: 'x', CloudHsmClusterId: CLUSTER_A, KeyStorePassword: 'abcdefgh' })), 'ValidationException', /TrustAnchorCertificate/);
    await rejects(
      kms.send(new CreateCustomKeyStoreCommand({ CustomKeyStoreName: 'xks', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyUriEndpoint: 'https://xks.example.com', XksProxyUriPath: '/kms/xks/v1', XksProxyConnectivity: 'PUBLIC_ENDPOINT', XksProxyAuthenticationCredential: { AccessKeyId: 'ABCDEFGHIJKLMNOPQRST', RawSecretAccessKey: 'a'.repeat(43) } })),
      'XksProxyUriUnreachableException', // no proxy answers at xks.example.com (external key stores: test/e2e/xks-key-store.test.ts)
    );
    // Deliberately the wrong PIN: AWS checks the password when it connects, not here.
    const created = await kms.send(new CreateCustomKeyStoreCommand(base));
    storeId = created.CustomKeyStoreId!;
    assert.match(storeId, /^cks-[0-9a-f]{17}$/);
    await rejects(kms.send(new CreateCustomKeyStoreCommand({ ...base, CloudHsmClusterId: CLUSTER_B })), 'CustomKeyStoreNameInUseException');
    await rejects(kms.send(new CreateCustomKeyStoreCommand({ ...base, CustomKeyStoreName: 'other' })), 'CloudHsmClusterInUseException');
    const d = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }));
    assert.equal(d.CustomKeyStores!.length, 1);
    const s = d.CustomKeyStores![0]!;
    assert.equal(s.ConnectionState, 'DISCONNECTED');
    assert.equal(s.CustomKeyStoreType, 'AWS_CLOUDHSM');
    assert.equal(s.CloudHsmClusterId, CLUSTER_A);
    assert.equal(s.TrustAnchorCertificate, anchor);
    assert.equal(s.CustomKeyStoreName, 'hsm-a');
    assert.ok(s.CreationDate instanceof Date);
    assert.equal(s.ConnectionErrorCode, undefined);
  });

  it('a disconnected store refuses CreateKey; a wrong PIN fails the connection with INVALID_CREDENTIALS', async () => {
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: storeId })), 'CustomKeyStoreInvalidStateException');
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    const s = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: 'hsm-a' }))).CustomKeyStores![0]!;
    assert.equal(s.ConnectionState, 'FAILED');
    assert.equal(s.ConnectionErrorCode, 'INVALID_CREDENTIALS');
    // FAILED: disconnect first (AWS's rule), then fix the password, then connect.
    await rejects(kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId })), 'CustomKeyStoreInvalidStateException');
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await rejects(kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId })), 'CustomKeyStoreInvalidStateException');
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: storeId, KeyStorePassword: tokenA.pin }));
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    const c = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }))).CustomKeyStores![0]!;
    assert.equal(c.ConnectionState, 'CONNECTED');
    assert.equal(c.ConnectionErrorCode, undefined);
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId })); // connecting a connected store succeeds
  });

  it('UpdateCustomKeyStore: only the name while CONNECTED; the cluster must be configured and related', async () => {
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: storeId, NewCustomKeyStoreName: 'hsm-a-renamed' }));
    await rejects(kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: storeId, KeyStorePassword: tokenA.pin })), 'CustomKeyStoreInvalidStateException');
    await rejects(kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: 'cks-00000000000000000', NewCustomKeyStoreName: 'n' })), 'CustomKeyStoreNotFoundException');
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await rejects(kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: storeId, CloudHsmClusterId: 'cluster-notconfigured' })), 'CloudHsmClusterNotFoundException');
    await rejects(kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: storeId, CloudHsmClusterId: CLUSTER_B })), 'CloudHsmClusterNotRelatedException');
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: storeId, CloudHsmClusterId: CLUSTER_A2 }));
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    const s = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }))).CustomKeyStores![0]!;
    assert.deepEqual([s.CustomKeyStoreName, s.CloudHsmClusterId, s.ConnectionState], ['hsm-a-renamed', CLUSTER_A2, 'CONNECTED']);
  });

  it('CreateKey with Origin AWS_CLOUDHSM makes a non-extractable AES-256 key in the token', async () => {
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM' })), 'ValidationException', /CustomKeyStoreId/);
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: storeId, KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })), 'UnsupportedOperationException');
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: 'cks-00000000000000000' })), 'CustomKeyStoreNotFoundException');
    const created = await kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: storeId, Description: 'in the HSM' }));
    const md = created.KeyMetadata!;
    assert.equal(md.Origin, 'AWS_CLOUDHSM');
    assert.equal(md.CustomKeyStoreId, storeId);
    assert.equal(md.CloudHsmClusterId, CLUSTER_A2);
    assert.equal(md.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(md.KeyState, 'Enabled');
    keyId = md.KeyId!;
    keyMaterialId = md.CurrentKeyMaterialId!;
    const described = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    assert.equal(described.CustomKeyStoreId, storeId);
    assert.equal(described.CloudHsmClusterId, CLUSTER_A2);
    // The key object is in the token, found by its id, and its value cannot be read out.
    const token = Pkcs11Token.open(new Pkcs11Modules(), { modulePath: softHsm().module, token: { label: tokenA.label }, pin: tokenA.pin, randomBytes });
    try {
      assert.deepEqual(await token.keyAttributes(Buffer.from(keyMaterialId, 'hex')), { sensitive: true, extractable: false, token: true, valueLen: 32 });
    } finally {
      token.close();
    }
    await rejects(kms.send(new EnableKeyRotationCommand({ KeyId: keyId })), 'UnsupportedOperationException');
  });

  it('Encrypt, Decrypt, GenerateDataKey(WithoutPlaintext), ReEncrypt and GenerateRandom go through the HSM', async () => {
    const ctx = { purpose: 'hsm-test' };
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('held by the HSM'), EncryptionContext: ctx }));
    ciphertext = enc.CiphertextBlob!;
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: ctx }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'held by the HSM');
    assert.equal(dec.KeyMaterialId, keyMaterialId);
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { purpose: 'other' } })), 'InvalidCiphertextException');
    const tampered = Buffer.from(ciphertext);
    tampered[tampered.length - 20]! ^= 1;
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: ctx })), 'InvalidCiphertextException');

    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    assert.equal(dk.Plaintext!.length, 32);
    assert.deepEqual(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }))).Plaintext!), Buffer.from(dk.Plaintext!));
    const dkw = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, NumberOfBytes: 64 }));
    assert.equal((await kms.send(new DecryptCommand({ CiphertextBlob: dkw.CiphertextBlob }))).Plaintext!.length, 64);

    // AWS: "GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext are not supported in custom key stores."
    await assert.rejects(kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' })), { name: 'UnsupportedOperationException' });

    const local = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const toLocal = await kms.send(new ReEncryptCommand({ CiphertextBlob: ciphertext, SourceEncryptionContext: ctx, DestinationKeyId: local }));
    const back = await kms.send(new ReEncryptCommand({ CiphertextBlob: toLocal.CiphertextBlob, DestinationKeyId: keyId, DestinationEncryptionContext: { again: '1' } }));
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: back.CiphertextBlob, EncryptionContext: { again: '1' } }))).Plaintext!).toString(), 'held by the HSM');

    const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 48, CustomKeyStoreId: storeId }));
    assert.equal(r.Plaintext!.length, 48);
    await rejects(kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, CustomKeyStoreId: 'cks-00000000000000000' })), 'CustomKeyStoreNotFoundException');
  });

  it('the aws CLI sees the store and uses its key', async () => {
    const cli = awsCli(server.url, dir);
    const d = await cli('describe-custom-key-stores', '--custom-key-store-name', 'hsm-a-renamed');
    assert.equal(d.CustomKeyStores[0].ConnectionState, 'CONNECTED');
    writeFileSync(path.join(dir, 'cli-plain'), 'via the CLI');
    const e = await cli('encrypt', '--key-id', keyId, '--plaintext', 'fileb://cli-plain');
    writeFileSync(path.join(dir, 'cli-blob'), Buffer.from(e.CiphertextBlob, 'base64'));
    const p = await cli('decrypt', '--ciphertext-blob', 'fileb://cli-blob');
    assert.equal(p.KeyId, e.KeyId);
    assert.equal(Buffer.from(p.Plaintext, 'base64').toString(), 'via the CLI');
  });

  it('a disconnected store makes its keys Unavailable: they refuse, and the store cannot be deleted while it has keys', async () => {
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    const s = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }))).CustomKeyStores![0]!;
    assert.equal(s.ConnectionState, 'DISCONNECTED');
    await rejects(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException');
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { purpose: 'hsm-test' } })), 'KMSInvalidStateException');
    await rejects(kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' })), 'KMSInvalidStateException');
    await rejects(kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, CustomKeyStoreId: storeId })), 'CustomKeyStoreInvalidStateException');
    const md = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    assert.equal(md.KeyState, 'Unavailable');
    assert.equal(md.Enabled, false);
    await rejects(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: storeId })), 'CustomKeyStoreHasCMKsException');

    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState, 'Enabled');
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { purpose: 'hsm-test' } }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'held by the HSM');
  });

  it('DescribeCustomKeyStores pages, and filters by id or name', async () => {
    const second = await kms.send(new CreateCustomKeyStoreCommand({ CustomKeyStoreName: 'hsm-b', CloudHsmClusterId: CLUSTER_B, TrustAnchorCertificate: anchor, KeyStorePassword: tokenB.pin }));
    const p1 = await kms.send(new DescribeCustomKeyStoresCommand({ Limit: 1 }));
    assert.equal(p1.CustomKeyStores!.length, 1);
    assert.equal(p1.Truncated, true);
    const p2 = await kms.send(new DescribeCustomKeyStoresCommand({ Limit: 1, Marker: p1.NextMarker }));
    assert.equal(p2.Truncated, false);
    assert.deepEqual(new Set([p1.CustomKeyStores![0]!.CustomKeyStoreId, p2.CustomKeyStores![0]!.CustomKeyStoreId]), new Set([storeId, second.CustomKeyStoreId]));
    await rejects(kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: 'nope' })), 'CustomKeyStoreNotFoundException');
    await rejects(kms.send(new DescribeCustomKeyStoresCommand({ Marker: 'garbage' })), 'InvalidMarkerException');
    // Another account sees none of them.
    const other = devClient(server.url, { accessKeyId: '444455556666' });
    assert.deepEqual((await other.send(new DescribeCustomKeyStoresCommand({}))).CustomKeyStores, []);
    await rejects(other.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId })), 'CustomKeyStoreNotFoundException');
    other.destroy();
    // A store without keys is deleted once disconnected.
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: second.CustomKeyStoreId }));
    await rejects(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: second.CustomKeyStoreId! })), 'CustomKeyStoreInvalidStateException');
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: second.CustomKeyStoreId }));
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: second.CustomKeyStoreId! }));
    await rejects(kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: second.CustomKeyStoreId })), 'CustomKeyStoreNotFoundException');
  });

  it('a restart keeps the store connected and its keys usable (the token is opened again on first use)', async () => {
    kms.destroy();
    assert.equal(await server.stop({ keepData: true }), 0);
    server = await startServer({ dataDir, env });
    kms = devClient(server.url);
    const s = (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }))).CustomKeyStores![0]!;
    assert.equal(s.ConnectionState, 'CONNECTED');
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { purpose: 'hsm-test' } }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'held by the HSM');
    // The PIN is stored wrapped, never in the clear.
    const files = spawnSync('grep', ['-rl', tokenA.pin, dataDir], { encoding: 'utf8' });
    assert.equal(files.stdout, '', 'the PIN appears in the data directory');
    // Scheduled for deletion, the key still keeps the store from being deleted.
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await rejects(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: storeId })), 'CustomKeyStoreHasCMKsException');
    assert.doesNotMatch(server.stdout() + server.stderr(), new RegExp(tokenA.pin));
  });

  it('a deleted key\'s object is destroyed in the connected token; then the empty store can be deleted', async () => {
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    const res = await fetch(`${server.url}/_trent/dev/clock`, { method: 'POST', body: JSON.stringify({ advanceSeconds: 8 * 86_400 }) });
    assert.equal(res.status, 200);
    await within(10_000, 'the key is deleted', async () => (await errorName(kms.send(new DescribeKeyCommand({ KeyId: keyId })))) === 'NotFoundException');
    const token = Pkcs11Token.open(new Pkcs11Modules(), { modulePath: softHsm().module, token: { label: tokenA.label }, pin: tokenA.pin, randomBytes });
    try {
      await within(10_000, 'the key object is gone from the token', async () => !(await token.hasKey(Buffer.from(keyMaterialId, 'hex'))));
    } finally {
      token.close();
    }
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    assert.deepEqual((await kms.send(new DescribeCustomKeyStoresCommand({}))).CustomKeyStores, []);
  });

  it('the audit trail records the custom key store operations, without the password', async () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), 'audit', 'lookup', '--data-dir', dataDir, '--max-results', '1000'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { eventName: string; requestParameters: Record<string, unknown> | null; errorCode?: string });
    const names = new Set(events.map((e) => e.eventName));
    for (const op of ['CreateCustomKeyStore', 'ConnectCustomKeyStore', 'DisconnectCustomKeyStore', 'UpdateCustomKeyStore', 'DeleteCustomKeyStore', 'DescribeCustomKeyStores']) {
      assert.ok(names.has(op), `no ${op} event`);
    }
    const created = events.filter((e) => e.eventName === 'CreateCustomKeyStore' && !e.errorCode);
    assert.deepEqual(created.map((e) => e.requestParameters?.cloudHsmClusterId).sort(), [CLUSTER_A, CLUSTER_B]);
    assert.ok(created.every((e) => e.requestParameters?.customKeyStoreName !== undefined && !('keyStorePassword' in (e.requestParameters ?? {}))));
    assert.doesNotMatch(r.stdout, new RegExp(tokenA.pin));
  });
});
