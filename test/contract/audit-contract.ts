// The audit trail's storage contract: both backends append one hash chain, answer the lookups, and commit a request's
// event with the write it makes (docs/audit.md). Run by sqlite.test.ts and postgres.test.ts.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, compactEvent, serviceEvent, type AuditCapture } from '../../src/audit/cloudtrail.js';
import { packAuditBatch } from '../../src/domain/audit-batch.js';
import { ChainChecker, GENESIS_HASH } from '../../src/domain/audit-chain.js';
import {
  StorageConflictError, StorageDuplicateError,
  type AuditEventInput, type AuditEventSource, type AuditStore, type Scope, type Storage,
} from '../../src/domain/ports.js';
import { keyRecord } from './storage-contract.js';

export type AuditedStore = Storage & AuditStore;

export interface AuditStoreFactory {
  /** A fresh, migrated, empty store whose writes append `audit.pending()` (if given). */
  create(audit?: AuditEventSource): Promise<AuditedStore>;
}

const A: Scope = { account: '111122223333', region: 'us-east-1' };
const B: Scope = { account: '444455556666', region: 'us-east-1' };
let counter = 0;

/** A real event, built as the server builds it. */
export function testEvent(over: { operation?: string; account?: string; keyArn?: string; user?: string; time?: number; error?: string } = {}): AuditEventInput {
  const n = ++counter;
  const account = over.account ?? A.account;
  const capture: AuditCapture = {
    requestId: `req-${n}`, time: over.time ?? 1_700_000_000_000 + n * 1000, sourceIp: '127.0.0.1', userAgent: 'test', authorization: '',
    operation: over.operation ?? 'Encrypt',
    request: {
      caller: { account, principalArn: over.user ? `arn:aws:iam::${account}:user/${over.user}` : `arn:aws:iam::${account}:root`, accessKeyId: 'AKIATEST' },
      region: 'us-east-1', resourceArn: over.keyArn,
    },
    input: { KeyId: over.keyArn ?? 'alias/x', EncryptionContext: { 'ünï': 'cöde' } },
    ...(over.error !== undefined && { errorCode: over.error, errorMessage: 'it failed' }),
  };
  return buildEvent(capture, `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`, 'us-east-1');
}

async function verifyAll(s: AuditStore): Promise<number> {
  const checker = new ChainChecker();
  for (const e of await s.auditEventsAfter(0, 100_000)) assert.equal(checker.check(e), undefined, `event ${e.seq} breaks the chain`);
  assert.equal(checker.checkHead(await s.auditChainHead()), undefined);
  return checker.count;
}

/** A stand-in for the request scope: one event pending until a transaction commits it. */
class OnePending implements AuditEventSource {
  event: AuditEventInput | undefined;
  committedEvents: AuditEventInput[] = [];
  pending() {
    return this.event;
  }
  committed(e: AuditEventInput) {
    this.committedEvents.push(e);
    this.event = undefined;
  }
}

export function auditContract(name: string, factory: AuditStoreFactory): void {
  describe(`Audit store contract: ${name}`, () => {
    const open: AuditedStore[] = [];
    const make = async (audit?: AuditEventSource) => {
      const s = await factory.create(audit);
      open.push(s);
      return s;
    };
    after(async () => {
      await Promise.all(open.map((s) => s.close()));
    });

    it('appends a packed batch (API calls in compact form and built events) as the events the requests made, in order', async () => {
      const s = await make();
      await s.appendAuditEvents([testEvent()]);
      const capture: AuditCapture = {
        requestId: 'req-compact', time: 1_700_000_123_456, sourceIp: '203.0.113.9', userAgent: 'sdk', authorization: '', operation: 'Decrypt',
        request: { caller: { account: A.account, principalArn: `arn:aws:iam::${A.account}:user/Bob`, accessKeyId: 'AKIABOB' }, region: 'us-east-1', resourceArn: `arn:aws:kms:us-east-1:${A.account}:key/k9` },
        input: { KeyId: 'alias/app', EncryptionContext: { purpose: 'test' } },
      };
      const built = testEvent({ operation: 'DescribeKey' });
      const result = await s.appendAuditBatch(packAuditBatch([compactEvent(capture, 'event-compact', 'us-east-1'), built]), true);
      assert.equal(result.count, 2);
      const stored = await s.auditEventsAfter(1, 10);
      assert.deepEqual(stored.map((e) => e.seq), [2, 3]);
      assert.equal(stored[0]!.json, buildEvent(capture, 'event-compact', 'us-east-1').json, 'the event as the request path would build it');
      assert.deepEqual([stored[0]!.keyArn, stored[0]!.username, stored[0]!.usage, stored[0]!.requestId], [capture.request!.resourceArn, 'Bob', 'Decrypt', 'req-compact']);
      assert.equal(stored[1]!.json, built.json);
      assert.equal(result.lines, stored.map((e) => e.json).join('\n'), 'the stored JSON lines, for the --audit-log stream');
      assert.equal((await s.appendAuditBatch(packAuditBatch([compactEvent(capture, 'event-compact-2', 'us-east-1')]), false)).lines, undefined);
      assert.equal(await verifyAll(s), 4);
    });

    it('appends events as one hash chain from the genesis hash, in order', async () => {
      const s = await make();
      assert.deepEqual({ ...(await s.auditChainHead()), trackingStart: 0 }, { seq: 0, hash: GENESIS_HASH, trackingStart: 0 });
      const first = await s.appendAuditEvents([testEvent(), testEvent()]);
      const second = await s.appendAuditEvents([testEvent({ operation: 'DescribeKey' })]);
      assert.deepEqual([...first, ...second].map((e) => e.seq), [1, 2, 3]);
      assert.equal(first[0]!.prevHash, GENESIS_HASH);
      assert.equal(second[0]!.prevHash, first[1]!.hash);
      const stored = await s.auditEventsAfter(0, 10);
      assert.deepEqual(stored, [...first, ...second], 'read back exactly as appended');
      assert.equal(await verifyAll(s), 3);
      assert.deepEqual(await s.auditEventsAfter(2, 10), second);
      const head = await s.auditChainHead();
      assert.deepEqual([head.seq, head.hash], [3, second[0]!.hash]);
      assert.ok(head.trackingStart > 1_600_000_000_000, 'the trail records when it began');
    });

    it('keeps one linear chain under concurrent appends', async () => {
      const s = await make();
      await Promise.all(Array.from({ length: 20 }, () => s.appendAuditEvents([testEvent(), testEvent(), testEvent()])));
      assert.equal(await verifyAll(s), 60);
    });

    it('looks events up by account, name, id, key, principal, user name, read-only and time, newest first, in pages', async () => {
      const s = await make();
      const keyA = keyRecord(A, 1).arn;
      const keyB = keyRecord(B, 2).arn;
      const events = [
        testEvent({ keyArn: keyA }),
        testEvent({ operation: 'CreateKey', keyArn: keyA, user: 'alice' }),
        testEvent({ account: B.account, keyArn: keyB }),
        // Account B using account A's key: both accounts see it.
        testEvent({ account: B.account, keyArn: keyA, operation: 'Decrypt', error: 'AccessDeniedException' }),
      ];
      const stored = await s.appendAuditEvents(events);
      const names = async (q: Parameters<AuditStore['queryAuditEvents']>[0]) => (await s.queryAuditEvents(q)).map((e) => e.seq);
      assert.deepEqual(await names({ limit: 10 }), [4, 3, 2, 1]);
      assert.deepEqual(await names({ limit: 10, account: A.account }), [4, 2, 1]);
      assert.deepEqual(await names({ limit: 10, account: B.account }), [4, 3]);
      assert.deepEqual(await names({ limit: 10, eventName: 'CreateKey' }), [2]);
      assert.deepEqual(await names({ limit: 10, eventId: stored[2]!.eventId }), [3]);
      assert.deepEqual(await names({ limit: 10, keyArn: keyA }), [4, 2, 1]);
      assert.deepEqual(await names({ limit: 10, keyId: keyRecord(B, 2).keyId }), [3]);
      assert.deepEqual(await names({ limit: 10, principal: `arn:aws:iam::${A.account}:user/alice` }), [2]);
      assert.deepEqual(await names({ limit: 10, username: 'alice' }), [2]);
      assert.deepEqual(await names({ limit: 10, username: 'root', account: B.account }), [4, 3]);
      assert.deepEqual(await names({ limit: 10, readOnly: false }), [2]);
      assert.deepEqual(await names({ limit: 10, startTime: stored[1]!.eventTime, endTime: stored[2]!.eventTime }), [3, 2]);
      assert.deepEqual(await names({ limit: 2 }), [4, 3]);
      assert.deepEqual(await names({ limit: 2, beforeSeq: 3 }), [2, 1]);
    });

    it('finds the last successful tracked use of a key', async () => {
      const s = await make();
      const key = keyRecord(A, 1).arn;
      await s.appendAuditEvents([testEvent({ keyArn: key }), testEvent({ keyArn: key, operation: 'Decrypt' })]);
      await s.appendAuditEvents([
        testEvent({ keyArn: key, operation: 'DescribeKey' }),
        testEvent({ keyArn: key, operation: 'Sign', error: 'DisabledException' }),
        testEvent({ keyArn: keyRecord(A, 2).arn, operation: 'Encrypt' }),
      ]);
      const last = await s.lastKeyUsage(key);
      assert.equal(last?.seq, 2);
      assert.equal(last?.usage, 'Decrypt');
      assert.equal(await s.lastKeyUsage(keyRecord(A, 3).arn), undefined);
    });

    it("commits a request's pending event with the write it makes, and not when the write fails or changes nothing", async () => {
      const audit = new OnePending();
      const s = await make(audit);
      const k = keyRecord(A, 1);
      audit.event = testEvent({ operation: 'CreateKey', keyArn: k.arn });
      const created = audit.event;
      await s.insertKey(k, [], []);
      assert.deepEqual(audit.committedEvents, [created], 'the transaction reports the commit');
      assert.deepEqual((await s.auditEventsAfter(0, 10)).map((e) => e.eventId), [created.eventId]);

      // A failing write rolls its event back with it.
      audit.event = testEvent({ operation: 'CreateKey', keyArn: k.arn });
      await assert.rejects(s.insertKey(k, [], []), StorageDuplicateError);
      audit.event = testEvent({ operation: 'UpdateKeyDescription', keyArn: k.arn });
      await assert.rejects(s.updateKey({ ...k, version: 5 }), StorageConflictError);
      // A write that changes nothing appends nothing.
      assert.equal(await s.deleteAlias(A, 'alias/none'), false);
      assert.equal(await s.deleteKey(A, keyRecord(A, 9).keyId), false);
      assert.equal((await s.auditEventsAfter(0, 10)).length, 1);

      // Each kind of write carries it.
      const writes: [string, () => Promise<unknown>][] = [
        ['UpdateKeyDescription', () => s.updateKey({ ...k, description: 'x' })],
        ['CreateAlias', () => s.insertAlias({ ...A, aliasName: 'alias/a', targetKeyId: k.keyId, creationDate: new Date(0), lastUpdatedDate: new Date(0) })],
        ['UpdateAlias', () => s.updateAlias(A, 'alias/a', k.keyId, new Date(1))],
        ['TagResource', () => s.putTags(k.arn, [{ key: 't', value: 'v' }], 50)],
        ['UntagResource', () => s.removeTags(k.arn, ['t'])],
        ['DeleteAlias', () => s.deleteAlias(A, 'alias/a')],
        ['ScheduleKeyDeletion', () => s.deleteKey(A, k.keyId)],
      ];
      for (const [operation, write] of writes) {
        audit.event = testEvent({ operation, keyArn: k.arn });
        await write();
        assert.equal(audit.event, undefined, `${operation}: committed`);
      }
      const stored = await s.auditEventsAfter(0, 100);
      assert.deepEqual(stored.map((e) => e.eventName), ['CreateKey', ...writes.map(([op]) => op)]);
      assert.equal(await verifyAll(s), 8);
    });

    it('prunes the events up to an anchor in one transaction with its own event; the chain verifies from the anchor', async () => {
      const s = await make();
      const stored = await s.appendAuditEvents(Array.from({ length: 6 }, () => testEvent()));
      assert.equal(await s.auditAnchor(), undefined);
      const through = { seq: 4, hash: stored[3]!.hash };
      const archived = serviceEvent('AuditEventsArchived', 1_800_000_000_000, 'prune-1', 'us-east-1', { archivedThroughSeq: 4, archivedThroughHash: through.hash });
      const boundary = (await s.auditChainHead()).trackingStart + 60_000;
      const { deleted, record } = await s.pruneAuditEvents(undefined, through, boundary, archived);
      assert.equal(deleted, 4);
      assert.deepEqual([record.seq, record.prevHash, record.eventName], [7, stored[5]!.hash, 'AuditEventsArchived']);
      assert.deepEqual(await s.auditAnchor(), through);
      assert.deepEqual((await s.auditEventsAfter(0, 10)).map((e) => e.seq), [5, 6, 7]);
      assert.equal((await s.auditChainHead()).trackingStart, boundary, 'GetKeyLastUsage tracks from the archive boundary');
      const checker = new ChainChecker(through);
      for (const e of await s.auditEventsAfter(through.seq, 10)) assert.equal(checker.check(e), undefined, `event ${e.seq}`);
      assert.equal(checker.checkHead(await s.auditChainHead()), undefined);
      assert.equal(new ChainChecker().check((await s.auditEventsAfter(0, 1))[0]!)?.problem, 'missing', 'without the anchor the first events are missing');
      // Appends continue the chain.
      await s.appendAuditEvents([testEvent()]);
      assert.equal((await s.auditChainHead()).seq, 8);

      // A prune that started from another anchor, or names an event that is not the stored one, changes nothing.
      const stale = serviceEvent('AuditEventsArchived', 1_800_000_000_000, 'prune-2', 'us-east-1', {});
      await assert.rejects(s.pruneAuditEvents(undefined, { seq: 6, hash: stored[5]!.hash }, 0, stale), StorageConflictError);
      await assert.rejects(s.pruneAuditEvents(through, { seq: 6, hash: stored[4]!.hash }, 0, stale), StorageConflictError);
      assert.deepEqual((await s.auditEventsAfter(0, 10)).map((e) => e.seq), [5, 6, 7, 8]);
      assert.deepEqual(await s.auditAnchor(), through);
      // A second prune moves the anchor on; the tracking start never moves back.
      await s.pruneAuditEvents(through, { seq: 6, hash: stored[5]!.hash }, 0, serviceEvent('AuditEventsArchived', 1_800_000_000_000, 'prune-3', 'us-east-1', {}));
      assert.deepEqual((await s.auditEventsAfter(0, 10)).map((e) => e.seq), [7, 8, 9]);
      assert.equal((await s.auditChainHead()).trackingStart, boundary);
    });
  });
}
