// GetParametersForImport's wrapping rules (domain/import.ts) and SM2PKE unwrapping of imported material (key-import.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { unwrapSm2Pke } from '../../src/crypto/key-import.js';
import { Sm2Key } from '../../src/crypto/sm2.js';
import { importable, wrappingParameters } from '../../src/domain/import.js';
import type { KeyRecord } from '../../src/domain/ports.js';

const key = (keySpec: KeyRecord['keySpec']) => ({ keySpec, arn: 'arn:aws:kms:us-east-1:111122223333:key/x' }) as KeyRecord;
const refused = (f: () => unknown, name: string) => assert.throws(f, (e: Error) => (assert.equal(e.name, name), true));

describe('import wrapping rules', () => {
  it('SM2PKE goes with the SM2 wrapping key spec only, and wraps every importable spec', () => {
    for (const spec of ['SYMMETRIC_DEFAULT', 'HMAC_256', 'RSA_4096', 'ECC_NIST_P521', 'SM2'] as const) {
      assert.deepEqual(wrappingParameters(key(spec), 'SM2PKE', 'SM2'), { algorithm: 'SM2PKE', wrappingKey: { type: 'sm2' } });
    }
    refused(() => wrappingParameters(key('SYMMETRIC_DEFAULT'), 'SM2PKE', 'RSA_4096'), 'ValidationException');
    for (const alg of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'] as const) {
      refused(() => wrappingParameters(key('SYMMETRIC_DEFAULT'), alg, 'SM2'), 'ValidationException');
    }
    assert.deepEqual(wrappingParameters(key('SM2'), 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_3072'), { algorithm: 'RSA_AES_KEY_WRAP_SHA_256', wrappingKey: { type: 'rsa', bits: 3072 } });
    refused(() => wrappingParameters(key('RSA_2048'), 'RSAES_OAEP_SHA_256', 'RSA_4096'), 'UnsupportedOperationException');
    refused(() => wrappingParameters(key('SYMMETRIC_DEFAULT'), 'RSAES_PKCS1_V1_5', 'RSA_2048'), 'UnsupportedOperationException');
    assert.equal(importable('SM2'), true);
    assert.equal(importable('ML_DSA_44'), false);
  });

  it('unwraps SM2PKE with the wrapping private key, and nothing else', () => {
    const { key: wrapping, pkcs8 } = Sm2Key.generate();
    const material = randomBytes(32);
    const wrapped = wrapping.encrypt(material);
    assert.deepEqual(unwrapSm2Pke(pkcs8, wrapped), material);
    assert.equal(unwrapSm2Pke(Sm2Key.generate().pkcs8, wrapped), undefined);
    const tampered = Buffer.from(wrapped);
    tampered[tampered.length - 1]! ^= 1;
    assert.equal(unwrapSm2Pke(pkcs8, tampered), undefined);
    assert.equal(unwrapSm2Pke(randomBytes(40), wrapped), undefined);
    // The canonical PKCS#8 of a parsed key is the key as generated.
    assert.deepEqual(Sm2Key.fromPkcs8(pkcs8).pkcs8(), pkcs8);
  });
});
