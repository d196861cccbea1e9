// SM3 and SM2 (sign, verify, SM2PKE, ECDH) against the GB/T 32905 / GM/T 0003.5 examples and the openssl binary.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createECDH, createHash, getHashes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePeerPublicKey } from '../../src/crypto/ecdh.js';
import { signMessage, verifySignature } from '../../src/crypto/signatures.js';
import { kdf, parseSm2Spki, Sm2Key, sm2Spki } from '../../src/crypto/sm2.js';
import { sm3 } from '../../src/crypto/sm3.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag, body.length]), body]);
const int = (b: Buffer): Buffer => tlv(0x02, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const derSig = (r: Buffer, s: Buffer): Buffer => tlv(0x30, Buffer.concat([int(r), int(s)]));

// GM/T 0003.5-2012 (GB/T 32918.5) signature example on the recommended curve, ID 1234567812345678.
const KAT = {
  d: hex('3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8'),
  point: hex('04 09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020 CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13'),
  za: 'b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3',
  message: Buffer.from('message digest'),
  r: hex('F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3'),
  s: hex('B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA'),
};
const katPkcs8 = (): Buffer =>
  Buffer.concat([hex('308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420'), KAT.d, hex('a144034200'), KAT.point]);

describe('SM3 (GB/T 32905)', () => {
  it('hashes the standard examples', () => {
    assert.equal(sm3(Buffer.from('abc')).toString('hex'), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
    assert.equal(sm3(Buffer.from('abcd'.repeat(16))).toString('hex'), 'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732');
  });
  it('equals OpenSSL across block boundaries', { skip: !getHashes().includes('sm3') && 'no sm3 in this OpenSSL' }, () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000]) {
      const m = Buffer.alloc(n, n & 0xff);
      assert.equal(sm3(m).toString('hex'), createHash('sm3').update(m).digest('hex'), `length ${n}`);
    }
  });
});

describe('SM2 (GB/T 32918) on the recommended curve', () => {
  it('derives the public key, Z_A and verifies the GM/T 0003.5 signature example', () => {
    const key = Sm2Key.fromPkcs8(katPkcs8());
    assert.deepEqual(key.publicPoint, KAT.point);
    assert.equal(key.za().toString('hex'), KAT.za);
    assert.equal(key.verify(KAT.message, derSig(KAT.r, KAT.s)), true);
    assert.equal(key.verifyDigest(key.digest(KAT.message), derSig(KAT.r, KAT.s)), true);
    const pub = Sm2Key.fromPublicPoint(KAT.point);
    assert.equal(pub.verify(KAT.message, derSig(KAT.r, KAT.s)), true);
    assert.equal(pub.verify(Buffer.from('message digesT'), derSig(KAT.r, KAT.s)), false);
    assert.throws(() => pub.sign(KAT.message), /public key/);
  });

  it('signs and verifies (fresh k each time), and refuses tampered or malformed signatures', () => {
    const { key } = Sm2Key.generate();
    const m = Buffer.from('to be signed');
    const a = key.sign(m);
    const b = key.sign(m);
    assert.notDeepEqual(a, b);
    assert.equal(key.verify(m, a), true);
    assert.equal(key.verify(m, b), true);
    const flipped = Buffer.from(a);
    flipped[flipped.length - 1]! ^= 1;
    assert.equal(key.verify(m, flipped), false);
    assert.equal(key.verify(m, a.subarray(0, a.length - 1)), false);
    assert.equal(key.verify(m, Buffer.concat([a, Buffer.from([0])])), false);
    assert.equal(key.verify(m, derSig(Buffer.from([0]), Buffer.from([1]))), false, 'r = 0');
    assert.equal(key.verifyDigest(Buffer.alloc(31), a), false);
    assert.throws(() => key.signDigest(Buffer.alloc(33)), RangeError);
    // Through the generic entry point: RAW hashes Z_A || M, DIGEST takes e as given.
    const e = key.digest(m);
    assert.equal(verifySignature(key, { kind: 'sm2dsa' }, e, true, signMessage(key, { kind: 'sm2dsa' }, m, false)), true);
    assert.equal(verifySignature(key, { kind: 'sm2dsa' }, m, false, signMessage(key, { kind: 'sm2dsa' }, e, true)), true);
  });

  it('encrypts with SM2PKE as ASN.1 C1C3C2 and refuses tampered ciphertexts', () => {
    const { key } = Sm2Key.generate();
    for (const n of [1, 31, 32, 33, 1024]) {
      const m = Buffer.alloc(n, 0x5a);
      const c = key.encrypt(m);
      assert.ok(c.length - n <= 4 + 35 + 35 + 34 + 4, `${c.length} bytes for ${n}`); // SEQUENCE { x1, y1, C3, C2 }
      assert.deepEqual(key.decrypt(c), m);
    }
    const m = Buffer.from('secret');
    const c = key.encrypt(m);
    assert.notDeepEqual(key.encrypt(m), c, 'fresh k');
    for (let i = 0; i < c.length; i += 7) {
      const t = Buffer.from(c);
      t[i]! ^= 0x01;
      assert.equal(key.decrypt(t), undefined, `bit flipped at ${i}`);
    }
    assert.equal(key.decrypt(c.subarray(0, c.length - 1)), undefined);
    assert.equal(key.decrypt(Buffer.concat([c, Buffer.from([0])])), undefined);
    assert.equal(Sm2Key.generate().key.decrypt(c), undefined, 'another key');
    assert.throws(() => key.encrypt(Buffer.alloc(0)), RangeError);
  });

  it('implements the KDF of GB/T 32918.4 (SM3 with a 32-bit counter from 1)', () => {
    const z = Buffer.from('z');
    const counter = (n: number): Buffer => Buffer.from([0, 0, 0, n]);
    assert.deepEqual(kdf(z, 70), Buffer.concat([sm3(z, counter(1)), sm3(z, counter(2)), sm3(z, counter(3))]).subarray(0, 70));
  });

  it('parses SPKI strictly: SM2 only, on the curve, nothing trailing', () => {
    const { key } = Sm2Key.generate();
    const ok = parseSm2Spki(key.spki);
    assert.ok(ok.ok && Buffer.from(ok.point).equals(key.publicPoint));
    assert.deepEqual(sm2Spki(key.publicPoint), key.spki);
    assert.deepEqual(parseSm2Spki(Buffer.concat([key.spki, Buffer.from([0])])), { ok: false, why: 'malformed' });
    const offCurve = Buffer.from(key.spki);
    offCurve[offCurve.length - 1]! ^= 1;
    assert.deepEqual(parseSm2Spki(offCurve), { ok: false, why: 'malformed' });
    const p256 = createECDH('prime256v1');
    p256.generateKeys();
    const p256Spki = Buffer.concat([hex('3059301306072a8648ce3d020106082a8648ce3d030107034200'), p256.getPublicKey()]);
    assert.deepEqual(parseSm2Spki(p256Spki), { ok: false, why: 'wrong-curve' });
    assert.deepEqual(parsePeerPublicKey(p256Spki, 'SM2'), { ok: false, why: 'wrong-curve', curve: 'prime256v1' });
    assert.deepEqual(parsePeerPublicKey(key.spki, 'prime256v1'), { ok: false, why: 'wrong-curve', curve: 'SM2' });
    assert.ok(parsePeerPublicKey(key.spki, 'SM2').ok);
    assert.throws(() => Sm2Key.fromPkcs8(Buffer.concat([katPkcs8().subarray(0, -1), Buffer.from([0])])), /SM2 PKCS#8/, 'public key mismatch');
  });

  it('agrees ECDH secrets with OpenSSL (Node ECDH on the SM2 curve)', (t) => {
    const key = Sm2Key.fromPkcs8(katPkcs8());
    const peer = createECDH('SM2');
    peer.generateKeys();
    let expected: Buffer;
    try {
      expected = peer.computeSecret(key.publicPoint);
    } catch (err) {
      // OpenSSL 3.5 (Node 24) refuses plain ECDH with SM2 keys; OpenSSL 3.0 (Node 20, also in CI) does the check.
      // Node 24 names the refusal ERR_CRYPTO_INVALID_KEYPAIR, and since 24.22 ERR_CRYPTO_OPERATION_FAILED.
      const code = (err as { code?: string }).code;
      if (code !== 'ERR_CRYPTO_INVALID_KEYPAIR' && (code !== 'ERR_CRYPTO_OPERATION_FAILED' || !process.versions.openssl.startsWith('3.5'))) throw err;
      t.skip(`OpenSSL ${process.versions.openssl} refuses ECDH on the SM2 curve; cross-checked on OpenSSL 3.0 (Node 20)`);
      return;
    }
    assert.deepEqual(key.ecdh(peer.getPublicKey()), expected);
    const mine = createECDH('SM2');
    mine.setPrivateKey(KAT.d);
    assert.deepEqual(mine.computeSecret(peer.getPublicKey()), expected);
  });

  it('interoperates with the openssl binary: keys, SM2DSA with distid 1234567812345678, SM2PKE', () => {
    const work = mkdtempSync(path.join(tmpdir(), 'trent-sm2-'));
    const f = (name: string): string => path.join(work, name);
    const openssl = (...args: string[]): Buffer => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      // Trent's key loads in OpenSSL and OpenSSL derives the same public key.
      const { key, pkcs8 } = Sm2Key.generate();
      writeFileSync(f('key.der'), pkcs8);
      writeFileSync(f('pub.der'), key.spki);
      assert.deepEqual(openssl('pkey', '-inform', 'der', '-in', f('key.der'), '-pubout', '-outform', 'der'), key.spki);
      // OpenSSL's key loads here.
      openssl('genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:sm2', '-out', f('os.pem'));
      const osKey = Sm2Key.fromPkcs8(openssl('pkcs8', '-topk8', '-nocrypt', '-in', f('os.pem'), '-outform', 'der'));
      assert.deepEqual(osKey.spki, openssl('pkey', '-in', f('os.pem'), '-pubout', '-outform', 'der'));

      const m = Buffer.from('interoperability');
      writeFileSync(f('msg'), m);
      const distid = ['-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678'];
      writeFileSync(f('sig'), key.sign(m));
      assert.match(openssl('pkeyutl', '-verify', '-pubin', '-keyform', 'der', '-inkey', f('pub.der'), '-in', f('msg'), '-sigfile', f('sig'), ...distid).toString(), /Verified Successfully/);
      writeFileSync(f('sig'), key.signDigest(key.digest(m)));
      assert.match(openssl('pkeyutl', '-verify', '-pubin', '-keyform', 'der', '-inkey', f('pub.der'), '-in', f('msg'), '-sigfile', f('sig'), ...distid).toString(), /Verified Successfully/);
      const osSig = openssl('pkeyutl', '-sign', '-keyform', 'der', '-inkey', f('key.der'), '-in', f('msg'), ...distid);
      assert.equal(key.verify(m, osSig), true);
      // A different distinguishing ID gives a different Z_A: the signature does not verify with the default.
      const otherId = openssl('pkeyutl', '-sign', '-keyform', 'der', '-inkey', f('key.der'), '-in', f('msg'), '-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:alice');
      assert.equal(key.verify(m, otherId), false);
      assert.equal(key.verifyDigest(key.digest(m, Buffer.from('alice')), otherId), true);

      writeFileSync(f('ct'), openssl('pkeyutl', '-encrypt', '-pubin', '-keyform', 'der', '-inkey', f('pub.der'), '-in', f('msg')));
      assert.deepEqual(key.decrypt(readFileSync(f('ct'))), m);
      writeFileSync(f('ct2'), key.encrypt(m));
      assert.deepEqual(openssl('pkeyutl', '-decrypt', '-keyform', 'der', '-inkey', f('key.der'), '-in', f('ct2')), m);
      assert.match(openssl('asn1parse', '-inform', 'DER', '-in', f('ct2')).toString(), /INTEGER[\s\S]*INTEGER[\s\S]*OCTET STRING[\s\S]*OCTET STRING/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
