// The request quota table against AWS's "Request quotas for each AWS KMS API operation" (developerguide/
// requests-per-second.html), transcribed here independently of src/domain/request-quotas.ts, and the token buckets
// on a clock the test moves; plus the requestQuotas setting.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OPERATIONS, type KeySpec, type OperationName } from '../../src/model/kms-model.generated.js';
import { KmsError } from '../../src/domain/errors.js';
import { AWS_REQUEST_QUOTAS, RequestQuotas, THROTTLED_MESSAGE, type QuotaName } from '../../src/domain/request-quotas.js';
import { loadConfig } from '../../src/config/config.js';

// Quota name (without " request rate") and its default requests per second in a Region with no special rate.
const DOC = `
Cryptographic operations (symmetric)   10000
Cryptographic operations (RSA)         1000
Cryptographic operations (ML-DSA)      1000
Cryptographic operations (ECC and SM2) 1000
Custom key store                       1800
CancelKeyDeletion 5
ConnectCustomKeyStore 5
CreateAlias 5
CreateCustomKeyStore 5
CreateGrant 50
CreateKey 5
DeleteAlias 15
DeleteCustomKeyStore 5
DeleteImportedKeyMaterial 15
DescribeCustomKeyStores 5
DescribeKey 2000
DisableKey 5
DisableKeyRotation 5
DisconnectCustomKeyStore 5
EnableKey 5
EnableKeyRotation 15
GetKeyLastUsage 5
GetKeyPolicy 1000
GetKeyRotationStatus 1000
GetParametersForImport 1
GetPublicKey 2000
ImportKeyMaterial 15
ListAliases 500
ListGrants 100
ListKeyPolicies 100
ListKeys 500
ListKeyRotations 100
ListResourceTags 2000
ListRetirableGrants 100
PutKeyPolicy 15
ReplicateKey 5
RetireGrant 50
RevokeGrant 50
RotateKeyOnDemand 5
ScheduleKeyDeletion 15
TagResource 10
UntagResource 5
UpdateAlias 5
UpdateCustomKeyStore 5
UpdateKeyDescription 5
UpdatePrimaryRegion 5
`;
const SHARED_BY_KEY = ['Decrypt', 'DeriveSharedSecret', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'ReEncrypt', 'Sign', 'Verify', 'VerifyMac'];

class FakeTime {
  ms = 0;
  readonly now = () => this.ms;
}

const A = { account: '111111111111', region: 'eu-west-3' };
const B = { account: '222222222222', region: 'eu-west-3' };
const key = (keySpec: KeySpec, customKeyStoreId?: string) => ({ keySpec, customKeyStoreId });

/** How many times `call` is admitted before the first ThrottlingException (at most `limit`). */
function admitted(call: () => void, limit = 100_000): number {
  for (let n = 0; n < limit; n++) {
    try {
      call();
    } catch (err) {
      assert.ok(err instanceof KmsError && err.type === 'ThrottlingException' && err.message === THROTTLED_MESSAGE && err.status === 400);
      return n;
    }
  }
  return limit;
}

describe('request quota table', () => {
  it("has AWS's default rate for every quota, and every operation of the model is counted toward one", () => {
    const rows = DOC.trim().split('\n').map((l) => /^(.+?)\s+([\d.]+)$/.exec(l.trim())!);
    for (const [, name, rate] of rows) assert.equal(AWS_REQUEST_QUOTAS[name as QuotaName]?.rate, Number(rate), name);
    const t = new FakeTime();
    for (const op of Object.keys(OPERATIONS) as OperationName[]) {
      const q = new RequestQuotas({}, t.now);
      if (SHARED_BY_KEY.includes(op)) {
        assert.equal(admitted(() => q.admitOperation(A, op, {})), 100_000, `${op} is not counted before its key is known`);
        assert.equal(admitted(() => q.admitKey(A, op, key('ECC_NIST_P256'))), 1000, `${op} with an ECC key`);
      } else if (op === 'GenerateDataKeyPair' || op === 'GenerateDataKeyPairWithoutPlaintext') {
        assert.equal(admitted(() => q.admitOperation(A, op, { KeyPairSpec: 'RSA_2048' })), 20);
        assert.equal(admitted(() => q.admitKey(A, op, key('SYMMETRIC_DEFAULT'))), 100_000, 'no symmetric quota besides the key pair one');
      } else if (op === 'GenerateRandom') {
        assert.equal(admitted(() => q.admitOperation(A, op, {})), 10_000);
      } else {
        assert.equal(admitted(() => q.admitOperation(A, op, {})), AWS_REQUEST_QUOTAS[op as QuotaName].rate, op);
      }
    }
  });

  it('shares a quota per key type: symmetric and HMAC keys together, RSA, ECC and SM2, ML-DSA apart', () => {
    const t = new FakeTime();
    const q = new RequestQuotas({ 'Cryptographic operations (symmetric)': 3, 'Cryptographic operations (RSA)': 2 }, t.now);
    q.admitKey(A, 'Encrypt', key('SYMMETRIC_DEFAULT'));
    q.admitKey(A, 'GenerateMac', key('HMAC_256'));
    q.admitOperation(A, 'GenerateRandom', {});
    assert.throws(() => q.admitKey(A, 'Decrypt', key('SYMMETRIC_DEFAULT')), /exceeded the rate/);
    assert.equal(admitted(() => q.admitKey(A, 'Sign', key('RSA_2048'))), 2);
    assert.equal(admitted(() => q.admitKey(A, 'Sign', key('SM2'))), 1000);
    assert.equal(admitted(() => q.admitKey(A, 'Sign', key('ML_DSA_65'))), 1000);
    assert.equal(admitted(() => q.admitKey(B, 'Encrypt', key('SYMMETRIC_DEFAULT'))), 3, 'another account has its own');
    assert.equal(admitted(() => q.admitKey({ ...A, region: 'us-east-2' }, 'Encrypt', key('SYMMETRIC_DEFAULT'))), 3, 'another Region too');
  });

  it("uses AWS's Regional rates", () => {
    const t = new FakeTime();
    const q = new RequestQuotas({}, t.now);
    assert.equal(q.rate('Cryptographic operations (symmetric)', 'us-east-1'), 100_000);
    assert.equal(q.rate('Cryptographic operations (symmetric)', 'eu-west-2'), 20_000);
    assert.equal(q.rate('Cryptographic operations (symmetric)', 'sa-east-1'), 10_000);
    assert.equal(q.rate('GenerateDataKeyPair (RSA_4096)', 'cn-north-1'), 0.1);
  });

  it('refills at the rate, never beyond one second of requests', () => {
    const t = new FakeTime();
    const q = new RequestQuotas({ CreateKey: 4, GetParametersForImport: 0.25 }, t.now);
    const create = () => q.admitOperation(A, 'CreateKey', {});
    assert.equal(admitted(create), 4);
    t.ms += 500;
    assert.equal(admitted(create), 2);
    t.ms += 60_000;
    assert.equal(admitted(create), 4, 'an idle minute fills the bucket, no more');
    const params = () => q.admitOperation(A, 'GetParametersForImport', {});
    assert.equal(admitted(params), 1);
    t.ms += 3_999;
    assert.equal(admitted(params), 0, '0.25 per second: one in each 4 seconds');
    t.ms += 1;
    assert.equal(admitted(params), 1);
  });

  it('counts a custom key store per store, on top of the account quota; 0 lifts a quota', () => {
    const t = new FakeTime();
    const q = new RequestQuotas({ 'Custom key store': 2, 'Cryptographic operations (symmetric)': 0 }, t.now);
    assert.equal(admitted(() => q.admitKey(A, 'Encrypt', key('SYMMETRIC_DEFAULT', 'cks-1'))), 2);
    assert.equal(admitted(() => q.admitKey(B, 'Encrypt', key('SYMMETRIC_DEFAULT', 'cks-1'))), 0, 'the store is shared by every account');
    assert.equal(admitted(() => q.admitKey(B, 'Encrypt', key('SYMMETRIC_DEFAULT', 'cks-2'))), 2);
    assert.equal(admitted(() => q.admitKey(A, 'Encrypt', key('SYMMETRIC_DEFAULT'))), 100_000, 'symmetric quota lifted');
    assert.equal(admitted(() => q.admitCustomKeyStore('cks-3')), 2);
  });
});

describe('requestQuotas setting', () => {
  it("is AWS's outside dev mode, off in dev mode unless set; takes overrides by quota name", () => {
    assert.deepEqual(loadConfig({}, {}).requestQuotas, {});
    assert.equal(loadConfig({ dev: true }, {}).requestQuotas, 'off');
    assert.deepEqual(loadConfig({ dev: true, 'request-quotas': 'aws' }, {}).requestQuotas, {});
    assert.equal(loadConfig({}, { TRENT_REQUEST_QUOTAS: 'off' }).requestQuotas, 'off');
    assert.deepEqual(loadConfig({ dev: true }, { TRENT_REQUEST_QUOTAS: '{"CreateKey": 50, "Cryptographic operations (RSA)": 0}' }).requestQuotas, { CreateKey: 50, 'Cryptographic operations (RSA)': 0 });
    assert.throws(() => loadConfig({ 'request-quotas': '{"Encrypt": 5}' }, {}), /unknown quota "Encrypt"/);
    assert.throws(() => loadConfig({ 'request-quotas': '{"CreateKey": -1}' }, {}), /must be a number/);
    assert.throws(() => loadConfig({ 'request-quotas': 'fast' }, {}), /must be off, aws, or an object/);
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    assert.throws(() => loadConfig({ 'headers-timeout-ms': '5000', 'request-timeout-ms': '1000' }, {}), /headers-timeout-ms/);
  });
});
