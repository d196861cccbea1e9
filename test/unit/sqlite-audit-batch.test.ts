// The SQLite append worker's batch form: what the main thread sends is what the worker stores, byte for byte, so that
// the hash chain covers exactly the event the trail built.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, type AuditCapture } from '../../src/audit/cloudtrail.js';
import { packBatch, unpackBatch } from '../../src/storage/sqlite/sqlite-audit.js';
import type { AuditEventInput } from '../../src/domain/ports.js';

describe('audit batch sent to the SQLite append worker', () => {
  it('round-trips events with line breaks, line separators and non-ASCII text in their JSON, and absent columns', () => {
    const caller = { principalArn: 'arn:aws:iam::111122223333:user/zoë', account: '111122223333', accessKeyId: 'AKIAEXAMPLE' };
    const failed: AuditCapture = {
      requestId: 'r-1', time: Date.UTC(2026, 10, 23, 2, 30), sourceIp: '127.0.0.1', userAgent: 'agent\u2028with separator',
      authorization: '', operation: 'Encrypt', request: { caller: caller as never, region: 'eu-west-1', resourceArn: 'arn:aws:kms:eu-west-1:111122223333:key/k1' },
      input: { KeyId: 'alias/a\nb', EncryptionContext: { 'line\nbreak': 'tab\tand "quotes" 🔑' } },
      errorCode: 'NotFoundException', errorMessage: 'Alias alias/a\nb\r\nis not found.',
    };
    const unauthenticated: AuditCapture = { requestId: 'r-2', time: 0, sourceIp: '', userAgent: '', authorization: '', operation: 'UnknownOperation' };
    const events: AuditEventInput[] = [buildEvent(failed, 'e-1', 'us-east-1'), buildEvent(unauthenticated, 'e-2', 'us-east-1')];
    const batch = packBatch(events);
    assert.equal(typeof batch.columns, 'string');
    assert.equal(typeof batch.lines, 'string');
    const back = unpackBatch(structuredClone(batch));
    assert.equal(back.length, 2);
    for (let i = 0; i < events.length; i++) {
      for (const [k, v] of Object.entries(events[i]!)) assert.deepEqual((back[i] as unknown as Record<string, unknown>)[k], v, k);
      assert.equal(back[i]!.json, events[i]!.json);
    }
    assert.equal(back[1]!.keyArn, undefined);
    assert.equal(back[1]!.principal, undefined);
  });

  it('refuses a batch whose columns and events do not match', () => {
    assert.throws(() => unpackBatch({ columns: '[]', lines: '{}' }), /do not match/);
  });
});
