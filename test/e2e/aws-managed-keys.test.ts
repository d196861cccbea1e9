// AWS managed keys end to end: `trent aws-managed-key create` on the store of a running server, then the SDK.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  CancelKeyDeletionCommand, CreateAliasCommand, DecryptCommand, DeleteAliasCommand, DescribeKeyCommand, DisableKeyCommand,
  DisableKeyRotationCommand, EnableKeyCommand, EnableKeyRotationCommand, EncryptCommand, GenerateDataKeyCommand, GetKeyPolicyCommand,
  GetKeyRotationStatusCommand, ListAliasesCommand, ListKeyRotationsCommand, ListResourceTagsCommand, PutKeyPolicyCommand, ReEncryptCommand,
  RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, TagResourceCommand, UntagResourceCommand, UpdateAliasCommand,
  UpdateKeyDescriptionCommand, CreateKeyCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { devClient, repoRoot, startServer, type TestServer } from '../helpers/server.js';
import { errorName } from '../helpers/poll.js';

const ACCOUNT = '111122223333';
const SERVICE_KEY = 's3-integration';

function trent(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), ...args], { encoding: 'utf8', env: { ...process.env, TRENT_CONFIG: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('AWS managed keys (trent aws-managed-key create, dev mode, SQLite)', () => {
  let server: TestServer;
  let user: KMSClient;
  let viaS3: KMSClient;
  let arn: string;
  before(async () => {
    server = await startServer({ dev: true, args: ['--service-access-keys', `${SERVICE_KEY}=s3`] });
    user = devClient(server.url);
    viaS3 = devClient(server.url, { accessKeyId: SERVICE_KEY });
  });
  after(async () => {
    user?.destroy();
    viaS3?.destroy();
    await server?.stop();
  });

  it('creates alias/aws/s3 while the server runs, which sees it at once (it had looked for it before)', async () => {
    assert.equal(await errorName(viaS3.send(new EncryptCommand({ KeyId: 'alias/aws/s3', Plaintext: Buffer.from('x') }))), 'NotFoundException');
    const r = trent(['aws-managed-key', 'create', '--service', 's3', '--data-dir', server.dataDir]);
    assert.equal(r.status, 0, r.stderr);
    const m = /Created AWS managed key (arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}) \(alias\/aws\/s3\)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    arn = m[1]!;
    const again = trent(['aws-managed-key', 'create', '--service', 's3', '--data-dir', server.dataDir]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`Already present: AWS managed key ${arn}`));
    const enc = await viaS3.send(new EncryptCommand({ KeyId: 'alias/aws/s3', Plaintext: Buffer.from('via s3') }));
    assert.equal(enc.KeyId, arn);
  });

  it('DescribeKey shows KeyManager AWS and the description AWS gives; rotation is on, every 365 days', async () => {
    const md = (await user.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata!;
    assert.equal(md.Arn, arn);
    assert.equal(md.KeyManager, 'AWS');
    assert.equal(md.Description, 'Default key that protects my S3 objects when no other key is defined');
    assert.equal(md.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(md.KeyState, 'Enabled');
    const rot = await user.send(new GetKeyRotationStatusCommand({ KeyId: arn }));
    assert.equal(rot.KeyRotationEnabled, true);
    assert.equal(rot.RotationPeriodInDays, 365);
  });

  it("has AWS's key policy: use through the service by the account, metadata for the account", async () => {
    const policy = JSON.parse((await user.send(new GetKeyPolicyCommand({ KeyId: arn }))).Policy!);
    assert.equal(policy.Id, 'auto-s3-2');
    assert.deepEqual(policy.Statement[0].Condition, { StringEquals: { 'kms:CallerAccount': ACCOUNT, 'kms:ViaService': 's3.us-east-1.amazonaws.com' } });
    assert.deepEqual(policy.Statement[0].Action, ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey']);
    assert.deepEqual(policy.Statement[1].Action, ['kms:Describe*', 'kms:Get*', 'kms:List*']);
  });

  it('is usable through the alias by the service access key, and by no other caller', async () => {
    const enc = await viaS3.send(new EncryptCommand({ KeyId: 'alias/aws/s3', Plaintext: Buffer.from('object data') }));
    const dec = await viaS3.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'object data');
    const dk = await viaS3.send(new GenerateDataKeyCommand({ KeyId: 'alias/aws/s3', KeySpec: 'AES_256' }));
    assert.equal(dk.KeyId, arn);
    await assert.rejects(user.send(new EncryptCommand({ KeyId: 'alias/aws/s3', Plaintext: Buffer.from('x') })), (err: Error) => {
      assert.equal(err.name, 'AccessDeniedException');
      assert.equal(err.message, `User: arn:aws:iam::${ACCOUNT}:root is not authorized to perform: kms:Encrypt on resource: ${arn} because no resource-based policy allows the kms:Encrypt action`);
      return true;
    });
    assert.equal(await errorName(user.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))), 'AccessDeniedException');
    // Another account's service key is not the key's account (kms:CallerAccount).
    const other = devClient(server.url, { accessKeyId: '444455556666' });
    try {
      assert.equal(await errorName(other.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }))), 'AccessDeniedException');
    } finally {
      other.destroy();
    }
  });

  it('refuses every management operation, as AWS does (the key policy allows none)', async () => {
    const denied: [string, Promise<unknown>][] = [
      ['PutKeyPolicy', user.send(new PutKeyPolicyCommand({ KeyId: arn, PolicyName: 'default', Policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}', BypassPolicyLockoutSafetyCheck: true }))],
      ['ScheduleKeyDeletion', user.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }))],
      ['CancelKeyDeletion', user.send(new CancelKeyDeletionCommand({ KeyId: arn }))],
      ['DisableKey', user.send(new DisableKeyCommand({ KeyId: arn }))],
      ['EnableKey', user.send(new EnableKeyCommand({ KeyId: arn }))],
      ['UpdateKeyDescription', user.send(new UpdateKeyDescriptionCommand({ KeyId: arn, Description: 'mine now' }))],
      ['TagResource', user.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'k', TagValue: 'v' }] }))],
      ['UntagResource', user.send(new UntagResourceCommand({ KeyId: arn, TagKeys: ['k'] }))],
      ['EnableKeyRotation', user.send(new EnableKeyRotationCommand({ KeyId: arn, RotationPeriodInDays: 90 }))],
      ['DisableKeyRotation', user.send(new DisableKeyRotationCommand({ KeyId: arn }))],
      ['RotateKeyOnDemand', user.send(new RotateKeyOnDemandCommand({ KeyId: arn }))],
      ['CreateAlias (customer alias to it)', user.send(new CreateAliasCommand({ AliasName: 'alias/mine', TargetKeyId: arn }))],
    ];
    for (const [what, p] of denied) assert.equal(await errorName(p), 'AccessDeniedException', what);
    // The service's own access key cannot manage it either.
    assert.equal(await errorName(viaS3.send(new DisableKeyCommand({ KeyId: arn }))), 'AccessDeniedException');
    // alias/aws/* names are reserved.
    const customer = (await user.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    assert.equal(await errorName(user.send(new CreateAliasCommand({ AliasName: 'alias/aws/ebs', TargetKeyId: customer }))), 'NotAuthorizedException');
    assert.equal(await errorName(user.send(new UpdateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: customer }))), 'NotAuthorizedException');
    assert.equal(await errorName(user.send(new DeleteAliasCommand({ AliasName: 'alias/aws/s3' }))), 'NotAuthorizedException');
    // Nothing changed.
    const md = (await user.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata!;
    assert.equal(md.Arn, arn);
    assert.equal(md.KeyState, 'Enabled');
    assert.deepEqual((await user.send(new ListResourceTagsCommand({ KeyId: arn }))).Tags, []);
  });

  it('ListAliases shows alias/aws/s3 with its key, and the predefined aliases, paged with the others', async () => {
    const customer = (await user.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (const name of ['alias/a-first', 'alias/aws-like', 'alias/zz-last']) await user.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: customer }));
    const aliases = (await user.send(new ListAliasesCommand({}))).Aliases!;
    const s3 = aliases.find((a) => a.AliasName === 'alias/aws/s3');
    assert.ok(s3);
    assert.equal(s3.TargetKeyId, arn.split('/')[1]);
    assert.equal(s3.AliasArn, `arn:aws:kms:us-east-1:${ACCOUNT}:alias/aws/s3`);
    // Predefined aliases not yet associated with a key are listed without a TargetKeyId (API_ListAliases).
    const rds = aliases.find((a) => a.AliasName === 'alias/aws/rds');
    assert.ok(rds);
    assert.equal(rds.TargetKeyId, undefined);
    assert.equal(rds.AliasArn, `arn:aws:kms:us-east-1:${ACCOUNT}:alias/aws/rds`);
    // Paging one at a time gives the same list, each name once, in order.
    const paged: string[] = [];
    let marker: string | undefined;
    do {
      const page = await user.send(new ListAliasesCommand({ Limit: 1, Marker: marker }));
      paged.push(...page.Aliases!.map((a) => a.AliasName!));
      marker = page.NextMarker;
    } while (marker);
    assert.deepEqual(paged, aliases.map((a) => a.AliasName));
    assert.deepEqual(paged, [...paged].sort());
    assert.deepEqual(paged, ['alias/a-first', 'alias/aws-like', 'alias/aws/ebs', 'alias/aws/lambda', 'alias/aws/rds', 'alias/aws/s3', 'alias/zz-last']);
    const byTwo = await user.send(new ListAliasesCommand({ Limit: 2, Marker: (await user.send(new ListAliasesCommand({ Limit: 2 }))).NextMarker }));
    assert.deepEqual(byTwo.Aliases!.map((a) => a.AliasName), ['alias/aws/ebs', 'alias/aws/lambda']);
    // Filtered by key: only the key's own aliases.
    assert.deepEqual((await user.send(new ListAliasesCommand({ KeyId: arn }))).Aliases!.map((a) => a.AliasName), ['alias/aws/s3']);
  });

  it('rotates automatically after a year; old ciphertext still decrypts through the service', async () => {
    const before = await viaS3.send(new EncryptCommand({ KeyId: 'alias/aws/s3', Plaintext: Buffer.from('last year') }));
    const res = await fetch(new URL('/_trent/dev/clock', server.url), { method: 'POST', body: JSON.stringify({ advanceSeconds: 366 * 86400 }) });
    assert.equal(res.status, 200);
    const rotations = (await user.send(new ListKeyRotationsCommand({ KeyId: arn }))).Rotations!;
    assert.equal(rotations.length, 1);
    assert.equal(rotations[0]!.RotationType, 'AUTOMATIC');
    const dec = await viaS3.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'last year');
    const re = await viaS3.send(new ReEncryptCommand({ CiphertextBlob: before.CiphertextBlob, DestinationKeyId: 'alias/aws/s3' }));
    assert.equal(re.KeyId, arn);
  });

  it('creates the EBS key with the ec2 endpoint, CreateGrant and RevokeGrant, and refuses a bad service name', async () => {
    const r = trent(['aws-managed-key', 'create', '--service', 'ebs', '--data-dir', server.dataDir]);
    assert.equal(r.status, 0, r.stderr);
    const ebs = (await user.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ebs' }))).KeyMetadata!;
    assert.equal(ebs.Description, 'Default key that protects my EBS volumes when no other key is defined');
    const policy = JSON.parse((await user.send(new GetKeyPolicyCommand({ KeyId: ebs.Arn! }))).Policy!);
    assert.equal(policy.Statement[0].Condition.StringEquals['kms:ViaService'], 'ec2.us-east-1.amazonaws.com');
    assert.ok(policy.Statement[0].Action.includes('kms:CreateGrant'));
    assert.ok(policy.Statement[1].Action.includes('kms:RevokeGrant'));
    // The s3 service key is not EC2's.
    assert.equal(await errorName(viaS3.send(new EncryptCommand({ KeyId: 'alias/aws/ebs', Plaintext: Buffer.from('x') }))), 'AccessDeniedException');
    const bad = trent(['aws-managed-key', 'create', '--service', 'S3!', '--data-dir', server.dataDir]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /not a service name/);
  });

  it('DescribeKey of a predefined AWS alias creates its AWS managed key, once', async () => {
    const first = (await user.send(new DescribeKeyCommand({ KeyId: 'alias/aws/lambda' }))).KeyMetadata!;
    assert.equal(first.KeyManager, 'AWS');
    assert.equal(first.Description, 'Default key that protects my Lambda functions when no other key is defined');
    const again = (await user.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/aws/lambda` }))).KeyMetadata!;
    assert.equal(again.Arn, first.Arn);
    const policy = JSON.parse((await user.send(new GetKeyPolicyCommand({ KeyId: first.Arn! }))).Policy!);
    assert.equal(policy.Id, 'auto-awslambda');
    // Not predefined: no key is made.
    assert.equal(await errorName(user.send(new DescribeKeyCommand({ KeyId: 'alias/aws/not-a-service' }))), 'NotFoundException');
    // Encrypt does not create one.
    assert.equal(await errorName(user.send(new EncryptCommand({ KeyId: 'alias/aws/rds', Plaintext: Buffer.from('x') }))), 'NotFoundException');
  });
});
