// Issue #12 item 10: U+0000 in a client's strings. Where AWS's model has no pattern (Description, TagKey, TagValue,
// encryption context) the string is kept exactly, and a KeyId with it names no key; where it has one (AliasName, GrantName, Policy,
// principals) the answer is AWS's ValidationException. The same answers on SQLite and PostgreSQL, through the SDK.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DescribeKeyCommand, EncryptCommand, KMSClient, ListGrantsCommand,
  ListResourceTagsCommand, RevokeGrantCommand, TagResourceCommand, UntagResourceCommand, UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { errorName } from '../helpers/poll.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

const NUL = '\u0000';
const SOH = '\u0001';

function nulStrings(name: string, skip: string | undefined, args: () => Promise<string[]>): void {
  describe(`U+0000 in strings: ${name}`, { skip }, () => {
    let server: TestServer;
    let kms: KMSClient;
    before(async () => {
      server = await startServer({ args: ['--request-log', 'off', ...(await args())] });
      kms = devClient(server.url);
    });
    after(async () => {
      kms?.destroy();
      await server?.stop();
    });

    it('keeps a description, tag keys and values with U+0000 exactly', async () => {
      const description = `before${NUL}after${SOH}0`;
      const tags = [{ TagKey: `k${NUL}`, TagValue: `v${NUL}${NUL}` }, { TagKey: `k${SOH}0`, TagValue: '' }, { TagKey: 'k', TagValue: NUL }];
      const key = (await kms.send(new CreateKeyCommand({ Description: description, Tags: tags }))).KeyMetadata!;
      assert.equal(key.Description, description);
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.Description, description);
      const listed = (await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags!;
      assert.deepEqual(listed, [{ TagKey: 'k', TagValue: NUL }, { TagKey: `k${NUL}`, TagValue: `v${NUL}${NUL}` }, { TagKey: `k${SOH}0`, TagValue: '' }]);

      await kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: NUL }));
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.Description, NUL);
      await kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: `k${NUL}`, TagValue: 'replaced' }, { TagKey: `${NUL}`, TagValue: `${NUL}` }] }));
      await kms.send(new UntagResourceCommand({ KeyId: key.KeyId, TagKeys: [`k${SOH}0`, 'k'] }));
      assert.deepEqual((await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags, [
        { TagKey: NUL, TagValue: NUL }, { TagKey: `k${NUL}`, TagValue: 'replaced' },
      ]);
    });

    it('refuses U+0000 where the model has a pattern, and finds nothing by a KeyId with U+0000', async () => {
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const created = kms.send(new CreateAliasCommand({ AliasName: `alias/a${NUL}b`, TargetKeyId: keyId }));
      await assert.rejects(created, (e: Error) => e.name === 'ValidationException' && /aliasName.*regular expression pattern/.test(e.message));
      assert.equal(await errorName(kms.send(new CreateGrantCommand({
        KeyId: keyId, GranteePrincipal: 'arn:aws:iam::111122223333:root', Operations: ['Encrypt'], Name: `n${NUL}`,
      }))), 'ValidationException');
      assert.equal(await errorName(kms.send(new CreateKeyCommand({ Policy: `{${NUL}}` }))), 'ValidationException');

      assert.equal(await errorName(kms.send(new DescribeKeyCommand({ KeyId: `alias/a${NUL}b` }))), 'NotFoundException');
      assert.equal(await errorName(kms.send(new EncryptCommand({ KeyId: `alias/a${NUL}b`, Plaintext: Buffer.from('x') }))), 'NotFoundException');
      assert.equal(await errorName(kms.send(new DescribeKeyCommand({ KeyId: `${keyId.slice(0, -1)}${NUL}` }))), 'NotFoundException');
      assert.equal(await errorName(kms.send(new DescribeKeyCommand({
        KeyId: `arn:aws:kms:us-east-1:111122223333:key/${NUL}`,
      }))), 'NotFoundException');
      assert.equal(await errorName(kms.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: `g${NUL}` }))), 'InvalidGrantIdException');
      assert.equal(await errorName(kms.send(new ListGrantsCommand({ KeyId: keyId, GrantId: `g${NUL}` }))), 'InvalidGrantIdException');
    });

    it('keeps an encryption context constraint with U+0000 in a grant exactly', async () => {
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const context = { [`k${NUL}`]: `v${NUL}${SOH}0` };
      const { GrantId } = await kms.send(new CreateGrantCommand({
        KeyId: keyId, GranteePrincipal: 'arn:aws:iam::111122223333:root', Operations: ['Encrypt'], Constraints: { EncryptionContextEquals: context },
      }));
      const [grant] = (await kms.send(new ListGrantsCommand({ KeyId: keyId, GrantId }))).Grants!;
      assert.deepEqual(grant!.Constraints, { EncryptionContextEquals: context });
      assert.doesNotMatch(server.stderr(), /internal error/);
    });
  });
}

nulStrings('SQLite', undefined, async () => []);
nulStrings('PostgreSQL', postgresSkipReason(), async () => ['--store', await (await postgresCluster()).createDatabase()]);
