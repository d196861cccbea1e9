// The AWS Encryption SDK for JavaScript (@aws-crypto/client-node) with KMS keyrings whose clients point at Trent:
// the SDK calls GenerateDataKey, Encrypt (for further keys of a multi-key keyring) and Decrypt.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateKeyCommand, DescribeKeyCommand, KMS, ReplicateKeyCommand } from '@aws-sdk/client-kms';
import {
  buildAwsKmsMrkAwareDiscoveryMultiKeyringNode, buildAwsKmsMrkAwareStrictMultiKeyringNode, buildClient, CommitmentPolicy, getClient, KmsKeyringNode,
} from '@aws-crypto/client-node';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

const { encrypt, decrypt, encryptStream, decryptUnsignedMessageStream, decryptStream } = buildClient(
  CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
);

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

describe('AWS Encryption SDK for JavaScript with KMS keyrings on Trent', () => {
  let server: TestServer;
  let keyA: string;
  let keyB: string;
  const clients: KMS[] = [];
  /** What an application writes: a client supplier that builds SDK clients pointed at Trent. */
  let clientProvider: (region: string) => KMS;

  before(async () => {
    server = await startServer({ args: ['--multi-region-transition-ms', '100'] });
    const admin = devClient(server.url);
    keyA = (await admin.send(new CreateKeyCommand({ Description: 'esdk A' }))).KeyMetadata!.Arn!;
    keyB = (await admin.send(new CreateKeyCommand({ Description: 'esdk B' }))).KeyMetadata!.Arn!;
    admin.destroy();
    const supplier = getClient(KMS, {
      endpoint: server.url,
      credentials: { accessKeyId: 'AKIAESDKTEST', secretAccessKey: 'esdk-secret' },
      maxAttempts: 1,
    });
    clientProvider = (region: string) => {
      const client = supplier(region) as KMS;
      clients.push(client);
      return client;
    };
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await server?.stop();
  });

  it('encrypts a 1 MiB buffer and decrypts it back with its encryption context', async () => {
    const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: keyA });
    const plaintext = randomBytes(1024 * 1024);
    const context = { stage: 'test', purpose: 'esdk-e2e' };
    const { result, messageHeader } = await encrypt(keyring, plaintext, { encryptionContext: context });
    assert.equal(messageHeader.encryptedDataKeys.length, 1);
    assert.equal(messageHeader.encryptedDataKeys[0]!.providerId, 'aws-kms');
    assert.equal(messageHeader.encryptedDataKeys[0]!.providerInfo, keyA);
    assert.equal(result.includes(plaintext.subarray(0, 64)), false);

    const out = await decrypt(keyring, result);
    assert.ok(out.plaintext.equals(plaintext));
    // The SDK adds its own aws-crypto-public-key entry (signed suite); ours come back as given.
    assert.equal(out.messageHeader.encryptionContext.stage, 'test');
    assert.equal(out.messageHeader.encryptionContext.purpose, 'esdk-e2e');
    assert.equal(out.messageHeader.encryptedDataKeys[0]!.providerInfo, keyA);
  });

  it('encrypts and decrypts a stream', async () => {
    const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: keyA });
    const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(7_000 + i));
    const plaintext = Buffer.concat(chunks);
    const encrypted: Buffer[] = [];
    await pipeline(
      Readable.from(chunks),
      encryptStream(keyring, { encryptionContext: { file: 'stream.bin' }, frameLength: 4096 }),
      async function* (source) {
        for await (const c of source) encrypted.push(Buffer.from(c as Buffer));
      },
    );
    const blob = Buffer.concat(encrypted);

    const decrypting = decryptStream(keyring);
    let header: { encryptionContext: Record<string, string> } | undefined;
    decrypting.once('MessageHeader', (h) => (header = h));
    const roundTrip = await collect(Readable.from([blob.subarray(0, 1000), blob.subarray(1000)]).pipe(decrypting));
    assert.ok(roundTrip.equals(plaintext));
    assert.equal(header?.encryptionContext.file, 'stream.bin');
  });

  it('streams an unsigned-suite message through decryptUnsignedMessageStream', async () => {
    const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: keyB });
    const plaintext = randomBytes(100_000);
    const { result } = await encrypt(keyring, plaintext, {
      encryptionContext: { unsigned: 'yes' },
      // AES-256-GCM, HKDF-SHA512, key commitment, no signature.
      suiteId: 0x0478,
    });
    const out = await collect(Readable.from([result]).pipe(decryptUnsignedMessageStream(keyring)));
    assert.ok(out.equals(plaintext));
  });

  it('wraps the data key under two Trent keys; either key alone decrypts', async () => {
    const both = new KmsKeyringNode({ clientProvider, generatorKeyId: keyA, keyIds: [keyB] });
    const plaintext = Buffer.from('shared between two keys');
    const { result, messageHeader } = await encrypt(both, plaintext, { encryptionContext: { multi: 'true' } });
    assert.deepEqual(
      messageHeader.encryptedDataKeys.map((k) => k.providerInfo),
      [keyA, keyB],
    );
    for (const only of [keyA, keyB]) {
      const out = await decrypt(new KmsKeyringNode({ clientProvider, keyIds: [only] }), result);
      assert.ok(out.plaintext.equals(plaintext), `decrypt with ${only} only`);
      assert.equal(out.messageHeader.encryptionContext.multi, 'true');
    }
  });

  it('decrypts with a discovery keyring (the key ARN comes from the message)', async () => {
    const { result } = await encrypt(new KmsKeyringNode({ clientProvider, generatorKeyId: keyB }), Buffer.from('found by discovery'));
    const out = await decrypt(new KmsKeyringNode({ clientProvider, discovery: true }), result);
    assert.equal(out.plaintext.toString(), 'found by discovery');
  });

  it('multi-Region: the MRK-aware keyring encrypts under the us-east-1 primary and decrypts with the us-west-2 replica', async () => {
    const east = devClient(server.url, { region: 'us-east-1' });
    const west = devClient(server.url, { region: 'us-west-2' });
    try {
      const primary = (await east.send(new CreateKeyCommand({ MultiRegion: true, Description: 'esdk mrk' }))).KeyMetadata!;
      const replica = (await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }))).ReplicaKeyMetadata!;
      for (let i = 0; i < 2000 && (await west.send(new DescribeKeyCommand({ KeyId: replica.Arn }))).KeyMetadata!.KeyState !== 'Enabled'; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const plaintext = randomBytes(10_000);
      const { result, messageHeader } = await encrypt(buildAwsKmsMrkAwareStrictMultiKeyringNode({ clientProvider, generatorKeyId: primary.Arn }), plaintext, {
        encryptionContext: { site: 'east' },
      });
      assert.equal(messageHeader.encryptedDataKeys[0]!.providerInfo, primary.Arn);
      // The replica's ARN alone: the keyring calls Decrypt in us-west-2 with it, on a data key wrapped in us-east-1.
      const out = await decrypt(buildAwsKmsMrkAwareStrictMultiKeyringNode({ clientProvider, keyIds: [replica.Arn!] }), result);
      assert.ok(out.plaintext.equals(plaintext));
      assert.equal(out.messageHeader.encryptionContext.site, 'east');
      // And MRK-aware discovery in us-west-2 finds the replica from the primary's ARN in the message.
      const found = await decrypt(buildAwsKmsMrkAwareDiscoveryMultiKeyringNode({ clientProvider, regions: ['us-west-2'] }), result);
      assert.ok(found.plaintext.equals(plaintext));
    } finally {
      east.destroy();
      west.destroy();
    }
  });

  it('refuses a message when the keyring holds none of its keys', async () => {
    const { result } = await encrypt(new KmsKeyringNode({ clientProvider, generatorKeyId: keyA }), Buffer.from('x'));
    // The SDK skips data keys of other KMS keys, so no data key is ever unwrapped.
    await assert.rejects(decrypt(new KmsKeyringNode({ clientProvider, keyIds: [keyB] }), result), /unencryptedDataKey has not been set/);
  });
});
