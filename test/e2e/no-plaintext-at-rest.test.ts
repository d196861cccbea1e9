// Proves the storage rule of issue #2: no plaintext, data key or key material in the clear on disk or in the logs.
// Encrypts a recognisable plaintext and makes data keys through a real server, then greps every file of the data
// dir (the SQLite database with its WAL and SHM files, while running and after a clean stop) and the server's
// stdout/stderr. The key material is recovered the way an attacker holding the root key file would: unwrap the
// stored form with the root key, so we know exactly which bytes must not appear.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { sqliteDriver } from '../../src/storage/sqlite/driver.js';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient, ReEncryptCommand } from '@aws-sdk/client-kms';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { materialWrapContext } from '../../src/keystores/local/local-keystore.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

interface Haystack {
  readonly name: string;
  readonly bytes: Buffer;
}

function filesUnder(dir: string): Haystack[] {
  const out: Haystack[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push({ name: path.relative(dir, p) || name, bytes: readFileSync(p) });
  }
  return out;
}

/** The forms a secret could leak in: raw bytes, hex (both cases) and base64 (standard and URL-safe). */
function forms(secret: Buffer): { form: string; bytes: Buffer }[] {
  const hex = secret.toString('hex');
  return [
    { form: 'raw', bytes: secret },
    { form: 'hex', bytes: Buffer.from(hex) },
    { form: 'HEX', bytes: Buffer.from(hex.toUpperCase()) },
    { form: 'base64', bytes: Buffer.from(secret.toString('base64')) },
    { form: 'base64url', bytes: Buffer.from(secret.toString('base64url')) },
  ];
}

/** Every (haystack, form) where the secret appears. */
function leaks(haystacks: readonly Haystack[], secret: Buffer): string[] {
  const found: string[] = [];
  for (const { form, bytes } of forms(secret)) for (const h of haystacks) if (h.bytes.includes(bytes)) found.push(`${form} in ${h.name}`);
  return found;
}

describe('no plaintext, data keys or key material at rest or in logs', () => {
  let server: TestServer;
  let kms: KMSClient;
  const plaintext = Buffer.from(`TRENT-CANARY-${randomBytes(12).toString('hex')}-do-not-store`);
  const dataKeys: Buffer[] = [];
  let keyArns: string[] = [];
  const snapshots: Haystack[] = [];

  before(async () => {
    server = await startServer();
    kms = devClient(server.url);
    keyArns = [];
    for (const description of ['at-rest A', 'at-rest B']) {
      keyArns.push((await kms.send(new CreateKeyCommand({ Description: description }))).KeyMetadata!.Arn!);
    }
    const enc = await kms.send(new EncryptCommand({ KeyId: keyArns[0], Plaintext: plaintext, EncryptionContext: { canary: 'yes' } }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { canary: 'yes' } }));
    assert.ok(Buffer.from(dec.Plaintext!).equals(plaintext));
    await kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { canary: 'yes' }, DestinationKeyId: keyArns[1] }));
    for (const spec of [{ KeySpec: 'AES_256' as const }, { KeySpec: 'AES_128' as const }, { NumberOfBytes: 64 }]) {
      for (const keyId of keyArns) {
        const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, ...spec }));
        dataKeys.push(Buffer.from(dk.Plaintext!));
        await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
      }
    }
    // While the server runs, the newest pages live in the WAL (trent.db-wal) and the SHM index.
    const live = filesUnder(server.dataDir);
    assert.ok(live.some((f) => f.name === 'trent.db-wal'), `expected a WAL file while running, found ${live.map((f) => f.name).join(', ')}`);
    snapshots.push(...live.map((f) => ({ name: `${f.name} (while running)`, bytes: f.bytes })));
    await server.stop({ keepData: true });
    snapshots.push(...filesUnder(server.dataDir).map((f) => ({ name: `${f.name} (after stop)`, bytes: f.bytes })));
    snapshots.push({ name: 'server stdout', bytes: Buffer.from(server.stdout()) }, { name: 'server stderr', bytes: Buffer.from(server.stderr()) });
  });
  after(async () => {
    kms?.destroy();
    if (!server) return;
    await server.stop({ keepData: true }); // no-op when before() already stopped it
    rmSync(server.dataDir, { recursive: true, force: true });
  });

  it('captured the request log (the grep looks where the requests were logged)', () => {
    const stdout = server.stdout();
    assert.ok(stdout.split('\n').filter((l) => l.includes('"operation":"GenerateDataKey"')).length >= 6, stdout);
    assert.ok(stdout.includes(keyArns[0]!));
  });

  it('stores neither the plaintext nor the data keys, in any encoding', () => {
    assert.deepEqual(leaks(snapshots, plaintext), []);
    assert.equal(dataKeys.length, 6);
    for (const dk of dataKeys) assert.deepEqual(leaks(snapshots, dk), [], `data key ${dataKeys.indexOf(dk)}`);
  });

  it('stores key material only wrapped under the root key', () => {
    const rootKeyText = readFileSync(path.join(server.dataDir, 'root-key'), 'utf8');
    const rootKey = RootKey.fromBytes(Buffer.from(rootKeyText.trim(), 'base64'));
    const { Database } = sqliteDriver();
    const db = new Database(path.join(server.dataDir, 'trent.db'), { readonly: true });
    let rows: { key_arn: string; material_id: string; wrapped: Buffer }[];
    try {
      rows = db.prepare('SELECT key_arn, material_id, wrapped FROM key_materials').all() as typeof rows;
    } finally {
      db.close();
    }
    assert.deepEqual(rows.map((r) => r.key_arn).sort(), [...keyArns].sort());
    for (const row of rows) {
      const material = rootKey.unwrap(materialWrapContext(row.key_arn, row.material_id), row.wrapped);
      assert.ok(material, `material ${row.material_id} unwraps under the root key`);
      assert.equal(material.length, 32);
      // Sanity: the search does find what is there (the wrapped form, in the database file).
      assert.ok(leaks(snapshots, row.wrapped).some((w) => w.startsWith('raw in trent.db')), 'the wrapped material is found in trent.db');
      assert.deepEqual(leaks(snapshots, material), [], `material of ${row.key_arn}`);
      // Bound to its key: the same wrapped bytes do not unwrap for another key.
      const other = keyArns.find((a) => a !== row.key_arn)!;
      assert.equal(rootKey.unwrap(materialWrapContext(other, row.material_id), row.wrapped), undefined);
    }
    // The root key itself is only in its own file, never in the database or the logs.
    const rootBytes = Buffer.from(rootKeyText.trim(), 'base64');
    const rootKeyHits = leaks(snapshots, rootBytes);
    assert.ok(rootKeyHits.includes('base64 in root-key (after stop)'), 'sanity: the root key is found in its own file');
    assert.deepEqual(rootKeyHits.filter((w) => !/ in root-key \(/.test(w)), []);
  });
});
