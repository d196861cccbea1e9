// EXTERNAL_KEY_STORE custom key stores end to end: a real `trent xks-proxy` over HTTPS (a test CA) with its keys in a
// SoftHSM2 token, and a real Trent server that reaches it with SigV4, through @aws-sdk/client-kms and the aws CLI:
// create (the proxy's health is checked; a wrong credential is refused), connect, keys backed by external keys (checked
// through the proxy), double encryption, the proxy down and back, a server restart, disconnect.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ConnectCustomKeyStoreCommand, CreateCustomKeyStoreCommand, CreateKeyCommand, DecryptCommand, DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand, DescribeKeyCommand, DisconnectCustomKeyStoreCommand, EncryptCommand, GenerateDataKeyCommand, GenerateDataKeyPairCommand,
  ReEncryptCommand, UpdateCustomKeyStoreCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { awsCli } from '../helpers/aws-cli.js';
import { within } from '../helpers/poll.js';
import { devClient, repoRoot, startServer, type TestServer } from '../helpers/server.js';
import { softHsm, softhsmSkip } from '../helpers/softhsm.js';
import { makeTestCa, opensslSkip, type TestCa } from '../helpers/test-ca.js';
import { startXksProxy, type XksProxyProcess } from '../helpers/xks-proxy.js';

const URI_PATH = '/trent-e2e/kms/xks/v1';
const ACCESS_KEY_ID = 'TRENTXKSE2EKEYAAAAAA';
const SECRET = randomBytes(32).toString('base64');
const credential = { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: SECRET };

const rejects = (p: Promise<unknown>, name: string, message?: RegExp) =>
  assert.rejects(p, (err: Error) => {
    assert.equal(err.name, name, `${err.name}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });

describe('external key store (EXTERNAL_KEY_STORE through trent xks-proxy on SoftHSM2)', { skip: softhsmSkip ?? opensslSkip }, () => {
  let dir: string;
  let dataDir: string;
  let ca: TestCa;
  let proxy: XksProxyProcess;
  let proxyConfig: Record<string, unknown>;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let server: TestServer;
  let kms: KMSClient;
  let storeId: string;
  let keyArn: string;

  const startTrent = async () => {
    server = await startServer({
      dataDir,
      args: ['--xks-proxy-trusted-ca-file', ca.caCert, '--xks-proxy-port', String(port), '--xks-proxy-timeout-ms', '5000'],
    });
    kms = devClient(server.url);
  };
  const startProxy = async () => {
    proxy = await startXksProxy(configFile, env);
  };
  const describeStore = async () => (await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }))).CustomKeyStores![0]!;

  before(async () => {
    const hsm = softHsm();
    const token = hsm.initToken();
    dir = mkdtempSync(path.join(tmpdir(), 'trent-xks-e2e-'));
    dataDir = path.join(dir, 'data');
    ca = makeTestCa('Trent XKS e2e CA');
    const cert = ca.server();
    env = { SOFTHSM2_CONF: hsm.conf, XKS_E2E_PIN: token.pin };
    proxyConfig = {
      host: '127.0.0.1', port: 0, tls: { cert: cert.cert, key: cert.key }, region: 'us-east-1',
      pkcs11: { module: hsm.module, tokenLabel: token.label, pinEnv: 'XKS_E2E_PIN' },
      keystores: [{ uriPath: URI_PATH, credentials: [{ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET }], keys: ['foo', 'foo2', 'enc-only', { keyId: 'disabled', enabled: false }] }],
    };
    configFile = path.join(dir, 'xks.json');
    writeFileSync(configFile, JSON.stringify(proxyConfig));
    for (const [id, usage] of [['foo'], ['foo2'], ['enc-only', 'ENCRYPT'], ['disabled']] as const) {
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'xks-proxy', 'create-key', '--config', configFile, '--key-id', id, ...(usage ? ['--usage', usage] : [])], {
        env: { ...process.env, ...env }, encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
    }
    await startProxy();
    port = Number(new URL(proxy.url).port);
    // Later restarts of the proxy listen on the same port, where Trent looks for it.
    writeFileSync(configFile, JSON.stringify({ ...proxyConfig, port }));
    await startTrent();
  });

  after(async () => {
    await server?.stop({ keepData: true });
    await proxy?.stop();
    ca?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const create = (name: string, extra: Record<string, unknown> = {}) =>
    kms.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: name, CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyUriEndpoint: 'https://127.0.0.1', XksProxyUriPath: URI_PATH,
      XksProxyAuthenticationCredential: credential, XksProxyConnectivity: 'PUBLIC_ENDPOINT', ...extra,
    }));

  it('refuses a credential the proxy rejects, an unreachable proxy, and VPC endpoint connectivity', async () => {
    await rejects(create('wrong-secret', { XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: randomBytes(32).toString('base64') } }),
      'XksProxyIncorrectAuthenticationCredentialException');
    await rejects(create('wrong-path', { XksProxyUriPath: '/elsewhere/kms/xks/v1' }), 'XksProxyInvalidConfigurationException');
    await rejects(create('nobody-there', { XksProxyUriEndpoint: 'https://127.0.0.2' }), 'XksProxyUriUnreachableException');
    await rejects(create('vpc', { XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE', XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0' }),
      'UnsupportedOperationException', /VPC_ENDPOINT_SERVICE/);
    assert.equal((await kms.send(new DescribeCustomKeyStoresCommand({}))).CustomKeyStores!.length, 0);
  });

  it('creates a store after a health check; describes it without the secret; refuses the same URI or name again', async () => {
    storeId = (await create('xks-one')).CustomKeyStoreId!;
    const s = await describeStore();
    assert.equal(s.CustomKeyStoreType, 'EXTERNAL_KEY_STORE');
    assert.equal(s.ConnectionState, 'DISCONNECTED');
    assert.deepEqual(s.XksProxyConfiguration, { Connectivity: 'PUBLIC_ENDPOINT', AccessKeyId: ACCESS_KEY_ID, UriEndpoint: 'https://127.0.0.1', UriPath: URI_PATH });
    assert.ok(!JSON.stringify(s).includes(SECRET));
    await rejects(create('xks-two'), 'XksProxyUriInUseException');
    await rejects(create('xks-one', { XksProxyUriPath: '/other/kms/xks/v1' }), 'CustomKeyStoreNameInUseException');
    // No key until the store is connected.
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'foo' })), 'CustomKeyStoreInvalidStateException');
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await within(10_000, 'the store is CONNECTED', async () => (await describeStore()).ConnectionState === 'CONNECTED');
  });

  it('creates keys backed by external keys the proxy vouches for; DescribeKey shows XksKeyConfiguration', async () => {
    const md = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'foo', Description: 'xks' }))).KeyMetadata!;
    keyArn = md.Arn!;
    const d = (await kms.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata!;
    assert.equal(d.Origin, 'EXTERNAL_KEY_STORE');
    assert.equal(d.CustomKeyStoreId, storeId);
    assert.deepEqual(d.XksKeyConfiguration, { Id: 'foo' });
    assert.equal(d.KeyState, 'Enabled');
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'foo' })), 'XksKeyAlreadyInUseException');
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'no-such-key' })), 'XksKeyNotFoundException');
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'disabled' })), 'XksKeyInvalidConfigurationException', /ENABLED/);
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: 'enc-only' })), 'XksKeyInvalidConfigurationException', /DECRYPT/);
    await rejects(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId })), 'ValidationException');
  });

  it('encrypts and decrypts through the proxy (double encryption), with the request metadata AWS sends', async () => {
    const plaintext = Buffer.from('double encrypted through the XKS proxy');
    const ec = { purpose: 'xks-e2e' };
    const before = proxy.stdout().length;
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext, EncryptionContext: ec }));
    // The proxy's request log (one JSON line per request, written after the answer): complete lines only.
    const encryptLines = () => proxy.stdout().slice(before).split('\n').slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.api === 'Encrypt');
    await within(5_000, 'the proxy logged the Encrypt', async () => encryptLines().length > 0);
    const logged = encryptLines();
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.keyId, 'foo');
    assert.equal(logged[0]!.kmsOperation, 'Encrypt');
    assert.equal(logged[0]!.kmsKeyArn, keyArn);
    assert.match(String(logged[0]!.awsPrincipalArn), /^arn:aws:iam::\d{12}:/);
    assert.ok(!Buffer.from(CiphertextBlob!).includes(plaintext));
    const out = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: ec }));
    assert.deepEqual(Buffer.from(out.Plaintext!), plaintext);
    assert.equal(out.KeyId, keyArn);
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { purpose: 'other' } })), 'InvalidCiphertextException');
    const tampered = Buffer.from(CiphertextBlob!);
    tampered[tampered.length - 20]! ^= 1;
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: ec })), 'InvalidCiphertextException');

    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256' }));
    assert.deepEqual(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }))).Plaintext!), Buffer.from(dk.Plaintext!));
    await rejects(kms.send(new GenerateDataKeyPairCommand({ KeyId: keyArn, KeyPairSpec: 'ECC_NIST_P256' })), 'UnsupportedOperationException');
    // ReEncrypt out of the external key store and back in.
    const local = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const moved = await kms.send(new ReEncryptCommand({ CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyId: local }));
    const back = await kms.send(new ReEncryptCommand({ CiphertextBlob: moved.CiphertextBlob, DestinationKeyId: keyArn, DestinationEncryptionContext: ec }));
    assert.deepEqual(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: back.CiphertextBlob, EncryptionContext: ec }))).Plaintext!), plaintext);
  });

  it('answers KMSInvalidStateException while the proxy is down, and works again when it is back', async () => {
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('before the outage') }));
    await proxy.stop();
    await rejects(kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException', /not reachable/);
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob })), 'KMSInvalidStateException', /not reachable/);
    await startProxy();
    await within(10_000, 'decrypts again once the proxy is back', async () => {
      const out = await kms.send(new DecryptCommand({ CiphertextBlob })).catch(() => undefined);
      return out !== undefined && Buffer.from(out.Plaintext!).toString() === 'before the outage';
    });
  });

  it('keeps the store, its keys and their ciphertexts across a server restart; the aws CLI sees the same', async () => {
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('survives a restart') }));
    await server.stop({ keepData: true });
    await startTrent();
    assert.equal((await describeStore()).ConnectionState, 'CONNECTED');
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString(), 'survives a restart');
    const aws = awsCli(server.url, dir);
    const stores = await aws('describe-custom-key-stores', '--custom-key-store-id', storeId);
    assert.equal(stores.CustomKeyStores[0].XksProxyConfiguration.UriPath, URI_PATH);
    const key = await aws('describe-key', '--key-id', keyArn);
    assert.equal(key.KeyMetadata.XksKeyConfiguration.Id, 'foo');
    writeFileSync(path.join(dir, 'cli-plain.bin'), 'from the CLI');
    const enc = await aws('encrypt', '--key-id', keyArn, '--plaintext', 'fileb://cli-plain.bin');
    writeFileSync(path.join(dir, 'cli-blob.bin'), Buffer.from(enc.CiphertextBlob, 'base64'));
    const dec = await aws('decrypt', '--ciphertext-blob', 'fileb://cli-blob.bin');
    assert.equal(Buffer.from(dec.Plaintext, 'base64').toString(), 'from the CLI');
  });

  it('disconnects (keys refuse), fails to connect with the proxy down (XKS_PROXY_NOT_REACHABLE), updates, deletes', async () => {
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await rejects(kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException');
    await proxy.stop();
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await within(10_000, 'the connection fails', async () => (await describeStore()).ConnectionState === 'FAILED');
    assert.equal((await describeStore()).ConnectionErrorCode, 'XKS_PROXY_NOT_REACHABLE');
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await startProxy();
    // A new credential is checked with the proxy before it is stored.
    await rejects(kms.send(new UpdateCustomKeyStoreCommand({
      CustomKeyStoreId: storeId, XksProxyAuthenticationCredential: { AccessKeyId: 'TRENTXKSE2EKEYBBBBBB', RawSecretAccessKey: SECRET },
    })), 'XksProxyIncorrectAuthenticationCredentialException');
    await kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: storeId, NewCustomKeyStoreName: 'xks-renamed' }));
    assert.equal((await describeStore()).CustomKeyStoreName, 'xks-renamed');
    await kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await within(10_000, 'the store is CONNECTED', async () => (await describeStore()).ConnectionState === 'CONNECTED');
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({
      CiphertextBlob: (await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('again') }))).CiphertextBlob,
    }))).Plaintext!).toString(), 'again');
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await rejects(kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: storeId })), 'CustomKeyStoreHasCMKsException');
  });

  it('never writes the proxy secret: not in the audit trail, the request log, or the database files', async () => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'audit', 'lookup', '--data-dir', dataDir, '--max-results', '1000'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { eventName: string; requestParameters: Record<string, unknown> | null; errorCode?: string });
    const created = events.filter((e) => e.eventName === 'CreateCustomKeyStore' && !e.errorCode);
    assert.equal(created.length, 1);
    assert.equal(created[0]!.requestParameters?.xksProxyUriPath, URI_PATH);
    assert.ok(events.some((e) => e.eventName === 'CreateCustomKeyStore' && e.errorCode === 'XksProxyIncorrectAuthenticationCredentialException'));
    const secretBytes = Buffer.from(SECRET);
    assert.ok(!r.stdout.includes(SECRET));
    assert.ok(!server.stdout().includes(SECRET) && !server.stderr().includes(SECRET));
    for (const f of readdirSync(dataDir)) {
      const file = path.join(dataDir, f);
      if (statSync(file).isFile()) assert.ok(!readFileSync(file).includes(secretBytes), `the secret is in ${f}`);
    }
  });
});
