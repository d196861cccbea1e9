// Key management through @aws-sdk/client-kms against a real dev-mode server: keys, aliases, tags, policies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AlreadyExistsException, CancelKeyDeletionCommand, CreateAliasCommand, CreateKeyCommand, DeleteAliasCommand, DescribeKeyCommand,
  DisableKeyCommand, DisabledException, EnableKeyCommand, EncryptCommand, GetKeyPolicyCommand, InvalidMarkerException,
  KMSClient, KMSInvalidStateException, KMSServiceException, LimitExceededException, ListAliasesCommand, ListKeyPoliciesCommand,
  ListKeysCommand, ListResourceTagsCommand, MalformedPolicyDocumentException, NotFoundException, PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand, TagException, TagResourceCommand, UntagResourceCommand, UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

const DAY = 24 * 60 * 60 * 1000;

/** Asserts the call fails with the exception class (or __type name) and, when given, the exact message. */
async function rejects(p: Promise<unknown>, type: new (...a: any[]) => Error, message?: string | RegExp): Promise<void>;
async function rejects(p: Promise<unknown>, type: string, message?: string | RegExp): Promise<void>;
async function rejects(p: Promise<unknown>, type: any, message?: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: any) => {
    if (typeof type === 'string') assert.equal(err.name, type, String(err));
    else assert.ok(err instanceof type, `expected ${type.name}, got ${err.name}: ${err.message}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  });
}

describe('key management through @aws-sdk/client-kms', () => {
  let server: TestServer;
  let kms: KMSClient;
  const newKey = async (description = '') => (await kms.send(new CreateKeyCommand({ Description: description }))).KeyMetadata!;
  const encryptWith = (keyId: string) => kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('hello') }));

  before(async () => {
    server = await startServer();
    kms = devClient(server.url);
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
  });

  describe('keys', () => {
    it('ListKeys pages through every key with Limit and Marker, and refuses a marker it did not hand out', async () => {
      const other = devClient(server.url, { accessKeyId: '444455556666' });
      const mine = new Set<string>();
      for (let i = 0; i < 5; i++) mine.add((await other.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!);
      const seen: string[] = [];
      let marker: string | undefined;
      let pages = 0;
      do {
        const page = await other.send(new ListKeysCommand({ Limit: 2, Marker: marker }));
        pages++;
        assert.ok(page.Keys!.length <= 2);
        for (const k of page.Keys!) {
          assert.equal(k.KeyArn, `arn:aws:kms:us-east-1:444455556666:key/${k.KeyId}`);
          seen.push(k.KeyId!);
        }
        assert.equal(page.Truncated, page.NextMarker !== undefined);
        marker = page.NextMarker;
      } while (marker);
      assert.equal(pages, 3);
      assert.deepEqual(new Set(seen), mine, 'exactly the keys of this account');
      const all = await other.send(new ListKeysCommand({}));
      assert.equal(all.Truncated, false);
      assert.equal(all.Keys!.length, 5);
      await rejects(other.send(new ListKeysCommand({ Marker: 'not-a-marker' })), InvalidMarkerException);
      other.destroy();
    });

    it('DisableKey makes crypto fail with DisabledException; EnableKey brings it back', async () => {
      const key = await newKey();
      await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
      await kms.send(new DisableKeyCommand({ KeyId: key.Arn }));
      const md = (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
      assert.equal(md.KeyState, 'Disabled');
      assert.equal(md.Enabled, false);
      await rejects(encryptWith(key.KeyId!), DisabledException, `${key.Arn} is disabled.`);
      await kms.send(new EnableKeyCommand({ KeyId: key.Arn }));
      assert.equal((await encryptWith(key.KeyId!)).KeyId, key.Arn);
    });

    it('accepts only a key ID or key ARN of the caller for EnableKey', async () => {
      const key = await newKey();
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/enable-me', TargetKeyId: key.KeyId }));
      await rejects(kms.send(new EnableKeyCommand({ KeyId: 'alias/enable-me' })), NotFoundException, "Invalid keyId 'alias/enable-me'");
      const stranger = devClient(server.url, { accessKeyId: '999988887777' });
      await rejects(stranger.send(new DisableKeyCommand({ KeyId: key.Arn })), NotFoundException);
      stranger.destroy();
      await rejects(kms.send(new EnableKeyCommand({ KeyId: '11111111-2222-4333-8444-555555555555' })), NotFoundException,
        "Key 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555' does not exist");
    });

    it('ScheduleKeyDeletion: 30 days by default, PendingDeletion refuses Encrypt, CancelKeyDeletion leaves it Disabled', async () => {
      const key = await newKey();
      const before = Date.now();
      const res = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId }));
      assert.equal(res.KeyId, key.Arn);
      assert.equal(res.KeyState, 'PendingDeletion');
      assert.equal(res.PendingWindowInDays, 30);
      const delta = res.DeletionDate!.getTime() - before;
      assert.ok(delta >= 30 * DAY - 2000 && delta <= 30 * DAY + 5000, `deletion in ${delta} ms`);
      const md = (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
      assert.equal(md.KeyState, 'PendingDeletion');
      assert.equal(md.DeletionDate!.getTime(), res.DeletionDate!.getTime());

      await rejects(encryptWith(key.KeyId!), KMSInvalidStateException, `${key.Arn} is pending deletion.`);
      await rejects(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId })), KMSInvalidStateException, `${key.Arn} is pending deletion.`);
      await rejects(kms.send(new EnableKeyCommand({ KeyId: key.KeyId })), KMSInvalidStateException, `${key.Arn} is pending deletion.`);
      await rejects(kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: 'x' })), KMSInvalidStateException);

      const cancelled = await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
      assert.equal(cancelled.KeyId, key.Arn);
      const back = (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
      assert.equal(back.KeyState, 'Disabled');
      assert.equal(back.DeletionDate, undefined);
      await rejects(encryptWith(key.KeyId!), DisabledException);
      await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
      assert.equal((await encryptWith(key.KeyId!)).KeyId, key.Arn);
      await rejects(kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId })), KMSInvalidStateException, `${key.Arn} is not pending deletion.`);
    });

    it('ScheduleKeyDeletion takes 7 to 30 days only', async () => {
      const key = await newKey();
      await rejects(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 6 })), 'ValidationException',
        'PendingWindowInDays should be between 7 and 30, but it is 6');
      await rejects(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 31 })), 'ValidationException',
        'PendingWindowInDays should be between 7 and 30, but it is 31');
      await rejects(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 0 })), 'ValidationException', /greater than or equal to 1/);
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.KeyState, 'Enabled', 'nothing changed');
      const res = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      assert.equal(res.PendingWindowInDays, 7);
    });

    it('UpdateKeyDescription changes the description DescribeKey returns', async () => {
      const key = await newKey('before');
      await kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.Arn, Description: 'after' }));
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.Description, 'after');
      await kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: '' }));
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.Description, '');
    });
  });

  describe('aliases', () => {
    it('CreateAlias makes the key usable by alias name and alias ARN; a moved alias is seen by Encrypt at once', async () => {
      const a = await newKey();
      const b = await newKey();
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: a.Arn }));
      assert.equal((await encryptWith('alias/app')).KeyId, a.Arn);
      assert.equal((await encryptWith('arn:aws:kms:us-east-1:111122223333:alias/app')).KeyId, a.Arn);
      await kms.send(new UpdateAliasCommand({ AliasName: 'alias/app', TargetKeyId: b.KeyId }));
      assert.equal((await encryptWith('alias/app')).KeyId, b.Arn, 'the cached alias was invalidated');
      await kms.send(new DeleteAliasCommand({ AliasName: 'alias/app' }));
      await rejects(encryptWith('alias/app'), NotFoundException, 'Alias arn:aws:kms:us-east-1:111122223333:alias/app is not found.');
      await rejects(kms.send(new DeleteAliasCommand({ AliasName: 'alias/app' })), NotFoundException, 'Alias arn:aws:kms:us-east-1:111122223333:alias/app is not found.');
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: a.KeyId }));
      assert.equal((await encryptWith('alias/app')).KeyId, a.Arn, 'a re-created alias is seen at once too');
    });

    it('refuses AWS-invalid alias names and targets', async () => {
      const key = await newKey();
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/taken', TargetKeyId: key.KeyId }));
      await rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/taken', TargetKeyId: key.KeyId })), AlreadyExistsException,
        'An alias with the name arn:aws:kms:us-east-1:111122223333:alias/taken already exists');
      await rejects(kms.send(new CreateAliasCommand({ AliasName: 'nope', TargetKeyId: key.KeyId })), 'ValidationException',
        'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html');
      await rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: key.KeyId })), 'NotAuthorizedException');
      await rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/bad name', TargetKeyId: key.KeyId })), 'ValidationException', /aliasName/);
      await rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: 'alias/taken' })), 'ValidationException', 'Aliases must refer to keys. Not aliases');
      await rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: '11111111-2222-4333-8444-555555555555' })), NotFoundException);
      await rejects(kms.send(new UpdateAliasCommand({ AliasName: 'alias/missing', TargetKeyId: key.KeyId })), NotFoundException,
        'Alias arn:aws:kms:us-east-1:111122223333:alias/missing is not found.');
      await rejects(kms.send(new DeleteAliasCommand({ AliasName: 'alias/aws/s3' })), 'NotAuthorizedException');

      const doomed = await newKey();
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: doomed.KeyId, PendingWindowInDays: 7 }));
      await rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: doomed.KeyId })), KMSInvalidStateException, `${doomed.Arn} is pending deletion.`);
      await rejects(kms.send(new UpdateAliasCommand({ AliasName: 'alias/taken', TargetKeyId: doomed.KeyId })), KMSInvalidStateException);
      assert.equal((await encryptWith('alias/taken')).KeyId, key.Arn, 'refused moves change nothing');
    });

    it('aliases belong to one account and region', async () => {
      const key = await newKey();
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/regional', TargetKeyId: key.KeyId }));
      const west = devClient(server.url, { region: 'us-west-2' });
      await rejects(west.send(new EncryptCommand({ KeyId: 'alias/regional', Plaintext: Buffer.from('x') })), NotFoundException);
      await rejects(west.send(new CreateAliasCommand({ AliasName: 'alias/regional', TargetKeyId: key.Arn })), NotFoundException);
      const westKey = (await west.send(new CreateKeyCommand({}))).KeyMetadata!;
      await west.send(new CreateAliasCommand({ AliasName: 'alias/regional', TargetKeyId: westKey.KeyId }));
      assert.equal((await west.send(new EncryptCommand({ KeyId: 'alias/regional', Plaintext: Buffer.from('x') }))).KeyId, westKey.Arn);
      west.destroy();
    });

    it('ListAliases pages, filters by key, and returns every field', async () => {
      const key = await newKey();
      const names = ['alias/list-a', 'alias/list-b', 'alias/list-c', 'alias/list-d', 'alias/list-e'];
      for (const n of names) await kms.send(new CreateAliasCommand({ AliasName: n, TargetKeyId: key.KeyId }));
      const seen: string[] = [];
      let marker: string | undefined;
      do {
        const page = await kms.send(new ListAliasesCommand({ KeyId: key.Arn, Limit: 2, Marker: marker }));
        for (const a of page.Aliases!) {
          assert.equal(a.TargetKeyId, key.KeyId);
          assert.equal(a.AliasArn, `arn:aws:kms:us-east-1:111122223333:${a.AliasName}`);
          assert.ok(a.CreationDate instanceof Date && a.LastUpdatedDate instanceof Date);
          seen.push(a.AliasName!);
        }
        marker = page.NextMarker;
        assert.equal(page.Truncated, marker !== undefined);
      } while (marker);
      assert.deepEqual(seen, names);
      const everything = await kms.send(new ListAliasesCommand({}));
      assert.ok(names.every((n) => everything.Aliases!.some((a) => a.AliasName === n)));
      await rejects(kms.send(new ListAliasesCommand({ Limit: 101 })), 'ValidationException', /less than or equal to 100/);
      await rejects(kms.send(new ListAliasesCommand({ Marker: 'bogus' })), InvalidMarkerException);
    });

    it('allows at most 50 aliases per key', async () => {
      const key = await newKey();
      for (let i = 0; i < 50; i++) await kms.send(new CreateAliasCommand({ AliasName: `alias/many-${i}`, TargetKeyId: key.KeyId }));
      await rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/many-50', TargetKeyId: key.KeyId })), LimitExceededException);
      const listed = await kms.send(new ListAliasesCommand({ KeyId: key.KeyId, Limit: 100 }));
      assert.equal(listed.Aliases!.length, 50);
    });
  });

  describe('tags', () => {
    it('tags, overwrites, pages and untags', async () => {
      const key = await newKey();
      await kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'b', TagValue: '1' }, { TagKey: 'a', TagValue: '' }, { TagKey: 'c', TagValue: 'x' }] }));
      await kms.send(new TagResourceCommand({ KeyId: key.Arn, Tags: [{ TagKey: 'b', TagValue: '2' }] }));
      const p1 = await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId, Limit: 2 }));
      assert.deepEqual(p1.Tags, [{ TagKey: 'a', TagValue: '' }, { TagKey: 'b', TagValue: '2' }]);
      assert.equal(p1.Truncated, true);
      const p2 = await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId, Limit: 2, Marker: p1.NextMarker }));
      assert.deepEqual(p2.Tags, [{ TagKey: 'c', TagValue: 'x' }]);
      assert.equal(p2.Truncated, false);
      assert.equal(p2.NextMarker, undefined);
      await kms.send(new UntagResourceCommand({ KeyId: key.KeyId, TagKeys: ['a', 'not-there'] }));
      assert.deepEqual((await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags, [{ TagKey: 'b', TagValue: '2' }, { TagKey: 'c', TagValue: 'x' }]);
    });

    it('refuses reserved keys, more than 50 tags, and pending-deletion keys, writing nothing', async () => {
      const key = await newKey();
      await rejects(kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'ok', TagValue: '1' }, { TagKey: 'aws:x', TagValue: '1' }] })), TagException,
        'Tags beginning with aws: are reserved');
      await rejects(kms.send(new UntagResourceCommand({ KeyId: key.KeyId, TagKeys: ['aws:x'] })), TagException);
      const fifty = Array.from({ length: 50 }, (_, i) => ({ TagKey: `k${i}`, TagValue: 'v' }));
      await kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: fifty }));
      await kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'k0', TagValue: 'overwrite is fine' }] }));
      await rejects(kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'k1', TagValue: 'changed' }, { TagKey: 'one-more', TagValue: 'v' }] })), LimitExceededException);
      const tags = (await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags!;
      assert.equal(tags.length, 50);
      assert.equal(tags.find((t) => t.TagKey === 'k1')!.TagValue, 'v', 'the refused call wrote nothing');
      assert.equal(tags.find((t) => t.TagKey === 'k0')!.TagValue, 'overwrite is fine');
      await rejects(kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId, Limit: 51 })), 'ValidationException', /less than or equal to 50/);

      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      await rejects(kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'k2', TagValue: '' }] })), KMSInvalidStateException, `${key.Arn} is pending deletion.`);
      assert.equal((await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags!.length, 50, 'ListResourceTags works in every state');
    });
  });

  describe('key policies', () => {
    it('returns the default policy, stores a new one, and lists "default"', async () => {
      const key = await newKey();
      const got = await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }));
      assert.equal(got.PolicyName, 'default');
      const doc = JSON.parse(got.Policy!);
      assert.equal(doc.Statement[0].Principal.AWS, 'arn:aws:iam::111122223333:root');
      assert.equal(doc.Statement[0].Action, 'kms:*');
      const policy = JSON.stringify({ Version: '2012-10-17', Statement: [
        { Sid: 'x', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:Encrypt', Resource: '*' },
        { Sid: 'admin', Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: ['kms:GetKeyPolicy', 'kms:ListKeyPolicies'], Resource: '*' },
      ] });
      await kms.send(new PutKeyPolicyCommand({ KeyId: key.Arn, PolicyName: 'default', Policy: policy, BypassPolicyLockoutSafetyCheck: true }));
      assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default' }))).Policy, policy);
      const listed = await kms.send(new ListKeyPoliciesCommand({ KeyId: key.KeyId }));
      assert.deepEqual(listed.PolicyNames, ['default']);
      assert.equal(listed.Truncated, false);
      await rejects(kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'other' })), NotFoundException);
    });

    it('refuses malformed policies and keeps the old one; works in PendingDeletion', async () => {
      const key = await newKey();
      const original = (await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }))).Policy;
      await rejects(kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, Policy: '{not json' })), MalformedPolicyDocumentException);
      await rejects(kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, Policy: JSON.stringify({ Statement: [{ Effect: 'Maybe', Principal: '*', Action: '*' }] }) })),
        MalformedPolicyDocumentException);
      assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }))).Policy, original);
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' }] });
      await kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, Policy: policy }));
      assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }))).Policy, policy);
    });
  });

  it('surfaces NotAuthorizedException as a service exception the SDK can name', async () => {
    const key = await newKey();
    await assert.rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/x', TargetKeyId: key.KeyId })), (err: unknown) => {
      assert.ok(err instanceof KMSServiceException);
      assert.equal(err.name, 'NotAuthorizedException');
      assert.equal(err.$metadata.httpStatusCode, 400);
      return true;
    });
  });
});
