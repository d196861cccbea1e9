// Two nodes on one PostgreSQL database: `trent aws-managed-key create` run beside them, and the per-key alias and tag
// caches of ABAC policies kept coherent between the nodes by the change feed (LISTEN/NOTIFY).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DeleteAliasCommand, DescribeKeyCommand, EncryptCommand, TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-kms';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { errorName, within } from '../helpers/poll.js';
import { devClient, repoRoot, startServer } from '../helpers/server.js';

const skip = postgresSkipReason();
const ROOT = 'arn:aws:iam::111122223333:root';

describe('AWS managed keys and ABAC caches on PostgreSQL (two nodes)', { skip }, () => {
  it('both nodes see a new AWS managed key, and alias and tag changes made on the other node', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-pg-managed-'));
    const args = ['--store', url, '--service-access-keys', 'rds-service=rds'];
    const a = await startServer({ dataDir, args });
    // Each node has a data dir of its own (one process per data dir), with the same root key file.
    const dataDirB = mkdtempSync(path.join(tmpdir(), 'trent-pg-managed-b-'));
    copyFileSync(path.join(dataDir, 'root-key'), path.join(dataDirB, 'root-key'));
    const b = await startServer({ dataDir: dataDirB, args });
    const kmsA = devClient(a.url);
    const kmsB = devClient(b.url);
    const rdsB = devClient(b.url, { accessKeyId: 'rds-service' });
    try {
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'aws-managed-key', 'create', '--service', 'rds', '--store', url, '--data-dir', dataDir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      for (const kms of [kmsA, kmsB]) assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/rds' }))).KeyMetadata!.KeyManager, 'AWS');
      assert.equal((await rdsB.send(new EncryptCommand({ KeyId: 'alias/aws/rds', Plaintext: Buffer.from('db page') }))).KeyId !== undefined, true);

      const policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: ROOT }, Action: ['kms:PutKeyPolicy', 'kms:TagResource', 'kms:UntagResource', 'kms:CreateAlias', 'kms:DeleteAlias', 'kms:DescribeKey'], Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:Encrypt', Resource: '*', Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/app' }, StringEquals: { 'aws:ResourceTag/Env': 'prod' } } },
        ],
      });
      const arn = (await kmsA.send(new CreateKeyCommand({ Policy: policy, Tags: [{ TagKey: 'Env', TagValue: 'prod' }] }))).KeyMetadata!.Arn!;
      const encryptOnB = () => errorName(kmsB.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })));
      assert.equal(await encryptOnB(), 'AccessDeniedException'); // B caches: no aliases
      await kmsA.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: arn }));
      await within(5_000, 'B sees the new alias', async () => (await encryptOnB()) === undefined);
      await kmsA.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'Env', TagValue: 'dev' }] }));
      await within(5_000, 'B sees the changed tag', async () => (await encryptOnB()) === 'AccessDeniedException');
      await kmsA.send(new UntagResourceCommand({ KeyId: arn, TagKeys: ['Env'] }));
      await kmsA.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'Env', TagValue: 'prod' }] }));
      await within(5_000, 'B sees the tag back', async () => (await encryptOnB()) === undefined);
      await kmsA.send(new DeleteAliasCommand({ AliasName: 'alias/app' }));
      await within(5_000, 'B sees the alias gone', async () => (await encryptOnB()) === 'AccessDeniedException');
    } finally {
      for (const c of [kmsA, kmsB, rdsB]) c.destroy();
      await a.stop({ keepData: true });
      await b.stop({ keepData: true });
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(dataDirB, { recursive: true, force: true });
    }
  });
});
