// Condition keys that need more than the request body, end to end through the SDK (dev mode): the key's aliases and
// tags (looked up only when a policy asks), request tags, ReEncryptTo, rotation and deletion windows, policy
// variables, aws:SecureTransport on plain HTTP and on TLS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DeleteAliasCommand, EnableKeyRotationCommand, EncryptCommand, KMSClient, PutKeyPolicyCommand,
  ReEncryptCommand, ScheduleKeyDeletionCommand, TagResourceCommand, UntagResourceCommand, UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { errorName } from '../helpers/poll.js';

const A = '111122223333';
const ROOT = `arn:aws:iam::${A}:root`;

// key-policy-default.html, "Allows key administrators to administer the KMS key": management, not use.
const keyAdministrators = {
  Sid: 'Allow access for Key Administrators',
  Effect: 'Allow',
  Principal: { AWS: ROOT },
  Action: [
    'kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*',
    'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion', 'kms:RotateKeyOnDemand',
  ],
  Resource: '*',
};
const everything = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' };
const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

describe('condition keys (dev mode, plain HTTP)', () => {
  let server: TestServer;
  let kms: KMSClient;
  before(async () => {
    server = await startServer({ dev: true });
    kms = devClient(server.url, { accessKeyId: A });
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
  });

  const newKey = async (p: string): Promise<string> => (await kms.send(new CreateKeyCommand({ Policy: p }))).KeyMetadata!.Arn!;
  const encrypt = (keyId: string, ctx?: Record<string, string>) => errorName(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), EncryptionContext: ctx })));

  it('kms:ResourceAliases follows the aliases of the key as they are created, moved and deleted', async () => {
    const arn = await newKey(policy(keyAdministrators, {
      Sid: 'Use through finance aliases', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:Encrypt', Resource: '*',
      Condition: { 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/finance-*' } },
    }));
    assert.equal(await encrypt(arn), 'AccessDeniedException');
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/finance-ledger', TargetKeyId: arn }));
    assert.equal(await encrypt(arn), undefined);
    // Moved to another key: this key has no finance alias any more.
    const other = await newKey(policy(everything));
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/finance-ledger', TargetKeyId: other }));
    assert.equal(await encrypt(arn), 'AccessDeniedException');
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/finance-ledger', TargetKeyId: arn }));
    assert.equal(await encrypt('alias/finance-ledger'), undefined);
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/finance-ledger' }));
    assert.equal(await encrypt(arn), 'AccessDeniedException');
  });

  it('aws:ResourceTag/<key> follows the tags of the key', async () => {
    const arn = await newKey(policy(keyAdministrators, {
      Sid: 'Use for project Alpha', Effect: 'Allow', Principal: { AWS: ROOT }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*',
      Condition: { StringEquals: { 'aws:ResourceTag/Project': 'Alpha' } },
    }));
    assert.equal(await encrypt(arn), 'AccessDeniedException');
    await kms.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'Project', TagValue: 'Alpha' }] }));
    assert.equal(await encrypt(arn), undefined);
    await kms.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'Project', TagValue: 'Beta' }] }));
    assert.equal(await encrypt(arn), 'AccessDeniedException');
    await kms.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'Project', TagValue: 'Alpha' }] }));
    await kms.send(new UntagResourceCommand({ KeyId: arn, TagKeys: ['Project'] }));
    assert.equal(await encrypt(arn), 'AccessDeniedException');
  });

  it('aws:TagKeys and aws:RequestTag/<key> on TagResource and UntagResource', async () => {
    const arn = await newKey(policy(everything, {
      Sid: 'Only the Project and Owner tags, Owner only as a team name', Effect: 'Deny', Principal: { AWS: '*' }, Action: ['kms:TagResource', 'kms:UntagResource'], Resource: '*',
      Condition: { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['Project', 'Owner'] } },
    }, {
      Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:TagResource', Resource: '*', Condition: { StringNotLikeIfExists: { 'aws:RequestTag/Owner': 'team-*' } },
    }));
    await kms.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'Project', TagValue: 'Alpha' }, { TagKey: 'Owner', TagValue: 'team-blue' }] }));
    assert.equal(await errorName(kms.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'CostCenter', TagValue: '1' }] }))), 'AccessDeniedException');
    assert.equal(await errorName(kms.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'Owner', TagValue: 'alice' }] }))), 'AccessDeniedException');
    assert.equal(await errorName(kms.send(new UntagResourceCommand({ KeyId: arn, TagKeys: ['CostCenter'] }))), 'AccessDeniedException');
    await kms.send(new UntagResourceCommand({ KeyId: arn, TagKeys: ['Owner'] }));
  });

  it('ReEncrypt is kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination key', async () => {
    const source = await newKey(policy(everything));
    const onlyFrom = await newKey(policy(keyAdministrators, { Effect: 'Allow', Principal: { AWS: ROOT }, Action: ['kms:Encrypt', 'kms:ReEncryptFrom'], Resource: '*' }));
    const onlyTo = await newKey(policy(keyAdministrators, { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:ReEncryptTo', Resource: '*' }));
    const blob = (await kms.send(new EncryptCommand({ KeyId: source, Plaintext: Buffer.from('move me') }))).CiphertextBlob!;
    await assert.rejects(kms.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: onlyFrom })), (err: Error) => {
      assert.equal(err.name, 'AccessDeniedException');
      assert.match(err.message, /kms:ReEncryptTo on resource/);
      return true;
    });
    const moved = await kms.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: onlyTo }));
    assert.equal(moved.KeyId, onlyTo);
    const fromOnlyFrom = (await kms.send(new EncryptCommand({ KeyId: onlyFrom, Plaintext: Buffer.from('y') }))).CiphertextBlob!;
    assert.equal((await kms.send(new ReEncryptCommand({ CiphertextBlob: fromOnlyFrom, DestinationKeyId: onlyTo }))).KeyId, onlyTo);
  });

  it('kms:RotationPeriodInDays and kms:ScheduleKeyDeletionPendingWindowInDays', async () => {
    const arn = await newKey(policy(everything, {
      Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:EnableKeyRotation', Resource: '*', Condition: { NumericLessThan: { 'kms:RotationPeriodInDays': '180' } },
    }, {
      Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:ScheduleKeyDeletion', Resource: '*', Condition: { NumericLessThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' } },
    }));
    assert.equal(await errorName(kms.send(new EnableKeyRotationCommand({ KeyId: arn, RotationPeriodInDays: 90 }))), 'AccessDeniedException');
    await kms.send(new EnableKeyRotationCommand({ KeyId: arn, RotationPeriodInDays: 365 }));
    assert.equal(await errorName(kms.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }))), 'AccessDeniedException');
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 30 }));
  });

  it('substitutes policy variables in condition values (Version 2012-10-17 only)', async () => {
    const statement = { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${aws:PrincipalAccount}' } } };
    const arn = await newKey(policy(keyAdministrators, statement));
    assert.equal(await encrypt(arn, { tenant: A }), undefined);
    assert.equal(await encrypt(arn, { tenant: '444455556666' }), 'AccessDeniedException');
    // In a 2008-10-17 document the text is literal.
    const literal = JSON.stringify({ Version: '2008-10-17', Statement: [keyAdministrators, statement] });
    const old = await newKey(literal);
    assert.equal(await encrypt(old, { tenant: A }), 'AccessDeniedException');
    assert.equal(await encrypt(old, { tenant: '${aws:PrincipalAccount}' }), undefined);
  });

  it('kms:RequestAlias on Decrypt of an RSA ciphertext is the alias the request names', async () => {
    const arn = (await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT', Policy: policy(keyAdministrators, {
      Effect: 'Allow', Principal: { AWS: ROOT }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*', Condition: { StringEquals: { 'kms:RequestAlias': 'alias/rsa-app' } },
    }) }))).KeyMetadata!.Arn!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/rsa-app', TargetKeyId: arn }));
    const blob = (await kms.send(new EncryptCommand({ KeyId: 'alias/rsa-app', Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).CiphertextBlob!;
    const dec = await kms.send(new DecryptCommand({ KeyId: 'alias/rsa-app', CiphertextBlob: blob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'x');
    assert.equal(await errorName(kms.send(new DecryptCommand({ KeyId: arn, CiphertextBlob: blob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))), 'AccessDeniedException');
  });

  it('aws:SecureTransport is false on plain HTTP', async () => {
    const arn = await newKey(policy(everything, {
      Sid: 'Deny plain HTTP', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:Encrypt', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    }));
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })), /with an explicit deny in a resource-based policy/);
  });
});

describe('aws:SecureTransport on a TLS listener', () => {
  it('is true: a policy denying insecure transport allows the request', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trent-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const server = await startServer({ dev: true, args: ['--tls-cert', cert, '--tls-key', key] });
    const kms = new KMSClient({
      endpoint: server.url, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: A, secretAccessKey: 'x' },
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(cert) }) }),
    });
    try {
      const arn = (await kms.send(new CreateKeyCommand({ Policy: policy(everything, {
        Sid: 'Deny plain HTTP', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }) }))).KeyMetadata!.Arn!;
      const enc = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('over TLS') }));
      assert.equal(enc.KeyId, arn);
      await kms.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: policy(everything) }));
    } finally {
      kms.destroy();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
