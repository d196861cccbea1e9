import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gcmEncryptWithIv } from '../../src/crypto/aes-gcm.js';
import { encodeBlob, encodeBlobHeader, parseBlob } from '../../src/domain/ciphertext-blob.js';
import { encodeEncryptionContext } from '../../src/domain/encryption-context.js';
import { openSymmetric, sealSymmetric } from '../../src/domain/symmetric.js';
import type { KeyRecord } from '../../src/domain/ports.js';
import { LocalKeyStore } from '../../src/keystores/local/local-keystore.js';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { systemClock, systemRandom } from '../../src/main.js';
import { readVectors } from '../helpers/paths.js';

interface Vector {
  name: string; material: string; iv: string; keyArn: string; materialId: string; plaintext: string;
  encryptionContext: Record<string, string>; encodedContext: string; blob: string;
}
const { vectors } = readVectors<{ vectors: Vector[] }>('ciphertext-v1.json');
const h = (s: string) => Buffer.from(s, 'hex');

describe('ciphertext blob v1 test vectors (made by an independent Python implementation)', () => {
  for (const v of vectors) {
    it(`encodes and parses "${v.name}"`, () => {
      assert.equal(encodeEncryptionContext(v.encryptionContext).toString('hex'), v.encodedContext);
      const header = encodeBlobHeader({ keyArn: v.keyArn, materialId: v.materialId });
      const aad = Buffer.concat([header, encodeEncryptionContext(v.encryptionContext)]);
      const sealed = gcmEncryptWithIv(h(v.material), h(v.iv), h(v.plaintext), aad);
      assert.equal(encodeBlob(header, sealed.iv, sealed.ciphertext, sealed.tag).toString('hex'), v.blob);
      const parsed = parseBlob(h(v.blob));
      assert.ok(parsed);
      assert.equal(parsed.keyArn, v.keyArn);
      assert.equal(parsed.materialId, v.materialId);
      assert.equal(parsed.iv.toString('hex'), v.iv);
    });
  }

  it('gives different bytes for {"a":"bc"} and {"ab":"c"}', () => {
    const a = vectors.find((v) => v.name === 'a/bc')!;
    const b = vectors.find((v) => v.name === 'ab/c')!;
    assert.notEqual(a.encodedContext, b.encodedContext);
    assert.notEqual(a.blob, b.blob);
  });

  it('encodes a context independently of member order', () => {
    assert.deepEqual(encodeEncryptionContext({ x: '1', y: '2' }), encodeEncryptionContext({ y: '2', x: '1' }));
    assert.deepEqual(encodeEncryptionContext(undefined), encodeEncryptionContext({}));
  });
});

describe('ciphertext tampering', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trent-blob-'));
  const { rootKey } = await RootKey.fromFile(path.join(dir, 'root-key'), systemRandom);
  const keystore = new LocalKeyStore(rootKey, systemRandom, systemClock);
  const arn = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const materialId = 'ab'.repeat(32);
  const material = await keystore.createMaterial(arn, materialId, 'SYMMETRIC_DEFAULT');
  const key = { arn } as KeyRecord;
  const context = { tenant: 'blue' };
  const blob = await sealSymmetric(keystore, key, material, Buffer.from('the crown jewels'), context);

  const open = async (bytes: Buffer, ctx: Record<string, string> = context) => {
    const parsed = parseBlob(bytes);
    if (!parsed || parsed.keyArn !== arn || parsed.materialId !== materialId) return undefined;
    return (await openSymmetric(keystore, parsed, material, ctx))?.unsafeBytes().toString();
  };

  it('opens the untouched blob', async () => {
    assert.equal(await open(blob), 'the crown jewels');
  });

  it('refuses a single flipped bit anywhere in the blob', async () => {
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i]! ^= 0x01;
      assert.equal(await open(bad), undefined, `bit flip at byte ${i} was accepted`);
    }
  });

  it('refuses truncation and extension', async () => {
    for (const n of [0, 1, 3, 20, blob.length - 17, blob.length - 1]) assert.equal(await open(blob.subarray(0, n)), undefined, `truncated to ${n}`);
    assert.equal(await open(Buffer.concat([blob, Buffer.of(0)])), undefined);
  });

  it('refuses another encryption context', async () => {
    assert.equal(await open(blob, {}), undefined);
    assert.equal(await open(blob, { tenant: 'Blue' }), undefined);
    assert.equal(await open(blob, { tenant: 'blue', extra: '' }), undefined);
  });

  it('refuses another key material', async () => {
    const other = await keystore.createMaterial(arn, 'cd'.repeat(32), 'SYMMETRIC_DEFAULT');
    const parsed = parseBlob(blob)!;
    assert.equal(await openSymmetric(keystore, parsed, other, context), undefined);
  });
});
