// Principals end to end: a real SigV4 server (not dev mode), accounts, users and identity policies made with
// `trent iam` (a separate process, while the server runs), the real SDK and the aws CLI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateRandomCommand, KMSClient, ListKeysCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { repoRoot, startServer, type TestServer } from '../helpers/server.js';
import { readProfile } from '../helpers/credentials.js';
import { errorName, within } from '../helpers/poll.js';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { tmpdir } from 'node:os';

const run = promisify(execFile);
const A = '111122223333'; // the server's default account
const B = '444455556666';


const allow = (actions: string[], resource = '*') => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resource }] });

const denied = (principal: string, action: string, resource: string, why: 'noIdentity' | 'identityDeny') => (err: Error) => {
  assert.equal(err.name, 'AccessDeniedException', err.message);
  const tail = why === 'noIdentity' ? `because no identity-based policy allows the ${action} action` : 'with an explicit deny in an identity-based policy';
  assert.equal(err.message, `User: ${principal} is not authorized to perform: ${action} on resource: ${resource} ${tail}`);
  return true;
};

describe('principals: users, roles and identity policies (SigV4 server, trent iam)', () => {
  let server: TestServer;
  let credentials: string;
  let file: string;
  const clients: KMSClient[] = [];
  const as = (profile: string): KMSClient => {
    const c = readProfile(credentials, profile);
    const client = new KMSClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: c.id, secretAccessKey: c.secret }, maxAttempts: 1 });
    clients.push(client);
    return client;
  };
  const iam = async (...args: string[]): Promise<any> => {
    const { stdout } = await run(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'iam', ...args, '--data-dir', server.dataDir], {
      env: { ...process.env, ROLE_SECRET: 'role-secret-from-the-environment-0123' },
    });
    return JSON.parse(stdout);
  };
  const principals = {
    accounts: {
      [A]: {
        users: {
          alice: { policies: { 'use-keys': allow(['kms:Encrypt', 'kms:Decrypt'], `arn:aws:kms:*:${A}:key/*`) }, accessKeys: [{ profile: 'alice' }] },
          bob: { accessKeys: [{ profile: 'bob' }] },
          dave: {
            path: '/ops/',
            policies: {
              all: allow(['kms:*']),
              'no-decrypt': { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' }] },
            },
            accessKeys: [{ profile: 'dave' }],
          },
          temp: { policies: { all: allow(['kms:*']) }, accessKeys: [{ profile: 'temp' }] },
        },
        roles: { app: { policies: { enc: allow(['kms:Encrypt']) }, accessKeys: [{ accessKeyId: 'AKIAROLEAPPKEY000001', secretFromEnv: 'ROLE_SECRET' }] } },
      },
      [B]: {
        rootAccessKey: { profile: 'account-b' },
        users: {
          eve: { policies: { enc: allow(['kms:Encrypt'], `arn:aws:kms:*:${A}:key/*`) }, accessKeys: [{ profile: 'eve' }] },
          frank: { accessKeys: [{ profile: 'frank' }] },
        },
      },
    },
  };
  let root: KMSClient;
  let keyArn: string;

  before(async () => {
    server = await startServer({ dev: false });
    credentials = path.join(server.dataDir, 'credentials');
    file = path.join(server.dataDir, 'principals.json');
    writeFileSync(file, JSON.stringify(principals, null, 2));
    const applied = await iam('apply', '--file', file);
    assert.ok(applied.changes.length > 0);
    root = as('trent');
    keyArn = (await root.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await server?.stop();
  });

  it('re-applying the same file changes nothing', async () => {
    assert.deepEqual((await iam('apply', '--file', file)).changes, []);
  });

  it('default key policy: a user whose identity policy allows is allowed; one without is denied as AWS words it', async () => {
    const alice = as('alice');
    const { CiphertextBlob } = await alice.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('hi') }));
    const { Plaintext } = await alice.send(new DecryptCommand({ CiphertextBlob }));
    assert.equal(Buffer.from(Plaintext!).toString(), 'hi');
    await assert.rejects(
      as('bob').send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('hi') })),
      denied(`arn:aws:iam::${A}:user/bob`, 'kms:Encrypt', keyArn, 'noIdentity'),
    );
  });

  it('an explicit Deny in an identity policy wins over its Allow (and the ARN carries the path)', async () => {
    const dave = as('dave');
    const { CiphertextBlob } = await dave.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') }));
    await assert.rejects(dave.send(new DecryptCommand({ CiphertextBlob })), denied(`arn:aws:iam::${A}:user/ops/dave`, 'kms:Decrypt', keyArn, 'identityDeny'));
  });

  it('a role with an access key from the environment is authorized by its own policies', async () => {
    const app = new KMSClient({
      endpoint: server.url, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: 'AKIAROLEAPPKEY000001', secretAccessKey: 'role-secret-from-the-environment-0123' },
    });
    clients.push(app);
    const { CiphertextBlob } = await app.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('r') }));
    await assert.rejects(app.send(new DecryptCommand({ CiphertextBlob })), denied(`arn:aws:iam::${A}:role/app`, 'kms:Decrypt', keyArn, 'noIdentity'));
  });

  it('a key policy that names a user lets it in without any identity policy', async () => {
    const arn = (await root.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    await root.send(new PutKeyPolicyCommand({
      KeyId: arn, PolicyName: 'default',
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/bob` }, Action: 'kms:Encrypt', Resource: '*' },
        ],
      }),
    }));
    await as('bob').send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('b') }));
  });

  it("cross-account: the key policy names account B, and B's user needs an identity policy too", async () => {
    const arn = (await root.send(new CreateKeyCommand({
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: ['kms:Encrypt'], Resource: '*' },
        ],
      }),
    }))).KeyMetadata!.Arn!;
    await as('eve').send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('e') }));
    await as('account-b').send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('e') }));
    await assert.rejects(
      as('frank').send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('f') })),
      denied(`arn:aws:iam::${B}:user/frank`, 'kms:Encrypt', arn, 'noIdentity'),
    );
    // A key of A under the default policy does not name B at all.
    assert.equal(await errorName(as('eve').send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('e') }))), 'AccessDeniedException');
  });

  it('CreateKey, ListKeys and GenerateRandom are decided by identity policies on resource "*"', async () => {
    const alice = as('alice');
    await assert.rejects(alice.send(new CreateKeyCommand({})), denied(`arn:aws:iam::${A}:user/alice`, 'kms:CreateKey', '*', 'noIdentity'));
    await assert.rejects(alice.send(new ListKeysCommand({})), denied(`arn:aws:iam::${A}:user/alice`, 'kms:ListKeys', '*', 'noIdentity'));
    await assert.rejects(alice.send(new GenerateRandomCommand({ NumberOfBytes: 8 })), denied(`arn:aws:iam::${A}:user/alice`, 'kms:GenerateRandom', '*', 'noIdentity'));
    const temp = as('temp');
    await temp.send(new CreateKeyCommand({}));
    await temp.send(new ListKeysCommand({}));
    assert.equal((await temp.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).Plaintext!.length, 8);
  });

  it('changes made with trent iam while the server runs apply within the refresh bound (1 s)', async () => {
    const bob = as('bob');
    const encrypt = () => bob.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('late') }));
    assert.equal(await errorName(encrypt()), 'AccessDeniedException');
    await iam('put-policy', '--account', A, '--user', 'bob', '--policy-name', 'late', '--document', JSON.stringify(allow(['kms:Encrypt'])));
    await within(5_000, 'the new identity policy applies', async () => (await errorName(encrypt())) === undefined);
    await iam('delete-policy', '--account', A, '--user', 'bob', '--policy-name', 'late');
    await within(5_000, 'the deleted identity policy no longer applies', async () => (await errorName(encrypt())) === 'AccessDeniedException');
  });

  it('a deleted access key is refused: "The security token included in the request is invalid."', async () => {
    const temp = as('temp');
    await temp.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('t') }));
    await iam('delete-access-key', '--access-key-id', readProfile(credentials, 'temp').id);
    await within(5_000, 'the deleted key is refused', async () => (await errorName(temp.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('t') })))) === 'UnrecognizedClientException');
    await assert.rejects(temp.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('t') })), (err: Error) => {
      assert.equal(err.message, 'The security token included in the request is invalid.');
      return true;
    });
    // The file still lists temp's key: applying it again makes a new one (and writes it to the profile).
    const again = await iam('apply', '--file', file);
    assert.deepEqual(again.changes.map((c: { action: string }) => c.action), ['create-access-key']);
    await within(5_000, 'the new key of temp works', async () => (await errorName(as('temp').send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('t') })))) === undefined);
  });

  it('a user removed from the file is deleted with its access keys', async () => {
    const frank = as('frank');
    const { [B]: b, ...rest } = principals.accounts;
    const { frank: _gone, ...users } = b.users;
    writeFileSync(file, JSON.stringify({ accounts: { ...rest, [B]: { ...b, users } } }));
    const out = await iam('apply', '--file', file);
    assert.deepEqual(out.changes, [{ action: 'delete-principal', arn: `arn:aws:iam::${B}:user/frank` }]);
    await within(5_000, "frank's key is refused", async () => (await errorName(frank.send(new CreateKeyCommand({})))) === 'UnrecognizedClientException');
    const listed = await iam('list', '--account', B);
    assert.deepEqual(listed.accounts[0].users.map((u: { name: string }) => u.name), ['eve']);
  });

  it('the aws CLI works with a user profile from the credentials file', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
    Object.assign(env, { AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_PROFILE: 'alice', AWS_CONFIG_FILE: '/dev/null', AWS_PAGER: '', AWS_EC2_METADATA_DISABLED: 'true' });
    const common = ['--endpoint-url', server.url, '--region', 'us-east-1', '--output', 'json', '--cli-connect-timeout', '5', '--cli-read-timeout', '10'];
    const { stdout } = await run('aws', ['kms', 'encrypt', '--key-id', keyArn, '--plaintext', Buffer.from('from the aws CLI').toString('base64'), ...common], { env, timeout: 30_000 });
    assert.equal(JSON.parse(stdout).KeyId, keyArn);
    const refused = await run('aws', ['kms', 'create-key', ...common], { env, timeout: 30_000 }).then(() => undefined, (err: { stderr: string }) => err.stderr);
    assert.match(refused ?? '', /AccessDeniedException.*user\/alice is not authorized to perform: kms:CreateKey/);
  });
});

describe('principals on PostgreSQL: trent iam on another machine, two nodes', { skip: postgresSkipReason() }, () => {
  it('a user made by the CLI works on every node, and its deleted access key is refused on every node', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const env = { TRENT_ROOT_KEY_PASSPHRASE: 'one passphrase for every node and the CLI' };
    const nodes = [await startServer({ dev: false, env, args: ['--store', url] })];
    nodes.push(await startServer({ dev: false, env, args: ['--store', url] }));
    const cliDir = mkdtempSync(path.join(tmpdir(), 'trent-iam-cli-'));
    const clients: KMSClient[] = [];
    try {
      const iam = async (...args: string[]) =>
        JSON.parse((await run(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'iam', ...args, '--store', url, '--data-dir', cliDir], { env: { ...process.env, ...env } })).stdout);
      await iam('create-user', '--account', A, '--name', 'carol');
      await iam('put-policy', '--account', A, '--user', 'carol', '--policy-name', 'all', '--document', JSON.stringify(allow(['kms:*'])));
      const made = await iam('create-access-key', '--account', A, '--user', 'carol', '--profile', 'carol');
      const c = readProfile(path.join(cliDir, 'credentials'), 'carol');
      assert.equal(c.id, made.accessKeyId);
      const carol = nodes.map((n) => new KMSClient({ endpoint: n.url, region: 'us-east-1', credentials: { accessKeyId: c.id, secretAccessKey: c.secret }, maxAttempts: 1 }));
      clients.push(...carol);
      const keyArn = (await carol[0]!.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
      // The default key policy names only the account: carol's identity policy decides, on the other node too.
      await carol[1]!.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') }));
      await iam('delete-access-key', '--access-key-id', c.id);
      for (const [i, k] of carol.entries()) {
        await within(5_000, `node ${i} refuses the deleted key`, async () => (await errorName(k.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })))) === 'UnrecognizedClientException');
      }
    } finally {
      for (const k of clients) k.destroy();
      for (const n of nodes) await n.stop();
      rmSync(cliDir, { recursive: true, force: true });
    }
  });
});
