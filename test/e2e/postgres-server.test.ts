import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EncryptCommand, ListAliasesCommand,
} from '@aws-sdk/client-kms';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { ROOT } from '../helpers/paths.js';
import { devClient, startServer } from '../helpers/server.js';

const skip = postgresSkipReason();

describe('Trent on PostgreSQL', { skip }, () => {
  it('serves create/encrypt/decrypt through the SDK and keeps everything across a restart', async () => {
    const url = await (await postgresCluster()).createDatabase();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-pg-e2e-'));
    try {
      const first = await startServer({ dataDir, args: ['--store', url] });
      assert.match(first.stderr(), /Store: PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:\d+\/t_/);
      let kms = devClient(first.url);
      const key = await kms.send(new CreateKeyCommand({ Description: 'on postgres', Tags: [{ TagKey: 'team', TagValue: 'storage' }] }));
      const keyId = key.KeyMetadata!.KeyId!;
      await kms.send(new CreateAliasCommand({ AliasName: 'alias/pg', TargetKeyId: keyId }));
      const enc = await kms.send(new EncryptCommand({ KeyId: 'alias/pg', Plaintext: Buffer.from('stored in postgres'), EncryptionContext: { app: 'pg' } }));
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { app: 'pg' } }));
      assert.equal(Buffer.from(dec.Plaintext!).toString(), 'stored in postgres');
      const other = await kms.send(new CreateKeyCommand({}));
      await kms.send(new DisableKeyCommand({ KeyId: other.KeyMetadata!.KeyId }));
      kms.destroy();
      assert.equal(await first.stop({ keepData: true }), 0);
      assert.equal(existsSync(path.join(dataDir, 'trent.db')), false, 'no SQLite file: the state is in PostgreSQL');
      assert.ok(existsSync(path.join(dataDir, 'root-key')), 'the root key file stays in the data dir');

      const second = await startServer({ dataDir, args: ['--store', url] });
      assert.doesNotMatch(second.stderr(), /Created a new root key|Created administrator credentials/);
      kms = devClient(second.url);
      const again = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { app: 'pg' } }));
      assert.equal(Buffer.from(again.Plaintext!).toString(), 'stored in postgres');
      assert.equal(again.KeyId, key.KeyMetadata!.Arn);
      const aliases = await kms.send(new ListAliasesCommand({ KeyId: keyId }));
      assert.deepEqual(aliases.Aliases!.map((a) => a.AliasName), ['alias/pg']);
      const disabled = await kms.send(new DescribeKeyCommand({ KeyId: other.KeyMetadata!.KeyId }));
      assert.equal(disabled.KeyMetadata!.KeyState, 'Disabled');
      kms.destroy();
      assert.equal(await second.stop({ keepData: true }), 0);

      // Another data dir means another root key: the database's check value refuses it.
      const strangerDir = mkdtempSync(path.join(tmpdir(), 'trent-pg-stranger-'));
      try {
        const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), 'serve', '--dev', '--port', '0', '--data-dir', strangerDir, '--store', url], {
          encoding: 'utf8', timeout: 20_000,
        });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /root key does not match this data store/);
      } finally {
        rmSync(strangerDir, { recursive: true, force: true });
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start when PostgreSQL cannot be reached, without a stack trace', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-pg-down-'));
    try {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), 'serve', '--dev', '--port', '0', '--data-dir', dataDir, '--store', 'postgres://nobody:pw@127.0.0.1:1/none'], {
        encoding: 'utf8', timeout: 30_000,
      });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^trent: .*ECONNREFUSED/m);
      assert.doesNotMatch(r.stderr, /pw@/, 'the password is not printed');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
