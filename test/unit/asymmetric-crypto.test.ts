// Known-answer and cross-implementation tests of the pure crypto of asymmetric and HMAC keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { constantTimeEqual, hmac } from '../../src/crypto/hmac.js';
import { decodeDerSignature, ecdsaSignDigest, ecdsaVerifyDigest, encodeDerSignature } from '../../src/crypto/ecdsa.js';
import { generateDerKeyPair, parsePkcs8 } from '../../src/crypto/key-pairs.js';
import { oaepDecrypt, oaepEncrypt, oaepMaxPlaintext, pkcs1SignDigest, pkcs1VerifyDigest, pssSignDigest, pssVerifyDigest } from '../../src/crypto/rsa.js';
import { signMessage, verifySignature } from '../../src/crypto/signatures.js';
import { ed25519ph } from '@noble/curves/ed25519.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const sha = (alg: string, b: Buffer): Buffer => createHash(alg).update(b).digest();

describe('HMAC (RFC 4231)', () => {
  it('matches test cases 1 and 2 for SHA-224/256/384/512', () => {
    const key = Buffer.alloc(20, 0x0b);
    const data = Buffer.from('Hi There');
    assert.equal(hmac('sha224', key, data).toString('hex'), '896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22');
    assert.equal(hmac('sha256', key, data).toString('hex'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    assert.equal(hmac('sha384', key, data).toString('hex'), 'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6');
    assert.equal(
      hmac('sha512', key, data).toString('hex'),
      '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854',
    );
    assert.equal(
      hmac('sha256', Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?')).toString('hex'),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
  it('compares in constant time and refuses other lengths', () => {
    assert.equal(constantTimeEqual(hex('0102'), hex('0102')), true);
    assert.equal(constantTimeEqual(hex('0102'), hex('0103')), false);
    assert.equal(constantTimeEqual(hex('0102'), hex('010203')), false);
  });
});

describe('Ed25519 (RFC 8032 §7.1)', () => {
  it('signs test vectors 1 and 2 byte for byte and refuses a tampered signature', () => {
    const vectors = [
      {
        seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', msg: '',
        sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      },
      {
        seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', msg: '72',
        sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
      },
    ];
    for (const v of vectors) {
      const { privateKey, publicKey } = parsePkcs8(Buffer.concat([hex('302e020100300506032b657004220420'), hex(v.seed)]));
      const sig = signMessage(privateKey, { kind: 'ed25519' }, hex(v.msg), false);
      assert.equal(sig.toString('hex'), v.sig);
      assert.equal(verifySignature(publicKey, { kind: 'ed25519' }, hex(v.msg), false, sig), true);
      sig[0]! ^= 1;
      assert.equal(verifySignature(publicKey, { kind: 'ed25519' }, hex(v.msg), false, sig), false);
    }
  });
});

describe('Ed25519ph (RFC 8032 §7.3)', () => {
  const seed = '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42';
  const expected = '98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406';
  const { privateKey, publicKey } = parsePkcs8(Buffer.concat([hex('302e020100300506032b657004220420'), hex(seed)]));
  it('signs SHA-512("abc") into the RFC signature, from the digest or from the message', () => {
    assert.equal(publicKey.export({ format: 'jwk' }).x, hex('ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf').toString('base64url'));
    const digest = sha('sha512', hex('616263'));
    assert.equal(signMessage(privateKey, { kind: 'ed25519ph' }, digest, true).toString('hex'), expected);
    assert.equal(signMessage(privateKey, { kind: 'ed25519ph' }, hex('616263'), false).toString('hex'), expected);
    assert.equal(verifySignature(publicKey, { kind: 'ed25519ph' }, digest, true, hex(expected)), true);
  });
  it('refuses tampering, a pure Ed25519 signature of the same bytes, and digests of the wrong size', () => {
    const digest = sha('sha512', hex('616263'));
    const bad = hex(expected);
    bad[40]! ^= 1;
    assert.equal(verifySignature(publicKey, { kind: 'ed25519ph' }, digest, true, bad), false);
    assert.equal(verifySignature(publicKey, { kind: 'ed25519ph' }, digest, true, hex(expected).subarray(1)), false);
    assert.equal(verifySignature(publicKey, { kind: 'ed25519ph' }, sha('sha512', hex('616264')), true, hex(expected)), false);
    const pure = signMessage(privateKey, { kind: 'ed25519' }, digest, false);
    assert.equal(verifySignature(publicKey, { kind: 'ed25519ph' }, digest, true, pure), false, 'dom2 separates Ed25519ph from Ed25519');
    assert.throws(() => signMessage(privateKey, { kind: 'ed25519ph' }, digest.subarray(1), true), RangeError);
  });
  it("agrees with noble's message-hashing ed25519ph on fresh keys", () => {
    const pair = generateKeyPairSync('ed25519');
    const d = Buffer.from(pair.privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const x = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const message = Buffer.from('a longer message, hashed outside');
    const mine = signMessage(pair.privateKey, { kind: 'ed25519ph' }, sha('sha512', message), true);
    assert.deepEqual(mine, Buffer.from(ed25519ph.sign(message, d)), 'Ed25519ph is deterministic');
    assert.equal(ed25519ph.verify(mine, message, x), true);
  });
});

describe('RSA signatures over digests', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const message = Buffer.from('message to sign');
  for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
    it(`PKCS#1 v1.5 with ${hash} equals OpenSSL's own signature (deterministic) and verifies`, () => {
      const mine = pkcs1SignDigest(privateKey, hash, sha(hash, message));
      assert.deepEqual(mine, sign(hash, message, privateKey));
      assert.equal(pkcs1VerifyDigest(publicKey, hash, sha(hash, message), mine), true);
      mine[10]! ^= 1;
      assert.equal(pkcs1VerifyDigest(publicKey, hash, sha(hash, message), mine), false);
      assert.equal(pkcs1VerifyDigest(publicKey, hash, sha(hash, message), mine.subarray(1)), false);
    });
    it(`PSS with ${hash} (salt = hash length) verifies in OpenSSL, and OpenSSL's verifies here`, () => {
      const pss = { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: createHash(hash).digest().length };
      const mine = pssSignDigest(privateKey, hash, sha(hash, message));
      assert.equal(verify(hash, message, pss, mine), true);
      const theirs = sign(hash, message, { ...pss, key: privateKey });
      assert.equal(pssVerifyDigest(publicKey, hash, sha(hash, message), theirs), true);
      // Another salt length is another algorithm: refused.
      const salt20 = sign(hash, message, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 });
      assert.equal(pssVerifyDigest(publicKey, hash, sha(hash, message), salt20), false);
      assert.equal(pssVerifyDigest(publicKey, hash, sha(hash, Buffer.from('other')), mine), false);
    });
  }
  it('OAEP: AWS plaintext limits, round trip, tampering and wrong hash refused', () => {
    assert.deepEqual([2048, 3072, 4096].map((b) => [oaepMaxPlaintext(b, 'sha1'), oaepMaxPlaintext(b, 'sha256')]), [[214, 190], [342, 318], [470, 446]]);
    const ct = oaepEncrypt(publicKey, 'sha256', Buffer.alloc(190, 7));
    assert.deepEqual(oaepDecrypt(privateKey, 'sha256', ct), Buffer.alloc(190, 7));
    assert.equal(oaepDecrypt(privateKey, 'sha1', ct), undefined);
    ct[5]! ^= 1;
    assert.equal(oaepDecrypt(privateKey, 'sha256', ct), undefined);
    assert.throws(() => oaepEncrypt(publicKey, 'sha256', Buffer.alloc(191)));
  });
});

describe('ECDSA over digests', () => {
  const curves = [
    ['prime256v1', 'sha256'], ['secp384r1', 'sha384'], ['secp521r1', 'sha512'], ['secp256k1', 'sha256'],
  ] as const;
  it('verifies RFC 6979 A.2.5 (P-256, SHA-256, "sample"), and refuses it for another message', () => {
    const jwk = {
      kty: 'EC', crv: 'P-256',
      x: hex('60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6').toString('base64url'),
      y: hex('7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299').toString('base64url'),
    };
    const pub = createPublicKey({ key: jwk, format: 'jwk' });
    const sig = encodeDerSignature(
      0xefd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716n,
      0xf7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8n,
    );
    assert.equal(verify('sha256', Buffer.from('sample'), { key: pub, dsaEncoding: 'der' }, sig), true, 'the vector is right (OpenSSL)');
    assert.equal(ecdsaVerifyDigest(pub, sha('sha256', Buffer.from('sample')), sig), true);
    assert.equal(ecdsaVerifyDigest(pub, sha('sha256', Buffer.from('test')), sig), false);
  });
  it('signs with fresh nonces (two signatures of one digest differ) and keeps high S as AWS does', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const digest = sha('sha256', Buffer.from('twice'));
    const sigs = Array.from({ length: 16 }, () => ecdsaSignDigest(privateKey, digest));
    assert.equal(new Set(sigs.map((s) => s.toString('hex'))).size, 16);
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const highS = sigs.map((s) => decodeDerSignature(s)!).filter(([, s]) => s > n / 2n);
    assert.ok(highS.length > 0, 'some of 16 signatures have S above n/2 (probability 1 - 2^-16)');
    // The low-S twin of a signature is valid too, in OpenSSL and here.
    const [r, s] = decodeDerSignature(sigs[0]!)!;
    const twin = encodeDerSignature(r, n - s);
    assert.equal(verify('sha256', Buffer.from('twice'), { key: publicKey, dsaEncoding: 'der' }, twin), true);
    assert.equal(verify('sha256', Buffer.from('twice'), { key: publicKey, dsaEncoding: 'der' }, sigs[0]!), true);
    assert.equal(ecdsaVerifyDigest(publicKey, digest, twin), true);
  });
  for (const [curve, hash] of curves) {
    it(`${curve}: digest signatures verify in OpenSSL, and OpenSSL's verify here`, () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const message = Buffer.from(`to sign on ${curve}`);
      const digest = sha(hash, message);
      for (let i = 0; i < 3; i++) {
        const mine = ecdsaSignDigest(privateKey, digest);
        assert.equal(verify(hash, message, { key: publicKey, dsaEncoding: 'der' }, mine), true);
        assert.equal(ecdsaVerifyDigest(publicKey, digest, mine), true);
        const theirs = sign(hash, message, { key: privateKey, dsaEncoding: 'der' });
        assert.equal(ecdsaVerifyDigest(publicKey, digest, theirs), true);
      }
      const sig = ecdsaSignDigest(privateKey, digest);
      assert.equal(ecdsaVerifyDigest(publicKey, sha(hash, Buffer.from('other')), sig), false);
      const rs = decodeDerSignature(sig)!;
      assert.equal(ecdsaVerifyDigest(publicKey, digest, encodeDerSignature(rs[0], rs[1] + 1n)), false);
      const other = generateKeyPairSync('ec', { namedCurve: curve }).publicKey;
      assert.equal(ecdsaVerifyDigest(other, digest, sig), false);
    });
  }
  it('parses strict DER only', () => {
    const sig = encodeDerSignature(0x80n, 1n);
    assert.equal(sig.toString('hex'), '3007020200800201' + '01');
    assert.deepEqual(decodeDerSignature(sig), [0x80n, 1n]);
    assert.equal(decodeDerSignature(hex('300802030000800201' + '01')), undefined, 'non-minimal integer');
    assert.equal(decodeDerSignature(hex('3006020180020101')), undefined, 'negative integer');
    assert.equal(decodeDerSignature(Buffer.concat([sig, hex('00')])), undefined, 'trailing byte');
  });
});

describe('key pair generation', () => {
  it('makes PKCS#8 private keys and SPKI public keys of each kind', async () => {
    const cases = [
      [{ type: 'rsa', bits: 2048 }, 'rsa'], [{ type: 'ec', curve: 'secp256k1' }, 'ec'], [{ type: 'ed25519' }, 'ed25519'],
    ] as const;
    for (const [params, type] of cases) {
      const pair = await generateDerKeyPair(params);
      const priv: KeyObject = createPrivateKey({ key: pair.privateKey, format: 'der', type: 'pkcs8' });
      assert.equal(priv.asymmetricKeyType, type);
      assert.deepEqual(createPublicKey(priv).export({ type: 'spki', format: 'der' }), pair.publicKey);
    }
  });
  it('makes an RSA-4096 key off the event loop: timers keep firing while it is generated', async () => {
    let maxLag = 0;
    let ticks = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 10);
      last = now;
      ticks++;
    }, 10);
    const started = performance.now();
    await generateDerKeyPair({ type: 'rsa', bits: 4096 });
    const took = performance.now() - started;
    clearInterval(timer);
    console.log(`# RSA-4096 generation: ${took.toFixed(0)} ms; event loop: ${ticks} ticks of 10 ms, max lag ${maxLag.toFixed(1)} ms`);
    // Generated synchronously, the loop would be blocked for the whole generation (seconds) and tick almost never.
    // The bounds are relative to the generation time, so a loaded machine's scheduling hiccups do not fail the test.
    assert.ok(maxLag < took / 4, `event loop blocked for ${maxLag} ms of ${took} ms`);
    assert.ok(ticks >= Math.floor(took / 10) / 3, `only ${ticks} timer ticks in ${took} ms`);
  });
});
