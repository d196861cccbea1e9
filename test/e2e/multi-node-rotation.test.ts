// Rotation on several Trent nodes on one PostgreSQL database (issue #3's list: "rotation on A, B decrypts both
// generations"): a key rotated on node A is used with its new material by node B within the coherence bound, and B
// still decrypts what either node encrypted before. Also: exactly one node runs automatic rotation.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient, ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { within } from '../helpers/poll.js';

const skip = postgresSkipReason();
const env = { TRENT_ROOT_KEY_PASSPHRASE: 'one passphrase for every node' };
/** What the notification path is held to (multi-node.test.ts states the same bound), far inside the 30 s cache expiry. */
const NOTIFY_BOUND_MS = 1_000;

interface Node {
  readonly server: TestServer;
  readonly kms: KMSClient;
}

describe('rotation on several Trent nodes on one PostgreSQL database', { skip }, () => {
  let a: Node;
  let b: Node;
  before(async () => {
    const url = await (await postgresCluster()).createDatabase();
    const start = async () => {
      const server = await startServer({ env, args: ['--store', url, '--request-log', 'off'] });
      return { server, kms: devClient(server.url) };
    };
    a = await start(); // the first node migrates and writes the root key check
    b = await start();
  });
  after(async () => {
    for (const n of [a, b]) {
      n?.kms.destroy();
      await n?.server.stop();
    }
  });

  it('rotation on A: B encrypts with the new material at once and decrypts both generations', async () => {
    const key = (await a.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const first = key.CurrentKeyMaterialId!;
    // B caches the key and its first material.
    const oldOnB = await b.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('gen 1 (B)') }));
    const oldOnA = await a.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('gen 1 (A)') }));
    assert.equal((await b.kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }))).KeyMaterialId, first);

    await a.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
    const second = (await a.kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.CurrentKeyMaterialId!;
    assert.notEqual(second, first);

    const took = await within(NOTIFY_BOUND_MS, 'B uses the new material', async () =>
      (await b.kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }))).KeyMaterialId === second);
    process.stderr.write(`multi-node rotation: B used the new material after ${took.toFixed(1)} ms\n`);
    const newOnB = await b.kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('gen 2 (B)') }));
    assert.equal((await b.kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.CurrentKeyMaterialId, second);

    for (const [blob, text, material] of [[oldOnB, 'gen 1 (B)', first], [oldOnA, 'gen 1 (A)', first], [newOnB, 'gen 2 (B)', second]] as const) {
      for (const node of [b, a]) {
        const dec = await node.kms.send(new DecryptCommand({ CiphertextBlob: blob.CiphertextBlob }));
        assert.equal(Buffer.from(dec.Plaintext!).toString(), text);
        assert.equal(dec.KeyMaterialId, material, 'the blob names the material it was made with');
      }
    }
    const rotations = (await b.kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }))).Rotations!;
    assert.deepEqual(rotations.map((r) => [r.KeyMaterialId, r.RotationType]), [[second, 'ON_DEMAND']]);
  });

  it('one node runs automatic rotation', async () => {
    const lines = (n: Node) => n.server.stderr().split('\n').filter((l) => l.includes('this node now runs automatic key rotation'));
    await within(10_000, 'a node takes the rotation lease', async () => lines(a).length + lines(b).length > 0);
    assert.equal(lines(a).length + lines(b).length, 1, 'exactly one node holds the rotation job');
  });
});
