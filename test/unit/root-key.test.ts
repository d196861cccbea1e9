import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { materialWrapContext } from '../../src/keystores/local/local-keystore.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { systemRandom } from '../../src/main.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'trent-root-'));

describe('root key', () => {
  it('creates a 0600 key file once and reads the same key back', async () => {
    const file = path.join(tmp(), 'root-key');
    const a = await RootKey.fromFile(file, systemRandom);
    assert.equal(a.created, true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const b = await RootKey.fromFile(file, systemRandom);
    assert.equal(b.created, false);
    const wrapped = a.rootKey.wrap(['test'], Buffer.from('material'));
    assert.equal(b.rootKey.unwrap(['test'], wrapped)?.toString(), 'material');
  });

  it('binds wrapped material to its key ARN and material id', () => {
    const root = RootKey.fromBytes(Buffer.alloc(32, 9));
    const wrapped = root.wrap(materialWrapContext('arn:k1', 'aa'), Buffer.alloc(32, 1));
    assert.ok(root.unwrap(materialWrapContext('arn:k1', 'aa'), wrapped));
    assert.equal(root.unwrap(materialWrapContext('arn:k2', 'aa'), wrapped), undefined);
    assert.equal(root.unwrap(materialWrapContext('arn:k1', 'ab'), wrapped), undefined);
    assert.equal(RootKey.fromBytes(Buffer.alloc(32, 8)).unwrap(materialWrapContext('arn:k1', 'aa'), wrapped), undefined);
  });

  it('derives the same key from the same passphrase and refuses a store made with another', async () => {
    const storage = new SqliteStorage(path.join(tmp(), 'db'));
    await storage.migrate();
    const a = await RootKey.fromPassphrase('correct horse battery staple', storage, systemRandom);
    await a.verifyAgainst(storage);
    const b = await RootKey.fromPassphrase('correct horse battery staple', storage, systemRandom);
    await b.verifyAgainst(storage);
    assert.equal(b.unwrap(['x'], a.wrap(['x'], Buffer.from('s')))?.toString(), 's');
    const wrong = await RootKey.fromPassphrase('incorrect horse battery staple', storage, systemRandom);
    await assert.rejects(wrong.verifyAgainst(storage), /does not match this data store/);
    await storage.close();
  });

  it('never shows the key when logged or serialized', async () => {
    const root = RootKey.fromBytes(Buffer.alloc(32, 0x41));
    const { inspect } = await import('node:util');
    assert.doesNotMatch(inspect(root, { showHidden: true, depth: 5 }), /AAAA|4141/);
    assert.doesNotMatch(JSON.stringify(root), /AAAA|4141/);
  });
});
