// The PKCS#11 token adapter against a real SoftHSM2 token: login, key generation inside the token, AES-GCM through
// CKM_AES_GCM, C_GenerateRandom, the session pool, and the mapping of the token's errors.
import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Pkcs11Modules, Pkcs11Token } from '../../src/keystores/pkcs11/pkcs11-token.js';
import { Pkcs11TokenError } from '../../src/keystores/pkcs11/pkcs11-errors.js';
import { softHsm, softhsmSkip } from '../helpers/softhsm.js';

describe('PKCS#11 token (SoftHSM2)', { skip: softhsmSkip }, () => {
  const modules = new Pkcs11Modules();
  let hsm: ReturnType<typeof softHsm>;
  let tok: { label: string; pin: string; slot: number };
  let token: Pkcs11Token;
  let other: { label: string; pin: string; slot: number };
  const open = (o: Partial<Parameters<typeof Pkcs11Token.open>[1]> = {}) =>
    Pkcs11Token.open(modules, { modulePath: hsm.module, token: { label: tok.label }, pin: tok.pin, randomBytes, ...o });

  before(() => {
    hsm = softHsm();
    // SoftHSM reads its token directory at C_Initialize: every token a process uses exists before the first open.
    tok = hsm.initToken();
    other = hsm.initToken();
    token = open({ maxSessions: 3 });
  });
  after(() => token?.close());

  const code = (kind: string) => (err: unknown) => err instanceof Pkcs11TokenError && err.kind === kind;

  test('a generated key is AES-256, sensitive, non-extractable, persistent, and encrypts/decrypts with AAD', async () => {
    const id = randomBytes(16);
    await token.generateAesKey(id, 'trent-test-key');
    assert.deepEqual(await token.keyAttributes(id), { sensitive: true, extractable: false, token: true, valueLen: 32 });
    const aad = Buffer.from('header||context');
    const pt = Buffer.from('attack at dawn');
    const { iv, ciphertext, tag } = await token.encrypt(id, pt, aad);
    assert.equal(iv.length, 12);
    assert.equal(tag.length, 16);
    assert.equal(ciphertext.length, pt.length);
    assert.notDeepEqual(ciphertext, pt);
    assert.deepEqual(await token.decrypt(id, iv, ciphertext, tag, aad), pt);
  });

  test('a failed tag check is authentication-failed (SoftHSM answers CKR_GENERAL_ERROR), and the pool survives it', async () => {
    const id = randomBytes(16);
    await token.generateAesKey(id, 'tamper');
    const aad = Buffer.from('aad');
    const { iv, ciphertext, tag } = await token.encrypt(id, Buffer.from('sixteen byte msg!'), aad);
    const flipped = Buffer.from(ciphertext);
    flipped[0]! ^= 1;
    await assert.rejects(token.decrypt(id, iv, flipped, tag, aad), code('authentication-failed'));
    await assert.rejects(token.decrypt(id, iv, ciphertext, tag, Buffer.from('other aad')), code('authentication-failed'));
    const badTag = Buffer.from(tag);
    badTag[15]! ^= 0x80;
    await assert.rejects(token.decrypt(id, iv, ciphertext, badTag, aad), code('authentication-failed'));
    for (let i = 0; i < 10; i++) assert.deepEqual(await token.decrypt(id, iv, ciphertext, tag, aad), Buffer.from('sixteen byte msg!'));
  });

  test('the key value never leaves the token: the ciphertext does not decrypt under any key Trent could know', async () => {
    // A weak but honest check: the ciphertext is not the plaintext under an all-zero key (SoftHSM really ran GCM with
    // its own secret). The attribute test above is the real proof (CKA_SENSITIVE, not CKA_EXTRACTABLE).
    const id = randomBytes(16);
    await token.generateAesKey(id, 'k');
    const { iv, ciphertext, tag } = await token.encrypt(id, Buffer.from('x'.repeat(32)), Buffer.alloc(0));
    const d = createDecipheriv('aes-256-gcm', Buffer.alloc(32), iv);
    d.setAuthTag(tag);
    d.update(ciphertext);
    assert.throws(() => d.final());
  });

  test('an unknown key id is key-not-found; keys are destroyed by id', async () => {
    await assert.rejects(token.encrypt(randomBytes(16), Buffer.from('x'), Buffer.alloc(0)), code('key-not-found'));
    const id = randomBytes(16);
    await token.generateAesKey(id, 'gone');
    assert.equal(await token.hasKey(id), true);
    await token.destroyKey(id);
    assert.equal(await token.hasKey(id), false);
  });

  test('random bytes come from C_GenerateRandom', async () => {
    const a = await token.random(64);
    const b = await token.random(64);
    assert.equal(a.length, 64);
    assert.notDeepEqual(a, b);
  });

  test('the pool is bounded: 40 concurrent operations use at most 3 sessions', async () => {
    const id = randomBytes(16);
    await token.generateAesKey(id, 'pool');
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const pt = Buffer.from(`message ${i}`);
        const c = await token.encrypt(id, pt, Buffer.from([i]));
        assert.ok(token.openSessions <= 3);
        return (await token.decrypt(id, c.iv, c.ciphertext, c.tag, Buffer.from([i]))).equals(pt);
      }),
    );
    assert.ok(results.every(Boolean));
    assert.ok(token.openSessions <= 3);
  });

  test('a key made by one opening is found by another (persistent, by CKA_ID), and login is by PIN', async () => {
    const id = randomBytes(16);
    await token.generateAesKey(id, 'persist');
    const c = await token.encrypt(id, Buffer.from('persist'), Buffer.alloc(0));
    const again = open({ token: { slot: tok.slot } });
    try {
      assert.equal(again.slotId, tok.slot);
      assert.deepEqual(await again.decrypt(id, c.iv, c.ciphertext, c.tag, Buffer.alloc(0)), Buffer.from('persist'));
      assert.equal(again.pinMatches(tok.pin), true);
      assert.equal(again.pinMatches(`${tok.pin}x`), false);
    } finally {
      again.close();
    }
  });

  test('errors: wrong PIN, unknown token label or slot, missing module', () => {
    assert.throws(() => Pkcs11Token.open(modules, { modulePath: hsm.module, token: { label: other.label }, pin: 'wrong-pin', randomBytes }), code('invalid-credentials'));
    assert.throws(() => open({ token: { label: 'no-such-token' } }), code('token-not-found'));
    assert.throws(() => open({ token: { slot: 424242 } }), code('token-not-found'));
    assert.throws(() => open({ modulePath: '/nonexistent/libpkcs11.so' }), code('module-not-found'));
  });

  test('a closed token refuses work', async () => {
    const t = open();
    t.close();
    await assert.rejects(t.random(8), code('session'));
  });
});
