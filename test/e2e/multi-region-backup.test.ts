// Multi-Region keys survive `trent backup` / `trent restore` and `trent root-key migrate` (issue #13): the relations
// (primary Region on every related key), every related key's own copy of the materials, and imported material ids
// (the same material keeps its id on every related key, before and after a change of root key).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createPublicKey, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GetParametersForImportCommand, ImportKeyMaterialCommand, KMSClient,
  ReplicateKeyCommand,
} from '@aws-sdk/client-kms';
import { wrapForImport } from '../../src/crypto/key-import.js';
import { devClient, repoRoot, startServer } from '../helpers/server.js';

function trent(args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), ...args], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, TRENT_ROOT_KEY_PASSPHRASE: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const importInto = async (c: KMSClient, KeyId: string, material: Buffer) => {
  const p = await c.send(new GetParametersForImportCommand({ KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
  const publicKey = createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' });
  return (await c.send(new ImportKeyMaterialCommand({
    KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapForImport(publicKey, 'RSAES_OAEP_SHA_256', material, randomBytes(32)),
    ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  }))).KeyMaterialId!;
};

async function untilEnabled(c: KMSClient, keyId: string, state = 'PendingImport'): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const s = (await c.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState;
    if (s === 'Enabled' || s === state) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`${keyId} stayed Creating`);
}

describe('multi-Region keys: backup, restore and root-key migration', () => {
  it('a restored store, then a migrated one, still relates the keys and decrypts every ciphertext in every Region', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'trent-mrk-backup-'));
    try {
      const sourceDir = path.join(work, 'source');
      const args = ['--request-log', 'off', '--multi-region-transition-ms', '50'];
      const source = await startServer({ dataDir: sourceDir, args });
      let east = devClient(source.url, { region: 'us-east-1' });
      let west = devClient(source.url, { region: 'us-west-2' });
      const generated = (await east.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!;
      await east.send(new ReplicateKeyCommand({ KeyId: generated.KeyId, ReplicaRegion: 'us-west-2', Description: 'replica' }));
      await untilEnabled(west, generated.KeyId!);
      const material = randomBytes(32);
      const imported = (await east.send(new CreateKeyCommand({ MultiRegion: true, Origin: 'EXTERNAL' }))).KeyMetadata!;
      const materialId = await importInto(east, imported.KeyId!, material);
      await east.send(new ReplicateKeyCommand({ KeyId: imported.KeyId, ReplicaRegion: 'us-west-2' }));
      await untilEnabled(west, imported.KeyId!);
      assert.equal(await importInto(west, imported.KeyId!, material), materialId);
      const blobs = [
        (await east.send(new EncryptCommand({ KeyId: generated.KeyId, Plaintext: Buffer.from('generated, east') }))).CiphertextBlob!,
        (await west.send(new EncryptCommand({ KeyId: generated.KeyId, Plaintext: Buffer.from('generated, west') }))).CiphertextBlob!,
        (await west.send(new EncryptCommand({ KeyId: imported.KeyId, Plaintext: Buffer.from('imported, west') }))).CiphertextBlob!,
      ];
      const texts = ['generated, east', 'generated, west', 'imported, west'];
      const configurations = async () => Promise.all([east, west].flatMap((c) => [generated, imported].map(async (k) => {
        const md = (await c.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!;
        return [md.Arn, md.KeyState, md.Description, md.CurrentKeyMaterialId, md.MultiRegionConfiguration];
      })));
      const before = await configurations();
      const decryptsEverywhere = async () => {
        for (const c of [east, west]) {
          for (const [i, blob] of blobs.entries()) assert.equal(Buffer.from((await c.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), texts[i]);
        }
      };
      east.destroy();
      west.destroy();
      assert.equal(await source.stop({ keepData: true }), 0);

      const file = path.join(work, 'trent.backup');
      const b = trent(['backup', '--data-dir', sourceDir, '--out', file]);
      assert.equal(b.status, 0, b.stderr);
      assert.match(b.stdout, /4 keys, 4 key materials/);
      const targetDir = path.join(work, 'target');
      mkdirSync(targetDir, { mode: 0o700 });
      copyFileSync(path.join(sourceDir, 'root-key'), path.join(targetDir, 'root-key'));
      const r = trent(['restore', '--data-dir', targetDir, '--in', file]);
      assert.equal(r.status, 0, r.stderr);

      const restored = await startServer({ dataDir: targetDir, args });
      east = devClient(restored.url, { region: 'us-east-1' });
      west = devClient(restored.url, { region: 'us-west-2' });
      assert.deepEqual(await configurations(), before);
      await decryptsEverywhere();
      east.destroy();
      west.destroy();
      assert.equal(await restored.stop({ keepData: true }), 0);

      const newRootKey = path.join(work, 'new-root-key');
      const m = trent(['root-key', 'migrate', '--data-dir', targetDir, '--to-file', newRootKey]);
      assert.equal(m.status, 0, m.stderr);
      assert.match(m.stdout, /re-wrapped and verified 4 key materials/);
      const migrated = await startServer({ dataDir: targetDir, args: [...args, '--root-key-file', newRootKey] });
      east = devClient(migrated.url, { region: 'us-east-1' });
      west = devClient(migrated.url, { region: 'us-west-2' });
      try {
        assert.deepEqual(await configurations(), before);
        await decryptsEverywhere();
        // The relation still works: a new replica takes the materials, and the same imported material keeps its id.
        const eu = devClient(migrated.url, { region: 'eu-west-1' });
        await east.send(new ReplicateKeyCommand({ KeyId: generated.KeyId, ReplicaRegion: 'eu-west-1' }));
        await east.send(new ReplicateKeyCommand({ KeyId: imported.KeyId, ReplicaRegion: 'eu-west-1' }));
        await untilEnabled(eu, generated.KeyId!);
        await untilEnabled(eu, imported.KeyId!);
        assert.equal(await importInto(eu, imported.KeyId!, material), materialId);
        for (const [i, blob] of blobs.entries()) assert.equal(Buffer.from((await eu.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), texts[i]);
        eu.destroy();
      } finally {
        east.destroy();
        west.destroy();
        await migrated.stop({ keepData: true });
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
