// The root key in a PKCS#11 token (SoftHSM2): made in the token non-extractable, wrapping and unwrapping done by the
// token, bound to a store by a check value (a wrong key, a file key or a wrong PIN is refused with a clear error), and
// a fingerprint key that stays the same across restarts.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RandomSource } from '../../src/domain/ports.js';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { HsmRootKey } from '../../src/keystores/pkcs11/hsm-root-key.js';
import { Pkcs11Modules, Pkcs11Token } from '../../src/keystores/pkcs11/pkcs11-token.js';
import { bindRootKey, openHsmRootKey } from '../../src/keystores/root-of-trust.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { softHsm, softhsmSkip } from '../helpers/softhsm.js';

const random: RandomSource = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

describe('HSM root key (SoftHSM2)', { skip: softhsmSkip }, () => {
  const modules = new Pkcs11Modules();
  let hsm: ReturnType<typeof softHsm>;
  let tok: { label: string; pin: string; slot: number };
  /** A token nothing else in this process logs in to (a login holds for the whole application, so a wrong PIN shows only on a token not yet logged in). */
  let fresh: { label: string; pin: string; slot: number };
  let dir: string;
  const opened: HsmRootKey[] = [];
  const open = async (uri: string, over: { pin?: string; create?: boolean } = {}) => {
    const k = await openHsmRootKey(uri, { pkcs11Module: hsm.module, pkcs11Pin: over.pin ?? tok.pin, rootKeyCreate: over.create ?? false }, modules, random);
    opened.push(k);
    return k;
  };
  const store = async () => {
    const s = new SqliteStorage(path.join(dir, `${randomUUID()}.db`));
    await s.migrate();
    return s;
  };

  before(() => {
    hsm = softHsm();
    tok = hsm.initToken();
    fresh = hsm.initToken();
    dir = mkdtempSync(path.join(tmpdir(), 'trent-hsm-root-'));
  });
  after(() => {
    for (const k of opened) k.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('--root-key-create makes a sensitive, non-extractable AES-256 key in the token; without it a missing key is refused', async () => {
    await assert.rejects(open(`pkcs11:token=${tok.label};object=made-here`), /no AES key labelled "made-here".*--root-key-create/);
    await open(`pkcs11:token=${tok.label};object=made-here`, { create: true });
    const token = Pkcs11Token.open(modules, { modulePath: hsm.module, token: { label: tok.label }, pin: tok.pin, randomBytes });
    try {
      const found = (await token.findAesKeyByLabel('made-here'))!;
      assert.deepEqual(await token.keyAttributes(found.id), { sensitive: true, extractable: false, token: true, valueLen: 32 });
    } finally {
      token.close();
    }
    // Opening again finds the same key (no second one is made): what it wrapped, it unwraps.
    const a = await open(`pkcs11:token=${tok.label};object=made-here`, { create: true });
    const b = await open(`pkcs11:token=${tok.label};object=made-here`);
    const secret = randomBytes(32);
    assert.deepEqual(b.unwrap(['material', 'arn', 'm1'], a.wrap(['material', 'arn', 'm1'], secret)), secret);
  });

  test('wrap/unwrap in the token: bound to the context, tamper-evident, and foreign to a file root key', async () => {
    const k = await open(`pkcs11:token=${tok.label};object=wrap-test`, { create: true });
    const secret = randomBytes(48);
    const wrapped = k.wrap(['access-key', 'AKIA1'], secret);
    assert.equal(wrapped[0], 2, 'version 2: wrapped under an HSM root key');
    assert.equal(wrapped.length, 1 + 12 + secret.length + 16);
    assert.ok(!wrapped.includes(secret));
    assert.deepEqual(k.unwrap(['access-key', 'AKIA1'], wrapped), secret);
    assert.equal(k.unwrap(['access-key', 'AKIA2'], wrapped), undefined, 'another context does not open it');
    const tampered = Buffer.from(wrapped);
    tampered[20]! ^= 1;
    assert.equal(k.unwrap(['access-key', 'AKIA1'], tampered), undefined);
    const fileKey = RootKey.fromBytes(randomBytes(32));
    assert.equal(fileKey.unwrap(['access-key', 'AKIA1'], wrapped), undefined);
    assert.equal(k.unwrap(['access-key', 'AKIA1'], fileKey.wrap(['access-key', 'AKIA1'], secret)), undefined);
    // Two wraps of one secret differ (a fresh IV each time).
    assert.notDeepEqual(k.wrap(['x'], secret), k.wrap(['x'], secret));
  });

  test('a store bound to an HSM root key refuses another token key and a file key, and keeps its fingerprint key', async () => {
    const s = await store();
    try {
      const k = await open(`pkcs11:token=${tok.label};object=bind-a`, { create: true });
      const root = await bindRootKey(s, { kind: 'hsm', key: k }, random);
      assert.match((await s.getSetting('root.check'))!, /^hsm1:/);
      assert.ok(await s.getSetting('root.fingerprint'));
      const fp = root.fingerprint(['imported-material-id', 'arn'], Buffer.from('material'));
      // Again (a restart, or a second node): the same fingerprints.
      const again = await bindRootKey(s, { kind: 'hsm', key: await open(`pkcs11:token=${tok.label};object=bind-a`) }, random);
      assert.deepEqual(again.fingerprint(['imported-material-id', 'arn'], Buffer.from('material')), fp);
      const other = await open(`pkcs11:token=${tok.label};object=bind-b`, { create: true });
      await assert.rejects(bindRootKey(s, { kind: 'hsm', key: other }, random), /does not match this data store.*token key pkcs11:token=.*;object=bind-b is not it/);
      await assert.rejects(bindRootKey(s, { kind: 'file', key: RootKey.fromBytes(randomBytes(32)) }, random), /it uses a root key in a PKCS#11 token/);
      await assert.rejects(RootKey.fromBytes(randomBytes(32)).verifyAgainst(s), /root key is in a PKCS#11 token/);
    } finally {
      await s.close();
    }
  });

  test('a file store refuses an HSM root key', async () => {
    const s = await store();
    try {
      await bindRootKey(s, { kind: 'file', key: RootKey.fromBytes(randomBytes(32)) }, random);
      const k = await open(`pkcs11:token=${tok.label};object=bind-c`, { create: true });
      await assert.rejects(bindRootKey(s, { kind: 'hsm', key: k }, random), /it uses a root key file or passphrase/);
    } finally {
      await s.close();
    }
  });

  test('a wrong PIN, token or module is refused with a clear error that does not show the PIN', async () => {
    await assert.rejects(open(`pkcs11:token=${fresh.label};object=x`, { pin: 'wrong-pin-999' }), (err: Error) => {
      assert.match(err.message, /cannot open the root key token .*the PIN was refused \(CKR_PIN_INCORRECT\)/);
      assert.ok(!err.message.includes('wrong-pin-999'));
      return true;
    });
    await assert.rejects(open('pkcs11:token=no-such-token;object=x'), /no token labelled "no-such-token"/);
    await assert.rejects(
      openHsmRootKey(`pkcs11:token=${tok.label};object=x?module-path=/nonexistent/libpkcs11.so`, { pkcs11Pin: tok.pin }, modules, random),
      /cannot load PKCS#11 module \/nonexistent\/libpkcs11.so/,
    );
    await assert.rejects(openHsmRootKey(`pkcs11:token=${tok.label};object=x`, { pkcs11Pin: tok.pin }, modules, random), /TRENT_PKCS11_MODULE/);
  });

  test('a key the token lets out (extractable) is refused', async () => {
    const token = Pkcs11Token.open(modules, { modulePath: hsm.module, token: { label: tok.label }, pin: tok.pin, randomBytes });
    try {
      // Made by hand, extractable, as a careless administrator might.
      const pkcs11 = modules.module(hsm.module);
      const P = (await import('pkcs11js')).default;
      const slot = pkcs11.C_GetSlotList(true).find((sl) => pkcs11.C_GetTokenInfo(sl).label.trim() === tok.label)!;
      const session = pkcs11.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
      pkcs11.C_GenerateKey(session, { mechanism: P.CKM_AES_KEY_GEN }, [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY }, { type: P.CKA_KEY_TYPE, value: P.CKK_AES }, { type: P.CKA_VALUE_LEN, value: 32 },
        { type: P.CKA_TOKEN, value: true }, { type: P.CKA_PRIVATE, value: true }, { type: P.CKA_SENSITIVE, value: false }, { type: P.CKA_EXTRACTABLE, value: true },
        { type: P.CKA_ENCRYPT, value: true }, { type: P.CKA_DECRYPT, value: true }, { type: P.CKA_ID, value: randomBytes(8) }, { type: P.CKA_LABEL, value: 'leaky' },
      ]);
      pkcs11.C_CloseSession(session);
    } finally {
      token.close();
    }
    await assert.rejects(open(`pkcs11:token=${tok.label};object=leaky`), /must be a sensitive, non-extractable token object/);
  });
});
