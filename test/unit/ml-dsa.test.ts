// ML-DSA (FIPS 204) key encoding, signing and verification, against OpenSSL 3.5 where Node.js has it (Node 24).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { MlDsaKey, mlDsaMu, mlDsaPkcs8, mlDsaSpki, parseMlDsaPkcs8, generateMlDsaKeyPair } from '../../src/crypto/ml-dsa.js';
import { signMessage, verifySignature } from '../../src/crypto/signatures.js';

const levels = [44, 65, 87] as const;
const seed = Buffer.from([...Array(32).keys()]); // 00 01 .. 1f
/** SHA-256 of the SPKI OpenSSL 3.5.x (Node.js 24.21) derives from the seed-only PKCS#8 key with seed 00..1f. */
const OPENSSL_SPKI_SHA256: Record<(typeof levels)[number], [number, string]> = {
  44: [1334, '837832708c5236d951581f1fddf2b79991b3424a0486d16da1ddad0fd69701be'],
  65: [1974, 'b8b62131bfbe84433efb2273d7f5b87f7a22854a2cfd366fc2aead86d837c52d'],
  87: [2614, '07e57c4f14dbad1267f621ec3777b4e2e6c4fbc4c22fbb87510ff8e0b3c6a642'],
};
/** OpenSSL 3.5 (Node.js 24) reads ML-DSA keys; OpenSSL 3.0 (Node.js 20) does not. */
const opensslHasMlDsa = (() => {
  try {
    createPrivateKey({ key: mlDsaPkcs8(44, seed), format: 'der', type: 'pkcs8' });
    return true;
  } catch {
    return false;
  }
})();
const NO_OPENSSL = opensslHasMlDsa ? false : `OpenSSL ${process.versions.openssl} (Node.js ${process.version}) has no ML-DSA; CI checks this on Node.js 24`;

describe('ML-DSA keys', () => {
  for (const level of levels) {
    it(`ML-DSA-${level}: the seed gives the public key OpenSSL 3.5 derives (known answer), in the RFC 9881 encodings`, () => {
      const key = MlDsaKey.fromPkcs8(mlDsaPkcs8(level, seed));
      const [length, sha256] = OPENSSL_SPKI_SHA256[level];
      assert.equal(key.spki.length, length);
      assert.equal(createHash('sha256').update(key.spki).digest('hex'), sha256);
      assert.deepEqual(key.spki, mlDsaSpki(level, key.publicKey));
      assert.deepEqual(parseMlDsaPkcs8(mlDsaPkcs8(level, seed)), { level, seed });
    });
  }
  it('parses only the seed-only PKCS#8 form', () => {
    const der = mlDsaPkcs8(65, seed);
    assert.equal(parseMlDsaPkcs8(der.subarray(1)), undefined);
    assert.equal(parseMlDsaPkcs8(Buffer.concat([der, Buffer.from([0])])), undefined);
    const otherOid = Buffer.from(der);
    otherOid[17] = 0x14;
    assert.equal(parseMlDsaPkcs8(otherOid), undefined);
    assert.throws(() => MlDsaKey.fromPkcs8(otherOid), TypeError);
    assert.throws(() => mlDsaPkcs8(44, seed.subarray(1)), RangeError);
  });
  it('generates distinct keys whose PKCS#8 and SPKI agree', () => {
    const a = generateMlDsaKeyPair(44);
    const b = generateMlDsaKeyPair(44);
    assert.notDeepEqual(a.privateKey, b.privateKey);
    assert.deepEqual(MlDsaKey.fromPkcs8(a.privateKey).spki, a.publicKey);
  });
});

describe('ML-DSA signatures', () => {
  const message = Buffer.from('a message for ML-DSA');
  for (const level of levels) {
    it(`ML-DSA-${level}: RAW and EXTERNAL_MU sign and verify interchangeably; tampering is refused`, () => {
      const key = MlDsaKey.fromPkcs8(generateMlDsaKeyPair(level).privateKey);
      const mu = mlDsaMu(key.publicKey, message);
      const raw = signMessage(key, { kind: 'ml-dsa' }, message, false);
      const viaMu = signMessage(key, { kind: 'ml-dsa' }, mu, true);
      assert.notDeepEqual(raw, signMessage(key, { kind: 'ml-dsa' }, message, false), 'hedged: fresh randomness per signature');
      for (const sig of [raw, viaMu]) {
        assert.equal(verifySignature(key, { kind: 'ml-dsa' }, message, false, sig), true);
        assert.equal(verifySignature(key, { kind: 'ml-dsa' }, mu, true, sig), true);
      }
      const bad = Buffer.from(raw);
      bad[100]! ^= 1;
      assert.equal(verifySignature(key, { kind: 'ml-dsa' }, message, false, bad), false);
      assert.equal(verifySignature(key, { kind: 'ml-dsa' }, message, false, raw.subarray(1)), false);
      assert.equal(verifySignature(key, { kind: 'ml-dsa' }, Buffer.from('another'), false, raw), false);
      assert.throws(() => signMessage(key, { kind: 'ml-dsa' }, mu.subarray(1), true), RangeError);
      assert.throws(() => signMessage(key, { kind: 'ecdsa', hash: 'sha256' }, message, false), TypeError);
    });
  }
  it("μ is SHAKE256(SHAKE256(pk, 64) || 0 || 0 || M, 64), computed here with OpenSSL's SHAKE256", () => {
    const key = MlDsaKey.fromPkcs8(mlDsaPkcs8(44, seed));
    const tr = createHash('shake256', { outputLength: 64 }).update(key.publicKey).digest();
    const mu = createHash('shake256', { outputLength: 64 }).update(tr).update(Buffer.from([0, 0])).update(message).digest();
    assert.deepEqual(mlDsaMu(key.publicKey, message), mu);
  });
  it('interoperates with OpenSSL 3.5 both ways (crypto.sign / crypto.verify with the SPKI and PKCS#8 keys)', { skip: NO_OPENSSL }, () => {
    for (const level of levels) {
      const pkcs8 = mlDsaPkcs8(level, seed);
      const key = MlDsaKey.fromPkcs8(pkcs8);
      const pub = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
      assert.deepEqual(createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' }), key.spki);
      assert.equal(verify(null, message, pub, signMessage(key, { kind: 'ml-dsa' }, message, false)), true);
      assert.equal(verify(null, message, pub, signMessage(key, { kind: 'ml-dsa' }, mlDsaMu(key.publicKey, message), true)), true);
      const theirs = sign(null, message, createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
      assert.equal(verifySignature(key, { kind: 'ml-dsa' }, message, false, theirs), true);
    }
  });
});
