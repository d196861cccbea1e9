// An HSM key store shared by two Trent nodes on one PostgreSQL database and one SoftHSM2 token: a store connected
// through one node is usable through the other (which opens the token itself), and a disconnect through either makes
// its keys refuse on both, well inside the cache-coherence bound (LISTEN/NOTIFY).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConnectCustomKeyStoreCommand, CreateCustomKeyStoreCommand, CreateKeyCommand, DecryptCommand, DescribeCustomKeyStoresCommand,
  DisconnectCustomKeyStoreCommand, EncryptCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { softHsm, softhsmSkip } from '../helpers/softhsm.js';
import { errorName, within } from '../helpers/poll.js';

const skip = softhsmSkip ?? postgresSkipReason();

describe('HSM key store on two nodes (PostgreSQL, SoftHSM2)', { skip }, () => {
  const servers: TestServer[] = [];
  const clients: KMSClient[] = [];
  let dir: string;
  let a: KMSClient;
  let b: KMSClient;

  before(async () => {
    const hsm = softHsm();
    const token = hsm.initToken();
    dir = mkdtempSync(path.join(tmpdir(), 'trent-hsm-multi-'));
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k'), '-out', path.join(dir, 'c'), '-days', '1', '-subj', '/CN=t'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const url = await (await postgresCluster()).createDatabase();
    const env = {
      TRENT_ROOT_KEY_PASSPHRASE: 'one passphrase for every node', SOFTHSM2_CONF: hsm.conf,
      TRENT_HSM_CLUSTERS: JSON.stringify([{ clusterId: 'cluster-multinodehsm', modulePath: hsm.module, tokenLabel: token.label }]),
    };
    servers.push(await startServer({ env, args: ['--store', url, '--request-log', 'off'] }));
    servers.push(await startServer({ env, args: ['--store', url, '--request-log', 'off'] }));
    [a, b] = servers.map((s) => devClient(s.url)) as [KMSClient, KMSClient];
    clients.push(a, b);
    const { CustomKeyStoreId } = await a.send(new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: 'shared', CloudHsmClusterId: 'cluster-multinodehsm', TrustAnchorCertificate: readFileSync(path.join(dir, 'c'), 'utf8'), KeyStorePassword: token.pin,
    }));
    storeId = CustomKeyStoreId!;
  });
  after(async () => {
    for (const c of clients) c.destroy();
    for (const s of servers) await s.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  let storeId: string;

  it('connected through A, usable through B; disconnected through B, refused on A', async () => {
    await a.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    assert.equal((await b.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: storeId }))).CustomKeyStores![0]!.ConnectionState, 'CONNECTED');
    const keyId = (await b.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: storeId }))).KeyMetadata!.KeyId!;
    const enc = await a.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('two nodes, one token') }));
    assert.equal(Buffer.from((await b.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString(), 'two nodes, one token');

    await b.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await within(5_000, 'node A refuses the key of the disconnected store', async () =>
      (await errorName(a.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))) === 'KMSInvalidStateException');
    assert.equal(await errorName(b.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))), 'KMSInvalidStateException');

    await a.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
    await within(5_000, 'node B uses the key again', async () => (await errorName(b.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))) === undefined);
  });
});
