// Multi-Region keys: authorization (issue #13). ReplicateKey needs kms:ReplicateKey on the primary and, in the replica
// Region, kms:CreateKey (and kms:PutKeyPolicy / kms:TagResource when a policy / tags are given); UpdatePrimaryRegion
// needs kms:UpdatePrimaryRegion on both keys; the condition keys kms:MultiRegion, kms:MultiRegionKeyType,
// kms:PrimaryRegion and kms:ReplicaRegion are evaluated. Identity policies on a SigV4 server (`trent iam apply`), key
// policies with the account root. Plus the audit events: ReplicateKey in the primary's Region, CreateKey in the replica's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateKeyCommand, DescribeKeyCommand, EncryptCommand, KMSClient, ReplicateKeyCommand, UpdatePrimaryRegionCommand,
} from '@aws-sdk/client-kms';
import { repoRoot, startServer, type TestServer } from '../helpers/server.js';
import { readProfile } from '../helpers/credentials.js';
import { failure } from '../helpers/poll.js';

const run = promisify(execFile);
const A = '111122223333';
const ROOT = `arn:aws:iam::${A}:root`;
const arnIn = (region: string, keyId: string) => `arn:aws:kms:${region}:${A}:key/${keyId}`;
const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const everything = { Sid: 'root', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' };
const allow = (actions: string[]) => ({ Effect: 'Allow', Action: actions, Resource: '*' });



describe('multi-Region keys: authorization and audit', () => {
  let server: TestServer;
  const clients: KMSClient[] = [];
  const as = (profile: string, region = 'us-east-1'): KMSClient => {
    const c = readProfile(path.join(server.dataDir, 'credentials'), profile);
    const client = new KMSClient({ endpoint: server.url, region, credentials: { accessKeyId: c.id, secretAccessKey: c.secret }, maxAttempts: 1 });
    clients.push(client);
    return client;
  };
  const principals = {
    accounts: {
      [A]: {
        users: {
          // Everything on keys, but no new keys in eu-west-1.
          ops: {
            policies: {
              all: { Version: '2012-10-17', Statement: [allow(['kms:*'])] },
              'not-in-eu': { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'kms:CreateKey', Resource: '*', Condition: { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } } }] },
            },
            accessKeys: [{ profile: 'ops' }],
          },
          // May replicate, but not tag, nor set a key policy.
          plain: { policies: { some: { Version: '2012-10-17', Statement: [allow(['kms:CreateKey', 'kms:ReplicateKey', 'kms:DescribeKey'])] } }, accessKeys: [{ profile: 'plain' }] },
          // May do everything but create keys: no replica either.
          nocreate: { policies: { some: { Version: '2012-10-17', Statement: [allow(['kms:ReplicateKey', 'kms:DescribeKey'])] } }, accessKeys: [{ profile: 'nocreate' }] },
        },
      },
    },
  };

  before(async () => {
    // Request quotas off: this suite makes keys and replicas faster than AWS's 5 per second (quotas: e2e/limits).
    server = await startServer({ dev: false, args: ['--request-log', 'off', '--multi-region-transition-ms', '100', '--request-quotas', 'off'] });
    const file = path.join(server.dataDir, 'principals.json');
    writeFileSync(file, JSON.stringify(principals));
    await run(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'iam', 'apply', '--file', file, '--data-dir', server.dataDir]);
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await server?.stop();
  });

  it('ReplicateKey: kms:CreateKey in the replica Region (aws:RequestedRegion is the replica Region), kms:TagResource and kms:PutKeyPolicy when given', async () => {
    const root = as('trent');
    const primary = (await root.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!;
    const ops = as('ops');
    assert.deepEqual(await failure(ops.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' }))), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${A}:user/ops is not authorized to perform: kms:CreateKey on resource: * with an explicit deny in an identity-based policy`,
    });
    assert.equal((await ops.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }))).ReplicaKeyMetadata!.KeyState, 'Creating');
    const plain = as('plain');
    assert.deepEqual(await failure(plain.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'ap-south-1', Tags: [{ TagKey: 't', TagValue: 'v' }] }))), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${A}:user/plain is not authorized to perform: kms:TagResource on resource: * because no identity-based policy allows the kms:TagResource action`,
    });
    assert.equal((await failure(plain.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'ap-south-1', Policy: policy(everything) })))).name, 'AccessDeniedException');
    assert.deepEqual(await failure(as('nocreate').send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'ap-south-1' }))), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${A}:user/nocreate is not authorized to perform: kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action`,
    });
    assert.equal((await plain.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'ap-south-1' }))).ReplicaKeyMetadata!.Arn, arnIn('ap-south-1', primary.KeyId!));
  });

  it('key policies: kms:ReplicateKey on the primary with kms:ReplicaRegion; kms:UpdatePrimaryRegion on both keys with kms:PrimaryRegion', async () => {
    const root = as('trent');
    const primary = (await root.send(new CreateKeyCommand({
      MultiRegion: true,
      Policy: policy(everything, { Sid: 'only to us-west-2', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:ReplicateKey', Resource: '*', Condition: { StringNotEquals: { 'kms:ReplicaRegion': 'us-west-2' } } }),
    }))).KeyMetadata!;
    assert.deepEqual(await failure(root.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' }))), {
      name: 'AccessDeniedException',
      message: `User: ${ROOT} is not authorized to perform: kms:ReplicateKey on resource: ${primary.Arn} with an explicit deny in a resource-based policy`,
    });
    // The replica refuses to become the primary unless the new primary Region is its own... it is not: denied on the replica.
    const replicaPolicy = policy(everything, { Sid: 'stay a replica', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:UpdatePrimaryRegion', Resource: '*', Condition: { StringEquals: { 'kms:PrimaryRegion': 'us-west-2' } } });
    await root.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2', Policy: replicaPolicy }));
    const west = as('trent', 'us-west-2');
    await waitEnabled(west, primary.KeyId!);
    assert.deepEqual(await failure(root.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'us-west-2' }))), {
      name: 'AccessDeniedException',
      message: `User: ${ROOT} is not authorized to perform: kms:UpdatePrimaryRegion on resource: ${arnIn('us-west-2', primary.KeyId!)} with an explicit deny in a resource-based policy`,
    });
    // And on the primary: its own policy decides too.
    const second = (await root.send(new CreateKeyCommand({
      MultiRegion: true,
      Policy: policy(everything, { Sid: 'primary stays', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:UpdatePrimaryRegion', Resource: '*' }),
    }))).KeyMetadata!;
    await root.send(new ReplicateKeyCommand({ KeyId: second.KeyId, ReplicaRegion: 'us-west-2' }));
    await waitEnabled(west, second.KeyId!);
    assert.equal((await failure(root.send(new UpdatePrimaryRegionCommand({ KeyId: second.KeyId, PrimaryRegion: 'us-west-2' })))).name, 'AccessDeniedException');
  });

  it('kms:MultiRegion and kms:MultiRegionKeyType: a policy may allow use of replicas only', async () => {
    const root = as('trent');
    const onlyReplicas = policy(
      { Sid: 'admin', Effect: 'Allow', Principal: { AWS: ROOT }, Action: ['kms:Describe*', 'kms:Put*', 'kms:ReplicateKey', 'kms:Create*'], Resource: '*' },
      { Sid: 'use replicas', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'kms:MultiRegionKeyType': 'REPLICA' }, Bool: { 'kms:MultiRegion': 'true' } } },
    );
    const primary = (await root.send(new CreateKeyCommand({ MultiRegion: true, Policy: onlyReplicas }))).KeyMetadata!;
    await root.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1', Policy: onlyReplicas }));
    const eu = as('trent', 'eu-west-1');
    await waitEnabled(eu, primary.KeyId!);
    assert.equal((await failure(root.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('x') })))).name, 'AccessDeniedException');
    await eu.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('x') }));
  });

  it('audit: ReplicateKey recorded in the primary\'s Region, CreateKey in the replica\'s, UpdatePrimaryRegion in the primary\'s', async () => {
    const root = as('trent');
    const primary = (await root.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!;
    await root.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'ca-central-1' }));
    await waitEnabled(as('trent', 'ca-central-1'), primary.KeyId!);
    await root.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'ca-central-1' }));
    const { stdout } = await run(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'audit', 'lookup', '--data-dir', server.dataDir, '--key', primary.KeyId!]);
    const events = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { eventName: string; awsRegion: string; resources?: { ARN: string }[]; requestParameters?: Record<string, unknown> });
    const byName = (name: string) => events.filter((e) => e.eventName === name);
    assert.deepEqual(byName('ReplicateKey').map((e) => e.awsRegion), ['us-east-1']);
    const created = byName('CreateKey').filter((e) => e.awsRegion === 'ca-central-1');
    assert.equal(created.length, 1, 'the replica Region records a CreateKey event');
    assert.deepEqual(created[0]!.resources?.map((r) => r.ARN), [arnIn('ca-central-1', primary.KeyId!)]);
    assert.deepEqual(byName('UpdatePrimaryRegion').map((e) => e.awsRegion), ['us-east-1']);
  });
});

async function waitEnabled(c: KMSClient, keyId: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if ((await c.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState === 'Enabled') return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`${keyId} did not become Enabled`);
}
