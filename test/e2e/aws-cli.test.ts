// Smoke flows with the real `aws` CLI (installed on the machine). Each call starts a Python interpreter
// (about half a second), so this file keeps to a handful of calls; @aws-sdk/client-kms covers the breadth.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from '../helpers/server.js';

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('the aws CLI against Trent', () => {
  let server: TestServer;
  let work: string;
  let keyId: string;
  let keyArn: string;
  /** What the CLI uses as --key-id for Encrypt: alias/app once CreateAlias worked. */
  let encryptKeyId: string;

  const aws = (...args: string[]): Promise<CliResult> => awsIn('us-east-1', ...args);
  const awsIn = (region: string, ...args: string[]): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
      Object.assign(env, {
        AWS_ACCESS_KEY_ID: 'AKIACLITEST',
        AWS_SECRET_ACCESS_KEY: 'cli-test-secret',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_DEFAULT_OUTPUT: 'json',
        AWS_PAGER: '',
        AWS_EC2_METADATA_DISABLED: 'true',
      });
      const argv = ['kms', ...args, '--endpoint-url', server.url, '--region', region, '--cli-connect-timeout', '5', '--cli-read-timeout', '10'];
      execFile('aws', argv, { env, cwd: work, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(new Error(`cannot run the aws CLI (${err.message}); it must be installed on the machine`));
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      });
    });
  const ok = async (...args: string[]): Promise<any> => okIn('us-east-1', ...args);
  const okIn = async (region: string, ...args: string[]): Promise<any> => {
    const r = await awsIn(region, ...args);
    assert.equal(r.code, 0, `aws kms ${args[0]} failed (exit ${r.code}):\n${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : {};
  };

  before(async () => {
    server = await startServer({ args: ['--multi-region-transition-ms', '100'] });
    work = mkdtempSync(path.join(tmpdir(), 'trent-cli-'));
  });
  after(async () => {
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('creates a key', async () => {
    const out = await ok('create-key', '--description', 'from the aws CLI');
    keyId = out.KeyMetadata.KeyId;
    keyArn = out.KeyMetadata.Arn;
    assert.equal(out.KeyMetadata.KeyState, 'Enabled');
    assert.equal(out.KeyMetadata.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(keyArn, `arn:aws:kms:us-east-1:111122223333:key/${keyId}`);
    encryptKeyId = keyId;
  });

  it('creates alias/app for it', async () => {
    const r = await aws('create-alias', '--alias-name', 'alias/app', '--target-key-id', keyId);
    assert.equal(r.code, 0, `aws kms create-alias failed (exit ${r.code}):\n${r.stderr}`);
    encryptKeyId = 'alias/app';
  });

  it('encrypts a file with fileb:// and decrypts the blob without --key-id', async () => {
    const secret = 'the launch code is 0000\n';
    writeFileSync(path.join(work, 'secret.txt'), secret);
    const enc = await ok('encrypt', '--key-id', encryptKeyId, '--plaintext', 'fileb://secret.txt', '--encryption-context', 'app=cli,stage=test');
    assert.equal(enc.KeyId, keyArn);
    assert.equal(enc.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    writeFileSync(path.join(work, 'blob'), Buffer.from(enc.CiphertextBlob, 'base64'));

    const dec = await ok('decrypt', '--ciphertext-blob', 'fileb://blob', '--encryption-context', 'stage=test,app=cli');
    assert.equal(dec.KeyId, keyArn);
    assert.equal(Buffer.from(dec.Plaintext, 'base64').toString(), secret);

    // --output text --query Plaintext gives base64 that decodes to the file, as in AWS's documentation.
    const text = await aws('decrypt', '--ciphertext-blob', 'fileb://blob', '--encryption-context', 'app=cli,stage=test', '--output', 'text', '--query', 'Plaintext');
    assert.equal(text.code, 0, text.stderr);
    assert.equal(Buffer.from(text.stdout.trim(), 'base64').toString(), secret);
  });

  it('reports InvalidCiphertextException when the encryption context differs', async () => {
    const r = await aws('decrypt', '--ciphertext-blob', 'fileb://blob', '--encryption-context', 'app=other,stage=test');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /InvalidCiphertextException/);
  });

  it('generates a data key whose encrypted copy decrypts to the plaintext copy', async () => {
    const dk = await ok('generate-data-key', '--key-id', encryptKeyId, '--key-spec', 'AES_256');
    const plain = Buffer.from(dk.Plaintext, 'base64');
    assert.equal(plain.length, 32);
    assert.equal(dk.KeyId, keyArn);
    writeFileSync(path.join(work, 'datakey.blob'), Buffer.from(dk.CiphertextBlob, 'base64'));
    const dec = await ok('decrypt', '--ciphertext-blob', 'fileb://datakey.blob');
    assert.deepEqual(Buffer.from(dec.Plaintext, 'base64'), plain);
    assert.equal(readFileSync(path.join(work, 'datakey.blob')).includes(plain), false);
  });

  it('multi-Region: create-key --multi-region, replicate-key, decrypt in the replica Region, update-primary-region', async () => {
    const created = await ok('create-key', '--multi-region', '--description', 'mrk from the aws CLI');
    const mrk = created.KeyMetadata.KeyId as string;
    assert.match(mrk, /^mrk-[0-9a-f]{32}$/);
    assert.equal(created.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType, 'PRIMARY');
    const replicated = await ok('replicate-key', '--key-id', mrk, '--replica-region', 'us-west-2');
    assert.equal(replicated.ReplicaKeyMetadata.KeyState, 'Creating');
    assert.equal(replicated.ReplicaKeyMetadata.Arn, `arn:aws:kms:us-west-2:111122223333:key/${mrk}`);
    writeFileSync(path.join(work, 'mrk.txt'), 'across Regions');
    const enc = await ok('encrypt', '--key-id', mrk, '--plaintext', 'fileb://mrk.txt');
    writeFileSync(path.join(work, 'mrk.blob'), Buffer.from(enc.CiphertextBlob, 'base64'));
    // The replica leaves Creating 100 ms after replicate-key (usually before this first look).
    for (let i = 0; i < 20 && (await okIn('us-west-2', 'describe-key', '--key-id', mrk)).KeyMetadata.KeyState !== 'Enabled'; i++);
    const dec = await okIn('us-west-2', 'decrypt', '--ciphertext-blob', 'fileb://mrk.blob');
    assert.equal(Buffer.from(dec.Plaintext, 'base64').toString(), 'across Regions');
    assert.equal(dec.KeyId, `arn:aws:kms:us-west-2:111122223333:key/${mrk}`);
    await ok('update-primary-region', '--key-id', mrk, '--primary-region', 'us-west-2');
    const described = await okIn('us-west-2', 'describe-key', '--key-id', mrk);
    assert.equal(described.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType, 'PRIMARY');
  });
});
