import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { devClient, startServer } from '../helpers/server.js';
import { ROOT } from '../helpers/paths.js';

describe('durability', () => {
  it('keeps keys across a restart: ciphertext made before decrypts after', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-restart-'));
    try {
      const first = await startServer({ dataDir });
      let kms = devClient(first.url);
      const key = await kms.send(new CreateKeyCommand({ Description: 'survives' }));
      const enc = await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: Buffer.from('persisted'), EncryptionContext: { a: 'b' } }));
      kms.destroy();
      assert.equal(await first.stop(), 0);

      const second = await startServer({ dataDir });
      kms = devClient(second.url);
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: 'b' } }));
      assert.equal(Buffer.from(dec.Plaintext!).toString(), 'persisted');
      assert.doesNotMatch(second.stderr(), /Created a new root key|Created administrator credentials/);
      const { readdirSync, statSync } = await import('node:fs');
      for (const f of readdirSync(dataDir)) assert.equal(statSync(path.join(dataDir, f)).mode & 0o077, 0, `${f} is readable by others`);
      kms.destroy();
      await second.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start with a root key that is not the store\'s', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-wrongroot-'));
    try {
      const first = await startServer({ dataDir });
      await first.stop();
      writeFileSync(path.join(dataDir, 'root-key'), `${Buffer.alloc(32, 1).toString('base64')}\n`);
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), 'serve', '--dev', '--port', '0', '--data-dir', dataDir], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /root key does not match this data store/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('derives the root key from TRENT_ROOT_KEY_PASSPHRASE and writes no key file', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-pass-'));
    try {
      const env = { TRENT_ROOT_KEY_PASSPHRASE: 'a long deployment passphrase' };
      const first = await startServer({ dataDir, env });
      let kms = devClient(first.url);
      const key = await kms.send(new CreateKeyCommand({}));
      const enc = await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: Buffer.from('p') }));
      kms.destroy();
      await first.stop();
      const { existsSync } = await import('node:fs');
      assert.equal(existsSync(path.join(dataDir, 'root-key')), false);
      const second = await startServer({ dataDir, env });
      kms = devClient(second.url);
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
      assert.equal(Buffer.from(dec.Plaintext!).toString(), 'p');
      kms.destroy();
      await second.stop();
      const wrong = spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), 'serve', '--dev', '--port', '0', '--data-dir', dataDir], {
        encoding: 'utf8', timeout: 20_000, env: { ...process.env, TRENT_ROOT_KEY_PASSPHRASE: 'another long passphrase' },
      });
      assert.equal(wrong.status, 1);
      assert.match(wrong.stderr, /root key does not match/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
