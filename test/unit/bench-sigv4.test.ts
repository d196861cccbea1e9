// The benchmark's SigV4 signer (bench/sigv4.ts) against vectors of AWS's published SigV4 test suite.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signRequest } from '../../bench/sigv4.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const date = new Date('2015-08-30T12:36:00Z');
const scope = 'Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date';

describe('bench SigV4 signer', () => {
  it('signs get-vanilla as the test suite does', () => {
    const h = signRequest({ method: 'GET', url: new URL('https://example.amazonaws.com/'), headers: {}, body: '', region: 'us-east-1', service: 'service', credentials, date });
    assert.equal(h['x-amz-date'], '20150830T123600Z');
    assert.equal(h.authorization, `AWS4-HMAC-SHA256 ${scope}, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31`);
  });

  it('signs post-vanilla as the test suite does', () => {
    const h = signRequest({ method: 'POST', url: new URL('https://example.amazonaws.com/'), headers: {}, body: '', region: 'us-east-1', service: 'service', credentials, date });
    assert.equal(h.authorization, `AWS4-HMAC-SHA256 ${scope}, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b`);
  });

  it('signs the KMS headers and the body', () => {
    const base = { method: 'POST', url: new URL('http://127.0.0.1:4599/'), region: 'us-east-1', service: 'kms', credentials, date };
    const headers = { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.Encrypt' };
    const a = signRequest({ ...base, headers, body: '{"KeyId":"a"}' });
    const b = signRequest({ ...base, headers, body: '{"KeyId":"b"}' });
    assert.match(a.authorization!, /SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$/);
    assert.equal(a.host, '127.0.0.1:4599');
    assert.notEqual(a.authorization, b.authorization);
  });
});
