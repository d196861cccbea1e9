// Issue #6, the proof: one SigV4 server (not dev mode), two accounts and several principals made with `trent iam apply`,
// the real SDK. Each case is a decision a user of AWS KMS depends on: allowed, denied, cross-account, grant-based,
// grant token, retired grant, encryption-context constraint, alias-based condition.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient, RetireGrantCommand,
} from '@aws-sdk/client-kms';
import { repoRoot, startServer, type TestServer } from '../helpers/server.js';
import { errorName } from '../helpers/poll.js';

const run = promisify(execFile);
const A = '111122223333'; // the server's default account
const B = '444455556666';
const arnOf = (account: string, user: string) => `arn:aws:iam::${account}:user/${user}`;
const allow = (actions: string[], resource: string) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resource }] });

function readProfile(file: string, profile: string): { accessKeyId: string; secretAccessKey: string } {
  const text = readFileSync(file, 'utf8');
  const section = text.split(/^\[/m).find((s) => s.startsWith(`${profile}]`));
  assert.ok(section, `profile ${profile} in ${file}`);
  const get = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*(\\S+)`, 'm').exec(section)![1]!;
  return { accessKeyId: get('aws_access_key_id'), secretAccessKey: get('aws_secret_access_key') };
}

describe('access control end to end: two accounts, users, key policies, grants (SigV4, SDK)', () => {
  let server: TestServer;
  const clients: KMSClient[] = [];
  const as = (profile: string): KMSClient => {
    const client = new KMSClient({
      endpoint: server.url, region: 'us-east-1', maxAttempts: 1, credentials: readProfile(path.join(server.dataDir, 'credentials'), profile),
    });
    clients.push(client);
    return client;
  };
  let admin: KMSClient; // account A's root
  let alice: KMSClient; // A, identity policy: use A's keys
  let bob: KMSClient; // A, no identity policy
  let erin: KMSClient; // B, identity policy: use A's keys
  let frank: KMSClient; // B, no identity policy
  let sharedKey: string; // A's key whose policy also names account B
  const plain = Buffer.from('the launch codes');
  const encrypt = (c: KMSClient, KeyId: string, EncryptionContext?: Record<string, string>, GrantTokens?: string[]) =>
    c.send(new EncryptCommand({ KeyId, Plaintext: plain, EncryptionContext, GrantTokens }));

  before(async () => {
    server = await startServer({ dev: false });
    const file = path.join(server.dataDir, 'principals.json');
    writeFileSync(file, JSON.stringify({
      accounts: {
        [A]: {
          users: {
            alice: { policies: { 'use-keys': allow(['kms:Encrypt', 'kms:Decrypt'], `arn:aws:kms:*:${A}:key/*`) }, accessKeys: [{ profile: 'alice' }] },
            bob: { accessKeys: [{ profile: 'bob' }] },
          },
        },
        [B]: {
          rootAccessKey: { profile: 'account-b' },
          users: {
            erin: { policies: { 'use-a-keys': allow(['kms:Encrypt', 'kms:Decrypt'], `arn:aws:kms:*:${A}:key/*`) }, accessKeys: [{ profile: 'erin' }] },
            frank: { accessKeys: [{ profile: 'frank' }] },
          },
        },
      },
    }));
    await run(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'iam', 'apply', '--file', file, '--data-dir', server.dataDir]);
    admin = as('trent');
    alice = as('alice');
    bob = as('bob');
    erin = as('erin');
    frank = as('frank');
    sharedKey = (await admin.send(new CreateKeyCommand({
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' },
          { Sid: 'Account B may use the key', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*' },
          {
            Sid: 'Bob, only through alias/app', Effect: 'Allow', Principal: { AWS: arnOf(A, 'bob') }, Action: 'kms:Encrypt', Resource: '*',
            Condition: { StringEquals: { 'kms:RequestAlias': 'alias/app' } },
          },
        ],
      }),
    }))).KeyMetadata!.Arn!;
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: sharedKey }));
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await server?.stop();
  });

  it('allowed: a user whose identity policy allows, under a key policy that delegates to the account', async () => {
    const { CiphertextBlob } = await encrypt(alice, sharedKey);
    const { Plaintext } = await alice.send(new DecryptCommand({ CiphertextBlob }));
    assert.deepEqual(Buffer.from(Plaintext!), plain);
  });

  it('denied: a user with no identity policy, with AWS\'s message', async () => {
    const err = await bob.send(new DecryptCommand({ CiphertextBlob: (await encrypt(alice, sharedKey)).CiphertextBlob })).then(() => undefined, (e: Error) => e);
    assert.equal(err?.name, 'AccessDeniedException');
    assert.equal(err?.message, `User: ${arnOf(A, 'bob')} is not authorized to perform: kms:Decrypt on resource: ${sharedKey} because no identity-based policy allows the kms:Decrypt action`);
  });

  it('alias-based condition: the key policy lets bob encrypt through alias/app only', async () => {
    assert.ok((await encrypt(bob, 'alias/app')).CiphertextBlob);
    assert.equal(await errorName(encrypt(bob, sharedKey)), 'AccessDeniedException');
  });

  it('cross-account: the key policy names account B, and B\'s user needs an identity policy of its own', async () => {
    const { CiphertextBlob } = await encrypt(erin, sharedKey);
    const { Plaintext } = await erin.send(new DecryptCommand({ CiphertextBlob }));
    assert.deepEqual(Buffer.from(Plaintext!), plain);
    assert.equal(await errorName(encrypt(frank, sharedKey)), 'AccessDeniedException');
    // A key whose policy does not name B refuses even B's allowed user.
    const privateKey = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    assert.equal(await errorName(encrypt(erin, privateKey)), 'AccessDeniedException');
  });

  it('grants: grant-based use, grant token, encryption-context constraint, retired grant', async () => {
    const key = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    assert.equal(await errorName(encrypt(frank, key, { tenant: 'acme' })), 'AccessDeniedException');
    // A grant to a user of another account, constrained to contexts that include tenant=acme; frank may retire it.
    const { GrantToken, GrantId } = await admin.send(new CreateGrantCommand({
      KeyId: key, GranteePrincipal: arnOf(B, 'frank'), RetiringPrincipal: arnOf(B, 'frank'), Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { tenant: 'acme' } },
    }));
    assert.ok(GrantToken && GrantId);
    // Usable at once with its token, and (the grant now known) without it.
    const { CiphertextBlob } = await encrypt(frank, key, { tenant: 'acme', purpose: 'proof' }, [GrantToken!]);
    const { Plaintext } = await frank.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { tenant: 'acme', purpose: 'proof' } }));
    assert.deepEqual(Buffer.from(Plaintext!), plain);
    // The constraint: another tenant, or no context, is not covered by the grant.
    assert.equal(await errorName(encrypt(frank, key, { tenant: 'globex' })), 'AccessDeniedException');
    assert.equal(await errorName(encrypt(frank, key)), 'AccessDeniedException');
    // The grant allows only what it names.
    assert.equal(await errorName(frank.send(new CreateGrantCommand({ KeyId: key, GranteePrincipal: arnOf(B, 'erin'), Operations: ['Encrypt'] }))), 'AccessDeniedException');
    // Retired by its retiring principal: denied again.
    await frank.send(new RetireGrantCommand({ GrantToken }));
    assert.equal(await errorName(encrypt(frank, key, { tenant: 'acme' })), 'AccessDeniedException');
  });
});
