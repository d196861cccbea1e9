import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gcmDecrypt, gcmEncrypt, gcmEncryptWithIv } from '../../src/crypto/aes-gcm.js';
import { SecretBytes } from '../../src/crypto/secret-bytes.js';
import { hmac } from '../../src/crypto/hmac.js';

const h = (s: string) => Buffer.from(s, 'hex');

// Known answers from "The Galois/Counter Mode of Operation (GCM)", McGrew & Viega, test cases 13-16 (AES-256).
const VECTORS = [
  { name: 'TC13', key: '00'.repeat(32), iv: '00'.repeat(12), pt: '', aad: '', ct: '', tag: '530f8afbc74536b9a963b4f1c4cb738b' },
  { name: 'TC14', key: '00'.repeat(32), iv: '00'.repeat(12), pt: '00'.repeat(16), aad: '', ct: 'cea7403d4d606b6e074ec5d3baf39d18', tag: 'd0d1c8a799996bf0265b98b5d48ab919' },
  {
    name: 'TC16',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    iv: 'cafebabefacedbaddecaf888',
    pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];

describe('AES-256-GCM', () => {
  for (const v of VECTORS) {
    it(`matches the GCM spec known answer ${v.name}`, () => {
      const sealed = gcmEncryptWithIv(h(v.key), h(v.iv), h(v.pt), h(v.aad));
      assert.equal(sealed.ciphertext.toString('hex'), v.ct);
      assert.equal(sealed.tag.toString('hex'), v.tag);
      assert.equal(gcmDecrypt(h(v.key), sealed, h(v.aad))?.toString('hex'), v.pt);
      // The same with the key as a KeyObject (what the keystores pass: SecretBytes.keyObject).
      const key = new SecretBytes(h(v.key)).keyObject();
      const viaKeyObject = gcmEncryptWithIv(key, h(v.iv), h(v.pt), h(v.aad));
      assert.deepEqual([viaKeyObject.ciphertext.toString('hex'), viaKeyObject.tag.toString('hex')], [v.ct, v.tag]);
      assert.equal(gcmDecrypt(key, sealed, h(v.aad))?.toString('hex'), v.pt);
    });
  }

  it('takes 128-bit keys as KeyObjects too, and refuses other sizes', () => {
    const key = new SecretBytes(Buffer.alloc(16, 3));
    const sealed = gcmEncrypt(key.keyObject(), Buffer.from('m'), Buffer.alloc(0));
    assert.equal(gcmDecrypt(key.unsafeBytes(), sealed, Buffer.alloc(0))?.toString(), 'm');
    assert.throws(() => gcmEncrypt(new SecretBytes(Buffer.alloc(20)).keyObject(), Buffer.from('m'), Buffer.alloc(0)), /16, 24 or 32 bytes, got 20/);
  });

  it('SecretBytes: the KeyObject is made once, and wipe() drops it with the bytes', () => {
    const secret = new SecretBytes(Buffer.alloc(32, 9));
    assert.equal(secret.keyObject(), secret.keyObject());
    assert.deepEqual(hmac('sha256', secret.keyObject(), Buffer.from('x')), hmac('sha256', Buffer.alloc(32, 9), Buffer.from('x')));
    secret.wipe();
    assert.deepEqual(secret.keyObject().export(), Buffer.alloc(32), 'a key made after wipe() holds the zeroed bytes, not the old key');
  });

  it('chooses a fresh IV for every encryption', () => {
    const key = Buffer.alloc(32, 7);
    const ivs = new Set(Array.from({ length: 100 }, () => gcmEncrypt(key, Buffer.from('x'), Buffer.alloc(0)).iv.toString('hex')));
    assert.equal(ivs.size, 100);
  });

  it('refuses tampered ciphertext, tag, IV, AAD and the wrong key', () => {
    const key = Buffer.alloc(32, 1);
    const aad = Buffer.from('context');
    const sealed = gcmEncrypt(key, Buffer.from('secret message'), aad);
    const flip = (b: Buffer, i: number) => {
      const c = Buffer.from(b);
      c[i]! ^= 1;
      return c;
    };
    assert.equal(gcmDecrypt(key, { ...sealed, ciphertext: flip(sealed.ciphertext, 0) }, aad), undefined);
    assert.equal(gcmDecrypt(key, { ...sealed, tag: flip(sealed.tag, 15) }, aad), undefined);
    assert.equal(gcmDecrypt(key, { ...sealed, iv: flip(sealed.iv, 3) }, aad), undefined);
    assert.equal(gcmDecrypt(key, { ...sealed, tag: sealed.tag.subarray(0, 12) }, aad), undefined);
    assert.equal(gcmDecrypt(key, sealed, Buffer.from('contexT')), undefined);
    assert.equal(gcmDecrypt(Buffer.alloc(32, 2), sealed, aad), undefined);
    assert.equal(gcmDecrypt(key, sealed, aad)?.toString(), 'secret message');
  });
});

describe('RandomPool', () => {
  it('hands out distinct bytes across refills and never reuses a byte', async () => {
    const { RandomPool } = await import('../../src/crypto/random-pool.js');
    const pool = new RandomPool(64);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(pool.take(12).toString('hex'));
    assert.equal(seen.size, 1000);
    assert.equal(pool.take(100).length, 100, 'larger than a block');
    const a = pool.take(12);
    a.fill(0);
    assert.notDeepEqual(pool.take(12), Buffer.alloc(12), 'the caller owns its copy');
  });
});
