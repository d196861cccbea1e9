// Multi-Region keys on two Trent nodes sharing one PostgreSQL database (issue #13): a new replica, a change of primary
// and a rotation made on one node are seen by the other within the coherence bound (LISTEN/NOTIFY; docs/postgresql.md).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient, ReplicateKeyCommand, RotateKeyOnDemandCommand,
  UpdatePrimaryRegionCommand,
} from '@aws-sdk/client-kms';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { errorName, within } from '../helpers/poll.js';

const skip = postgresSkipReason();
const env = { TRENT_ROOT_KEY_PASSPHRASE: 'one passphrase for every node' };
/** The notification path, far inside the 30 s cache bound; plus the replica's Creating time (200 ms here). */
const BOUND_MS = 3_000;

interface Node {
  readonly server: TestServer;
  readonly east: KMSClient;
  readonly west: KMSClient;
}

async function startNode(url: string): Promise<Node> {
  const server = await startServer({ env, args: ['--store', url, '--request-log', 'off', '--multi-region-transition-ms', '200'] });
  return { server, east: devClient(server.url, { region: 'us-east-1' }), west: devClient(server.url, { region: 'us-west-2' }) };
}

describe('multi-Region keys on two PostgreSQL nodes', { skip }, () => {
  let a: Node;
  let b: Node;
  const measured: Record<string, number> = {};
  before(async () => {
    const url = await (await postgresCluster()).createDatabase();
    a = await startNode(url);
    b = await startNode(url);
  });
  after(async () => {
    for (const n of [a, b]) {
      n?.east.destroy();
      n?.west.destroy();
      await n?.server.stop();
    }
    process.stderr.write(`multi-Region on two nodes, measured (ms): ${JSON.stringify(measured)}\n`);
  });

  const describeOn = async (c: KMSClient, keyId: string) => (await c.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;

  it('a replica made on A, a change of primary on A and a rotation on A are seen by B', async () => {
    const primary = (await a.east.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!;
    // B knows the primary (cached) and does not know the replica yet.
    assert.equal((await describeOn(b.east, primary.KeyId!)).MultiRegionConfiguration!.ReplicaKeys!.length, 0);
    assert.equal(await errorName(b.west.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))), 'NotFoundException');

    await a.east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }));
    measured.replica = await within(BOUND_MS, 'B sees the replica Enabled', async () => {
      const md = await b.west.send(new DescribeKeyCommand({ KeyId: primary.KeyId })).then((r) => r.KeyMetadata!, () => undefined);
      return md?.KeyState === 'Enabled';
    });
    const blob = (await b.west.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('from B, us-west-2') }))).CiphertextBlob!;
    assert.equal(Buffer.from((await a.east.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'from B, us-west-2');

    // B has both keys cached; A changes the primary.
    await describeOn(b.east, primary.KeyId!);
    await a.east.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'us-west-2' }));
    measured.primary = await within(BOUND_MS, 'B sees the new primary on both keys', async () => {
      const [e, w] = [await describeOn(b.east, primary.KeyId!), await describeOn(b.west, primary.KeyId!)];
      return e.MultiRegionConfiguration!.MultiRegionKeyType === 'REPLICA' && w.MultiRegionConfiguration!.MultiRegionKeyType === 'PRIMARY';
    });
    await within(BOUND_MS, 'the Updating state ends', async () => (await describeOn(b.east, primary.KeyId!)).KeyState === 'Enabled');

    // A rotates on the new primary (us-west-2); B's us-east-1 key, warm, encrypts under the new material.
    await b.east.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('warm') }));
    const before = (await describeOn(a.west, primary.KeyId!)).CurrentKeyMaterialId;
    await a.west.send(new RotateKeyOnDemandCommand({ KeyId: primary.KeyId }));
    const after = (await describeOn(a.west, primary.KeyId!)).CurrentKeyMaterialId;
    assert.notEqual(after, before);
    measured.rotation = await within(BOUND_MS, 'B encrypts under the new material in us-east-1', async () => {
      const { CiphertextBlob } = await b.east.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('x') }));
      return (await b.east.send(new DecryptCommand({ CiphertextBlob }))).KeyMaterialId === after;
    });
    const rotatedBlob = (await b.east.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('rotated') }))).CiphertextBlob!;
    assert.equal(Buffer.from((await a.west.send(new DecryptCommand({ CiphertextBlob: rotatedBlob }))).Plaintext!).toString(), 'rotated');
  });
});
