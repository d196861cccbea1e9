// The audit batch (domain/audit-batch.ts): the request path queues API calls in compact form and the store (on SQLite,
// the append worker's thread) builds their events. What is stored must be the event the request made, byte for byte:
// the hash chain covers exactly those bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, compactEvent, serviceEvent, type AuditCapture } from '../../src/audit/cloudtrail.js';
import { packAuditBatch, unpackAuditBatch } from '../../src/domain/audit-batch.js';
import { canonicalJson } from '../../src/domain/audit-chain.js';
import { SecretBytes } from '../../src/crypto/secret-bytes.js';

const caller = { principalArn: 'arn:aws:iam::111122223333:user/zoë', account: '111122223333', accessKeyId: 'AKIAEXAMPLE' };
const failed: AuditCapture = {
  requestId: 'r-1', time: Date.UTC(2026, 10, 23, 2, 30, 1, 999), sourceIp: '127.0.0.1', userAgent: 'agent\u2028with separator',
  authorization: '', operation: 'Encrypt', request: { caller: caller as never, region: 'eu-west-1', resourceArn: 'arn:aws:kms:eu-west-1:111122223333:key/k1' },
  input: { KeyId: 'alias/a\nb', Plaintext: new SecretBytes(Buffer.from('the plaintext')), EncryptionContext: { 'line\nbreak': 'tab\tand "quotes" 🔑' } },
  errorCode: 'NotFoundException', errorMessage: 'Alias alias/a\nb\r\nis not found.',
};
const unauthenticated: AuditCapture = {
  requestId: 'r-2', time: 0, sourceIp: '', userAgent: '', operation: 'UnknownOperation',
  authorization: 'AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=x',
};
const stateChange: AuditCapture = {
  requestId: 'r-3', time: Date.UTC(2026, 0, 1), sourceIp: '::1', userAgent: 'aws-cli', authorization: '', operation: 'CreateAlias',
  request: { caller: { principalArn: 'arn:aws:sts::111122223333:assumed-role/Admin/s', account: '111122223333', accessKeyId: 'ASIA1' } as never, region: 'us-east-1' },
  input: { AliasName: 'alias/app', TargetKeyId: 'k' }, output: {},
};

describe('audit batch (compact API calls, built where the batch is appended)', () => {
  it('stores the very event the request made: same bytes as building it on the spot, through a structured clone', () => {
    const captures = [failed, unauthenticated, stateChange];
    const notice = serviceEvent('AuditEventsPossiblyLost', Date.UTC(2026, 0, 1), 'n-1', 'us-east-1', { reason: 'crash' });
    const packed = packAuditBatch([...captures.map((c, i) => compactEvent(c, `e-${i}`, 'us-east-1')), notice]);
    assert.equal(typeof packed, 'string');
    const back = unpackAuditBatch(structuredClone(packed));
    assert.equal(back.length, 4);
    captures.forEach((c, i) => assert.deepEqual({ ...back[i] }, { ...buildEvent(c, `e-${i}`, 'us-east-1') }, c.requestId));
    assert.deepEqual(back[3], JSON.parse(JSON.stringify(notice)), 'a built event passes as it is (its absent columns stay absent)');
    for (const e of back) assert.equal(e.json, canonicalJson(JSON.parse(e.json)), 'canonical JSON');
  });

  it('keeps no secret of the request in the batch, and what the event needs', () => {
    const packed = packAuditBatch([compactEvent(failed, 'e-0', 'us-east-1')]);
    assert.ok(!packed.includes('the plaintext') && !packed.includes(Buffer.from('the plaintext').toString('base64')));
    const [e] = unpackAuditBatch(packed);
    const json = JSON.parse(e!.json);
    assert.equal(json.eventTime, '2026-11-23T02:30:01Z');
    assert.equal(json.awsRegion, 'eu-west-1');
    assert.deepEqual(json.requestParameters, { encryptionContext: { 'line\nbreak': 'tab\tand "quotes" 🔑' }, keyId: 'alias/a\nb' });
    assert.deepEqual(json.userIdentity, { accessKeyId: 'AKIAEXAMPLE', accountId: '111122223333', arn: caller.principalArn, principalId: '111122223333:zoë', type: 'IAMUser', userName: 'zoë' });
    assert.deepEqual([e!.keyArn, e!.resourceAccount, e!.username, e!.usage], ['arn:aws:kms:eu-west-1:111122223333:key/k1', '111122223333', 'zoë', undefined]);
    const [anon] = unpackAuditBatch(packAuditBatch([compactEvent(unauthenticated, 'e-1', 'ap-south-2')]));
    assert.deepEqual(JSON.parse(anon!.json).userIdentity, { accessKeyId: 'AKIAUNKNOWN', type: 'Unknown' });
    assert.equal(JSON.parse(anon!.json).awsRegion, 'ap-south-2', "the server's region when the request had none");
    assert.deepEqual([anon!.principal, anon!.account], [undefined, '']);
  });

  it('refuses a batch that is not a list', () => {
    assert.throws(() => unpackAuditBatch('{}'), /not a list/);
  });
});
