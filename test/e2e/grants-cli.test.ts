// The aws CLI's create-grant and list-grants against a dev-mode server (one smoke flow: the CLI is slow).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { awsCli } from '../helpers/aws-cli.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('grants through the aws CLI', () => {
  let server: TestServer;
  let aws: ReturnType<typeof awsCli>;
  before(async () => {
    server = await startServer({ dev: true });
    aws = awsCli(server.url, server.dataDir);
  });
  after(async () => {
    await server?.stop();
  });

  it('create-grant, list-grants', async () => {
    const arn = (await aws('create-key')).KeyMetadata.Arn as string;
    const grantee = 'arn:aws:iam::222222222222:role/app';
    const created = await aws('create-grant', '--key-id', arn, '--grantee-principal', grantee, '--operations', 'Encrypt', 'Decrypt',
      '--constraints', 'EncryptionContextSubset={purpose=test}', '--name', 'cli-grant');
    assert.match(created.GrantId, /^[0-9a-f]{64}$/);
    assert.ok(created.GrantToken);
    const listed = await aws('list-grants', '--key-id', arn);
    assert.equal(listed.Grants.length, 1);
    assert.deepEqual(
      { ...listed.Grants[0], CreationDate: undefined },
      {
        KeyId: arn, GrantId: created.GrantId, Name: 'cli-grant', CreationDate: undefined, GranteePrincipal: grantee,
        IssuingAccount: `arn:aws:iam::${arn.split(':')[4]}:root`, Operations: ['Decrypt', 'Encrypt'],
        Constraints: { EncryptionContextSubset: { purpose: 'test' } },
      },
    );
  });
});
