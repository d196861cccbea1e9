// ML-DSA keys end to end with @aws-sdk/client-kms and the aws CLI. The signatures are checked with @noble/post-quantum's
// public API, and with OpenSSL 3.5 where Node.js has it (Node 24; OpenSSL 3.0 of Node 20 has no ML-DSA).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, DescribeKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand, VerifyCommand } from '@aws-sdk/client-kms';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

const NOBLE = { ML_DSA_44: ml_dsa44, ML_DSA_65: ml_dsa65, ML_DSA_87: ml_dsa87 } as const;
const OID_ARC = { ML_DSA_44: 0x11, ML_DSA_65: 0x12, ML_DSA_87: 0x13 } as const;
const shake = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('shake256', { outputLength: 64 });
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('ML-DSA keys through @aws-sdk/client-kms', () => {
  let server: TestServer;
  let kms: KMSClient;
  before(async () => {
    server = await startServer();
    kms = devClient(server.url);
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
  });

  for (const spec of ['ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87'] as const) {
    it(`${spec}: DescribeKey, GetPublicKey (SPKI with the ML-DSA OID), Sign RAW and EXTERNAL_MU, Verify`, async () => {
      const keyId = (await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
      const md = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      assert.equal(md.KeySpec, spec);
      assert.deepEqual(md.SigningAlgorithms, ['ML_DSA_SHAKE_256']);
      const pub = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
      assert.deepEqual(pub.SigningAlgorithms, ['ML_DSA_SHAKE_256']);
      const spki = Buffer.from(pub.PublicKey!);
      const noble = NOBLE[spec];
      const pk = spki.subarray(spki.length - noble.lengths.publicKey!);
      // SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.3.x } BIT STRING { 00 pk } }
      assert.ok(spki.includes(Buffer.from([0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, OID_ARC[spec], 0x03])));
      const message = Buffer.from(`signed with ${spec}`);
      const raw = await kms.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'ML_DSA_SHAKE_256', MessageType: 'RAW' }));
      assert.equal(raw.Signature!.length, noble.lengths.signature);
      assert.equal(noble.verify(raw.Signature!, message, pk), true);
      // EXTERNAL_MU: μ computed outside from the public key (FIPS 204 §6.2, empty context) gives the same kind of signature.
      const mu = shake(shake(pk), Buffer.from([0, 0]), message);
      const ext = await kms.send(new SignCommand({ KeyId: keyId, Message: mu, SigningAlgorithm: 'ML_DSA_SHAKE_256', MessageType: 'EXTERNAL_MU' }));
      assert.equal(noble.verify(ext.Signature!, message, pk), true);
      let openssl = false;
      try {
        const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
        openssl = true;
        assert.equal(verify(null, message, key, raw.Signature!), true);
        assert.equal(verify(null, message, key, ext.Signature!), true);
      } catch (e) {
        if (openssl) throw e; // OpenSSL 3.0 (Node 20) cannot read the key: checked by noble above only
      }
      const ok = await kms.send(new VerifyCommand({ KeyId: keyId, Message: mu, MessageType: 'EXTERNAL_MU', Signature: raw.Signature, SigningAlgorithm: 'ML_DSA_SHAKE_256' }));
      assert.equal(ok.SignatureValid, true);
      await kms.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: ext.Signature, SigningAlgorithm: 'ML_DSA_SHAKE_256' }));
      const bad = Buffer.from(raw.Signature!);
      bad[7]! ^= 1;
      await assert.rejects(kms.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: bad, SigningAlgorithm: 'ML_DSA_SHAKE_256' })), { name: 'KMSInvalidSignatureException' });
    });
  }

  it('refuses DIGEST, a μ of the wrong size, long RAW messages, other algorithms and usages', async () => {
    const keyId = (await kms.send(new CreateKeyCommand({ KeySpec: 'ML_DSA_44', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    const signing = (Message: Uint8Array, MessageType: 'RAW' | 'DIGEST' | 'EXTERNAL_MU', alg = 'ML_DSA_SHAKE_256') =>
      kms.send(new SignCommand({ KeyId: keyId, Message, MessageType, SigningAlgorithm: alg as 'ML_DSA_SHAKE_256' }));
    await assert.rejects(signing(Buffer.alloc(64), 'DIGEST'), (e: Error) => (assert.equal(e.name, 'ValidationException'), assert.match(e.message, /DIGEST/), true));
    await assert.rejects(signing(Buffer.alloc(63), 'EXTERNAL_MU'), (e: Error) => (assert.equal(e.name, 'ValidationException'), assert.match(e.message, /64 bytes/), true));
    await assert.rejects(signing(Buffer.alloc(4097), 'RAW'), /length less than or equal to 4096/);
    await assert.rejects(signing(Buffer.from('x'), 'RAW', 'ECDSA_SHA_256'), { name: 'InvalidKeyUsageException' });
    await assert.rejects(kms.send(new CreateKeyCommand({ KeySpec: 'ML_DSA_87', KeyUsage: 'ENCRYPT_DECRYPT' })), { name: 'ValidationException' });
    const p256 = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    await assert.rejects(
      kms.send(new SignCommand({ KeyId: p256, Message: Buffer.alloc(64), MessageType: 'EXTERNAL_MU', SigningAlgorithm: 'ECDSA_SHA_256' })),
      { name: 'ValidationException' },
    );
  });

  it('the aws CLI signs with an ML-DSA key', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'trent-mldsa-'));
    try {
      const keyId = (await kms.send(new CreateKeyCommand({ KeySpec: 'ML_DSA_65', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
      writeFileSync(path.join(work, 'msg.bin'), 'signed by the aws CLI with ML-DSA');
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
      Object.assign(env, {
        AWS_ACCESS_KEY_ID: 'AKIACLITEST', AWS_SECRET_ACCESS_KEY: 'cli-test-secret', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_DEFAULT_OUTPUT: 'json', AWS_PAGER: '', AWS_EC2_METADATA_DISABLED: 'true',
      });
      const argv = ['kms', 'sign', '--key-id', keyId, '--message', 'fileb://msg.bin', '--message-type', 'RAW', '--signing-algorithm', 'ML_DSA_SHAKE_256',
        '--endpoint-url', server.url, '--region', 'us-east-1', '--cli-connect-timeout', '5', '--cli-read-timeout', '10'];
      const out = await new Promise<any>((resolve, reject) =>
        execFile('aws', argv, { env, cwd: work, timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout)))));
      assert.equal(out.SigningAlgorithm, 'ML_DSA_SHAKE_256');
      const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
      const pk = Buffer.from(PublicKey!).subarray(-ml_dsa65.lengths.publicKey!);
      assert.equal(ml_dsa65.verify(Buffer.from(out.Signature, 'base64'), Buffer.from('signed by the aws CLI with ML-DSA'), pk), true);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
