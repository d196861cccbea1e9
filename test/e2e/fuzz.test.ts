// A bounded fuzz run in npm test (`npm run fuzz` runs a long one): 3,000 requests generated from the KMS model
// (well-formed, broken in one member, or not JSON at all) against a dev-mode server. Every answer is AWS JSON 1.1 —
// a modelled exception or a result, with a request id — none is a server fault or shows a stack trace, the server logs
// no internal error, and it still encrypts and decrypts afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { runFuzz, seedContext } from '../fuzz/run.js';

// A fixed seed: a failure here is reproduced with `npm run fuzz -- --count 3000 --seed 1212`.
const SEED = 1212;

describe('fuzzed requests', () => {
  let server: TestServer;
  let kms: KMSClient;
  before(async () => {
    server = await startServer({ dev: true, args: ['--request-log', 'off'] });
    kms = devClient(server.url);
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
  });

  it('answers 3,000 generated requests as AWS JSON, without a server fault, and keeps serving', async () => {
    const ctx = await seedContext(server.url);
    const result = await runFuzz({ url: server.url, count: 3000, seed: SEED }, ctx);
    assert.deepEqual(result.violations, []);
    assert.equal(result.sent, 3000);
    // The run reached the operations, not only validation: some requests succeeded.
    assert.ok((result.outcomes.get('200') ?? 0) > 100, JSON.stringify([...result.outcomes]));
    const errors = server.stderr().split('\n').filter((l) => l.includes('"level":"error"'));
    assert.deepEqual(errors, []);
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('still here') }));
    const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }));
    assert.equal(Buffer.from(Plaintext!).toString(), 'still here');
  });
});
