// Authentication end to end: a real Trent process, the real SDK and AWS CLI, credentials from the file Trent writes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient, NotFoundException } from '@aws-sdk/client-kms';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);

/** Reads one profile of an AWS shared-credentials file. */
function readProfile(file: string, profile: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current = '';
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const section = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (section) current = section[1]!;
    const kv = /^\s*([\w-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (kv && current === profile) out[kv[1]!] = kv[2]!;
  }
  return out;
}

const client = (url: string, accessKeyId: string, secretAccessKey: string, extra: Partial<ConstructorParameters<typeof KMSClient>[0]> = {}) =>
  new KMSClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1, ...extra });

const failsWith = (name: string, message?: string | RegExp) => (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
  assert.equal(err.name, name, err.message);
  if (typeof message === 'string') assert.equal(err.message, message);
  else if (message) assert.match(err.message, message);
  return true;
};

describe('SigV4 authentication (non-dev server)', () => {
  let server: TestServer;
  let credentialsFile: string;
  let creds: Record<string, string>;
  let kms: KMSClient;
  let keyId: string;
  before(async () => {
    server = await startServer({ dev: false });
    credentialsFile = path.join(server.dataDir, 'credentials');
    creds = readProfile(credentialsFile, 'trent');
    kms = client(server.url, creds.aws_access_key_id!, creds.aws_secret_access_key!);
    keyId = (await kms.send(new CreateKeyCommand({ Description: 'auth e2e' }))).KeyMetadata!.KeyId!;
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
  });

  it('writes the administrator credential to <dataDir>/credentials, mode 0600, profile trent', () => {
    assert.equal(statSync(credentialsFile).mode & 0o777, 0o600);
    assert.match(creds.aws_access_key_id!, /^AKIA[A-Z2-7]{16}$/);
    assert.ok(creds.aws_secret_access_key!.length >= 40);
    assert.equal(creds.region, 'us-east-1');
    assert.ok(!server.stderr().includes(creds.aws_secret_access_key!), 'the secret is not printed');
    assert.ok(!server.stdout().includes(creds.aws_secret_access_key!), 'the secret is not in the request log');
  });

  it('accepts the SDK signing with those credentials, as the default account', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('signed') }));
    assert.equal(enc.KeyId, `arn:aws:kms:us-east-1:111122223333:key/${keyId}`);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'signed');
  });

  it('answers InvalidSignatureException to a wrong secret', async () => {
    const bad = client(server.url, creds.aws_access_key_id!, `${creds.aws_secret_access_key!.slice(0, -2)}xx`);
    await assert.rejects(
      bad.send(new DescribeKeyCommand({ KeyId: keyId })),
      failsWith(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      ),
    );
    bad.destroy();
  });

  it('answers UnrecognizedClientException to an unknown access key id', async () => {
    const unknown = client(server.url, 'AKIAIOSFODNN7EXAMPLE', creds.aws_secret_access_key!);
    await assert.rejects(unknown.send(new DescribeKeyCommand({ KeyId: keyId })), failsWith('UnrecognizedClientException', 'The security token included in the request is invalid.'));
    unknown.destroy();
  });

  it('answers InvalidSignatureException "Signature expired" to a client whose clock is 10 minutes slow', async () => {
    const slow = client(server.url, creds.aws_access_key_id!, creds.aws_secret_access_key!, { systemClockOffset: -10 * 60_000 });
    await assert.rejects(slow.send(new DescribeKeyCommand({ KeyId: keyId })), failsWith('InvalidSignatureException', /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/));
    slow.destroy();
  });

  it('answers 403 MissingAuthenticationTokenException to an unsigned request', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.DescribeKey' },
      body: JSON.stringify({ KeyId: keyId }),
    });
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  });

  it('works with the AWS CLI and the shared credentials file', async () => {
    const { stdout } = await run(
      'aws',
      ['kms', 'describe-key', '--key-id', keyId, '--endpoint-url', server.url, '--region', 'us-east-1', '--output', 'json',
        '--cli-connect-timeout', '5', '--cli-read-timeout', '10'],
      {
        env: {
          PATH: process.env.PATH, HOME: process.env.HOME,
          AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_PROFILE: 'trent', AWS_CONFIG_FILE: path.join(server.dataDir, 'no-config'),
        },
        timeout: 30_000,
      },
    );
    const md = JSON.parse(stdout).KeyMetadata;
    assert.equal(md.KeyId, keyId);
    assert.equal(md.Arn, `arn:aws:kms:us-east-1:111122223333:key/${keyId}`);
  });
});

describe('dev mode identities', () => {
  let server: TestServer;
  let a: KMSClient;
  let b: KMSClient;
  let keyArn: string;
  before(async () => {
    server = await startServer({ dev: true });
    a = devClient(server.url, { accessKeyId: '111111111111' });
    b = devClient(server.url, { accessKeyId: '222222222222' });
    keyArn = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  });
  after(async () => {
    a?.destroy();
    b?.destroy();
    await server?.stop();
  });

  it('selects the account from a 12-digit access key id', () => {
    assert.match(keyArn, /^arn:aws:kms:us-east-1:111111111111:key\/[0-9a-f-]{36}$/);
  });

  it("denies another account's use of a key by ARN with AWS's AccessDeniedException", async () => {
    await assert.rejects(
      b.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })),
      failsWith(
        'AccessDeniedException',
        `User: arn:aws:iam::222222222222:root is not authorized to perform: kms:Encrypt on resource: ${keyArn} because no resource-based policy allows the kms:Encrypt action`,
      ),
    );
  });

  it("does not find another account's key by bare key id", async () => {
    const id = keyArn.split('/')[1]!;
    await assert.rejects(b.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), NotFoundException);
  });

  it('keeps keys in their region: a us-east-1 key is not found from us-west-2', async () => {
    const west = devClient(server.url, { accessKeyId: '111111111111', region: 'us-west-2' });
    await assert.rejects(west.send(new DescribeKeyCommand({ KeyId: keyArn.split('/')[1]! })), NotFoundException);
    west.destroy();
  });

  it('uses the default account for any other access key id, and for unsigned requests', async () => {
    const other = devClient(server.url, { accessKeyId: 'AKIAANYTHING' });
    const md = (await other.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.match(md.Arn!, /:111122223333:key\//);
    other.destroy();
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.DescribeKey' },
      body: JSON.stringify({ KeyId: md.KeyId }),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { KeyMetadata: { Arn: string } }).KeyMetadata.Arn, md.Arn);
  });
});
