// The pieces of the HSM key store that need no token: the material reference format, and the mapping of PKCS#11
// return values to what the key store does with them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pkcs11js from 'pkcs11js';
import { hsmMaterialRef, isHsmMaterial, parseHsmMaterialRef } from '../../src/keystores/pkcs11/hsm-keystore.js';
import { ckrName, mapPkcs11Error } from '../../src/keystores/pkcs11/pkcs11-errors.js';

describe('HSM material references', () => {
  it('round-trip, and are never mistaken for root-key-wrapped material', () => {
    const ckaId = Buffer.alloc(32, 0xab);
    const ref = hsmMaterialRef('cks-0123456789abcdef0', ckaId);
    assert.equal(ref.toString('hex'), `c115${Buffer.from('cks-0123456789abcdef0').toString('hex')}20${'ab'.repeat(32)}`);
    assert.deepEqual(parseHsmMaterialRef(ref), { customKeyStoreId: 'cks-0123456789abcdef0', ckaId });
    const m = (wrapped: Buffer) => ({ keyArn: 'arn', materialId: 'm', wrapped, createdAt: new Date(0) });
    assert.equal(isHsmMaterial(m(ref)), true);
    // A root-key wrap starts with its version byte 0x01; truncated or padded references are not references.
    assert.equal(isHsmMaterial(m(Buffer.concat([Buffer.of(1), ref.subarray(1)]))), false);
    assert.equal(isHsmMaterial(m(ref.subarray(0, ref.length - 1))), false);
    assert.equal(isHsmMaterial(m(Buffer.concat([ref, Buffer.of(0)]))), false);
    assert.equal(isHsmMaterial(m(Buffer.alloc(0))), false);
  });
});

describe('PKCS#11 error mapping', () => {
  const err = (code: number) => new pkcs11js.Pkcs11Error('x', code, 'C_X');
  it('a failed GCM tag check is authentication-failed, also as SoftHSM 2.6 reports it (CKR_GENERAL_ERROR)', () => {
    assert.equal(mapPkcs11Error(err(pkcs11js.CKR_GENERAL_ERROR), 'C_Decrypt', true).kind, 'authentication-failed');
    assert.equal(mapPkcs11Error(err(pkcs11js.CKR_ENCRYPTED_DATA_INVALID), 'C_Decrypt', true).kind, 'authentication-failed');
    // Outside decryption CKR_GENERAL_ERROR is a device failure.
    assert.equal(mapPkcs11Error(err(pkcs11js.CKR_GENERAL_ERROR), 'C_Encrypt').kind, 'device');
  });
  it('maps PINs, sessions, capacity, tokens and keys', () => {
    const kind = (code: number) => mapPkcs11Error(err(code), 'C_X').kind;
    assert.equal(kind(pkcs11js.CKR_PIN_INCORRECT), 'invalid-credentials');
    assert.equal(kind(pkcs11js.CKR_PIN_LOCKED), 'invalid-credentials');
    assert.equal(mapPkcs11Error(err(pkcs11js.CKR_PIN_LOCKED), 'C_Login').ckr, 'CKR_PIN_LOCKED');
    assert.equal(kind(pkcs11js.CKR_SESSION_HANDLE_INVALID), 'session');
    assert.equal(kind(pkcs11js.CKR_DEVICE_REMOVED), 'session');
    assert.equal(kind(pkcs11js.CKR_SESSION_COUNT), 'capacity');
    assert.equal(kind(pkcs11js.CKR_SLOT_ID_INVALID), 'token-not-found');
    assert.equal(kind(pkcs11js.CKR_KEY_HANDLE_INVALID), 'key-not-found');
    assert.equal(kind(pkcs11js.CKR_DEVICE_ERROR), 'device');
    assert.equal(mapPkcs11Error(new Error('boom'), 'C_X').kind, 'device');
    assert.equal(ckrName(pkcs11js.CKR_PIN_INCORRECT), 'CKR_PIN_INCORRECT');
    assert.equal(ckrName(0x8000_0001), 'CKR_0x80000001');
  });
});
