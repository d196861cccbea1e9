import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

interface Line {
  type: string; requestId: string; operation: string; keyArn?: string; principal?: string; sourceIp: string;
  outcome: string; errorCode?: string; status: number;
}

describe('request log', () => {
  let server: TestServer;
  let kms: KMSClient;
  before(async () => {
    server = await startServer();
    kms = devClient(server.url, { accessKeyId: '444455556666' });
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
  });

  it('writes one JSON line per request with id, operation, key, principal, source and outcome, and no secrets', async () => {
    const secret = 'correct horse battery staple';
    const key = await kms.send(new CreateKeyCommand({}));
    const arn = key.KeyMetadata!.Arn!;
    const enc = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from(secret), EncryptionContext: { who: 'me' } }));
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })));
    await new Promise((r) => setTimeout(r, 100));
    const lines = server.stdout().trim().split('\n').map((l) => JSON.parse(l) as Line);
    assert.equal(lines.length, 4);
    assert.deepEqual(lines.map((l) => l.operation), ['CreateKey', 'Encrypt', 'GenerateDataKey', 'Decrypt']);
    for (const l of lines) {
      assert.equal(l.type, 'request');
      assert.match(l.requestId, /^[0-9a-f-]{36}$/);
      assert.equal(l.keyArn, arn);
      assert.equal(l.principal, 'arn:aws:iam::444455556666:root');
      assert.equal(l.sourceIp.replace('::ffff:', ''), '127.0.0.1');
    }
    assert.equal(lines[1]!.outcome, 'success');
    assert.equal(lines[3]!.outcome, 'failure');
    assert.equal(lines[3]!.errorCode, 'InvalidCiphertextException');
    const all = server.stdout() + server.stderr();
    for (const needle of [
      secret,
      Buffer.from(secret).toString('base64'),
      Buffer.from(enc.CiphertextBlob!).toString('base64'),
      Buffer.from(dk.Plaintext!).toString('base64'),
      Buffer.from(dk.Plaintext!).toString('hex'),
    ]) {
      assert.equal(all.includes(needle), false, 'a secret or ciphertext reached the log');
    }
  });
});
