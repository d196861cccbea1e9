// The local key store's material per key spec: AWS's sizes, PKCS#8 at rest, always wrapped; HMAC equals openssl's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { LocalKeyStore, materialWrapContext } from '../../src/keystores/local/local-keystore.js';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { systemClock, systemRandom } from '../../src/main.js';

describe('local key store material per key spec', () => {
  const root = RootKey.fromBytes(randomBytes(32));
  const store = new LocalKeyStore(root, systemRandom, systemClock);
  const arn = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const unwrap = (m: { keyArn: string; materialId: string; wrapped: Buffer }): Buffer => root.unwrap(materialWrapContext(m.keyArn, m.materialId), m.wrapped)!;

  it('makes HMAC keys of the spec size whose MACs equal `openssl mac`', async () => {
    const message = Buffer.from('interoperability');
    for (const [spec, bytes, hash] of [['HMAC_224', 28, 'sha224'], ['HMAC_256', 32, 'sha256'], ['HMAC_384', 48, 'sha384'], ['HMAC_512', 64, 'sha512']] as const) {
      const material = await store.createMaterial(arn, `${spec.toLowerCase()}`.padEnd(64, '0'), spec);
      const key = unwrap(material);
      assert.equal(key.length, bytes);
      assert.ok(!material.wrapped.includes(key), 'stored wrapped, never in the clear');
      const mine = await store.mac(material, spec, hash, message);
      const theirs = execFileSync('openssl', ['mac', '-digest', hash.toUpperCase(), '-macopt', `hexkey:${key.toString('hex')}`, 'HMAC'], { input: message, encoding: 'utf8' });
      assert.equal(mine.toString('hex'), theirs.trim().toLowerCase());
    }
  });

  it('copies material for a multi-Region replica: the same key, wrapped for the replica ARN only', async () => {
    const replicaArn = arn.replace('us-east-1', 'eu-west-1');
    const original = await store.createMaterial(arn, 'ab'.repeat(32), 'SYMMETRIC_DEFAULT');
    const copy = await store.copyMaterial(original, replicaArn);
    assert.deepEqual([copy.keyArn, copy.materialId, copy.createdAt], [replicaArn, original.materialId, original.createdAt]);
    assert.deepEqual(unwrap(copy), unwrap(original));
    assert.ok(!copy.wrapped.includes(unwrap(original)), 'stored wrapped, never in the clear');
    assert.equal(root.unwrap(materialWrapContext(arn, original.materialId), copy.wrapped), undefined, 'bound to the replica ARN');
    assert.notDeepEqual(copy.wrapped, original.wrapped);
    // An erased imported material stays erased.
    const erased = await store.copyMaterial({ ...original, wrapped: Buffer.alloc(0) }, replicaArn);
    assert.equal(erased.wrapped.length, 0);
  });

  it('keeps key pairs as PKCS#8 DER at rest, and serves them again from the wrapped form alone', async () => {
    for (const [spec, type] of [['ECC_NIST_P384', 'ec'], ['ECC_NIST_EDWARDS25519', 'ed25519']] as const) {
      const material = await store.createMaterial(arn, spec.toLowerCase().padEnd(64, '1').slice(0, 64), spec);
      const der = unwrap(material);
      assert.equal(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).asymmetricKeyType, type);
      const before = await store.publicKey(material, spec);
      store.forget(arn);
      const fresh = new LocalKeyStore(root, systemRandom, systemClock);
      assert.deepEqual(await fresh.publicKey(material, spec), before);
    }
  });

  it('keeps ML-DSA keys as seed-only PKCS#8 (RFC 9881) at rest, and serves them again from the wrapped form alone', async () => {
    const material = await store.createMaterial(arn, '3'.repeat(64), 'ML_DSA_65');
    const der = unwrap(material);
    assert.equal(der.length, 54, 'version, AlgorithmIdentifier and the 32-byte seed');
    assert.equal(der.subarray(0, 22).toString('hex'), '3034020100300b0609608648016503040312' + '04228020');
    const before = await store.publicKey(material, 'ML_DSA_65');
    const sig = await store.sign(material, 'ML_DSA_65', { kind: 'ml-dsa' }, Buffer.from('m'), false);
    store.forget(arn);
    const fresh = new LocalKeyStore(root, systemRandom, systemClock);
    assert.deepEqual(await fresh.publicKey(material, 'ML_DSA_65'), before);
    assert.equal(await fresh.verify(material, 'ML_DSA_65', { kind: 'ml-dsa' }, Buffer.from('m'), false, sig), true);
  });

  it('keeps SM2 keys as PKCS#8 (id-ecPublicKey, SM2 curve OID) at rest, loadable by OpenSSL, and serves them again', async () => {
    const material = await store.createMaterial(arn, '2'.repeat(64), 'SM2');
    const der = unwrap(material);
    assert.equal(der.length, 138);
    assert.equal(der.subarray(0, 36).toString('hex'), '308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420');
    const spki = await store.publicKey(material, 'SM2');
    assert.deepEqual(execFileSync('openssl', ['pkey', '-inform', 'der', '-pubout', '-outform', 'der'], { input: der }), spki);
    const sig = await store.sign(material, 'SM2', { kind: 'sm2dsa' }, Buffer.from('m'), false);
    const ct = await store.encryptAsymmetric(material, 'SM2', { kind: 'sm2pke' }, Buffer.from('p'));
    store.forget(arn);
    const fresh = new LocalKeyStore(root, systemRandom, systemClock);
    assert.deepEqual(await fresh.publicKey(material, 'SM2'), spki);
    assert.equal(await fresh.verify(material, 'SM2', { kind: 'sm2dsa' }, Buffer.from('m'), false, sig), true);
    assert.equal((await fresh.decryptAsymmetric(material, 'SM2', { kind: 'sm2pke' }, ct))?.unsafeBytes().toString(), 'p');
  });
});
