// The audit trail under a flood (docs/audit.md "Under a flood"), in process: the real request handler and audit trail
// on a real HTTP server, the real SDK, and an audit store that cannot keep up (a gate that holds every append) or
// cannot be written (every append fails). When the queue is at its bound, an authenticated request is refused with
// ThrottlingException before it runs, and no acknowledged request's event is lost; requests that do not authenticate
// are recorded a few per source and interval, with bounded fields, and the rest counted into one summary event.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { AuditTrail, RequestAuditScope } from '../../src/audit/audit-trail.js';
import { NullLog } from '../../src/audit/request-log.js';
import { DevAuthenticator } from '../../src/auth/dev-authenticator.js';
import type { Authenticator } from '../../src/auth/authenticator.js';
import { unpackAuditBatch } from '../../src/domain/audit-batch.js';
import { KmsError } from '../../src/domain/errors.js';
import type { AuditEventInput, AuditStore } from '../../src/domain/ports.js';
import { systemRandom } from '../../src/main.js';
import type { Services } from '../../src/operations/operation.js';
import { OperationRegistry } from '../../src/operations/registry.js';
import { createRequestHandler } from '../../src/protocol/http-handler.js';

/** An audit store whose appends wait for `open()`, or fail while `failing` is set. Keeps what it stored. */
class FakeAuditStore implements Pick<AuditStore, 'appendAuditBatch' | 'lastKeyUsage' | 'auditChainHead'> {
  readonly stored: AuditEventInput[] = [];
  failing: Error | undefined;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  close(): void {
    this.#gate = new Promise((r) => (this.#open = r));
  }
  open(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  async appendAuditBatch(batch: string): Promise<{ count: number }> {
    if (this.#gate) await this.#gate;
    if (this.failing) throw this.failing;
    const events = unpackAuditBatch(batch);
    this.stored.push(...events);
    return { count: events.length };
  }
  async lastKeyUsage() {
    return undefined;
  }
  async auditChainHead() {
    return { seq: 0, hash: '', trackingStart: 0 };
  }
}

/** Accepts a request with an Authorization header (dev mode), refuses one without, as SigV4 does. */
const devOrMissing = (dev: Authenticator): Authenticator => ({
  authenticate: async (r) => {
    if (!r.headers.authorization) throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    return dev.authenticate(r);
  },
});

async function serve(store: FakeAuditStore, options: Partial<ConstructorParameters<typeof AuditTrail>[0]>) {
  const errors: string[] = [];
  const trail = new AuditTrail({
    store: store as unknown as AuditStore, scope: new RequestAuditScope(), uuid: () => systemRandom.uuid(), now: () => Date.now(), region: 'us-east-1',
    flushMs: 5, onError: (m) => errors.push(m), ...options,
  });
  const handler = createRequestHandler({
    registry: new OperationRegistry(), authenticator: devOrMissing(new DevAuthenticator('111122223333', 'us-east-1')),
    services: { random: systemRandom, authorizer: { authorize: () => {} } } as unknown as Services, requestLog: new NullLog(), audit: trail,
    logger: { error: (m, f) => errors.push(`${m} ${JSON.stringify(f)}`) }, maxBodyBytes: 1 << 20, extraRoutes: [],
  });
  const server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kms = new KMSClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: '111122223333', secretAccessKey: 'x' }, maxAttempts: 1 });
  const close = async () => {
    kms.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return { trail, kms, url, errors, close };
}

const random = (kms: KMSClient) => kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }));
const names = (events: readonly AuditEventInput[]) => events.map((e) => e.eventName);
const details = (e: AuditEventInput | undefined) => JSON.parse(e!.json).serviceEventDetails;

describe('audit trail under a flood', () => {
  it('refuses authenticated requests with ThrottlingException while the store cannot keep up, and loses no acknowledged event', async () => {
    const store = new FakeAuditStore();
    const { trail, kms, errors, close } = await serve(store, { maxQueue: 3 });
    try {
      store.close(); // every append waits: the queue only grows
      const answered = [];
      for (let i = 0; i < 3; i++) answered.push((await random(kms)).$metadata.requestId!);
      assert.equal(trail.queued.events, 3, errors.join('\n'));
      for (let i = 0; i < 2; i++) {
        await assert.rejects(random(kms), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(err.name, 'ThrottlingException');
          assert.equal(err.message, 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.');
          assert.equal(err.$metadata?.httpStatusCode, 400);
          return true;
        });
      }
      assert.equal(trail.queued.events, 3, 'the refusals are counted, not queued');
      assert.ok(errors.some((m) => /audit queue full .*slower than the requests/.test(m)), errors.join('\n'));

      store.open(); // the store catches up: requests go through again
      await trail.flush();
      answered.push((await random(kms)).$metadata.requestId!);
      assert.equal(await trail.stop(), true);

      const calls = store.stored.filter((e) => e.eventName === 'GenerateRandom');
      assert.deepEqual(calls.map((e) => e.requestId), answered, 'every answered request has its event, in order; no refused one has');
      const [summary, ...more] = store.stored.filter((e) => e.eventName === 'RequestsThrottledForAudit');
      assert.equal(more.length, 0);
      const d = details(summary);
      assert.equal(d.principal, 'arn:aws:iam::111122223333:root');
      assert.equal(d.count, 2);
      assert.deepEqual(d.eventNames, { GenerateRandom: 2 });
      assert.match(d.reason, /slower than the requests.*refused with ThrottlingException before they ran/);
      assert.equal(summary!.account, '111122223333', "the caller's account sees it (LookupEvents)");
    } finally {
      await close();
    }
  });

  it('names an unwritable store as the cause, and stores everything queued once it can be written', async () => {
    const store = new FakeAuditStore();
    const { trail, kms, close } = await serve(store, { maxQueue: 2 });
    try {
      store.failing = new Error('SQLITE_FULL: database or disk is full');
      const answered = [(await random(kms)).$metadata.requestId!, (await random(kms)).$metadata.requestId!];
      await trail.flush(); // fails: the events stay queued
      await assert.rejects(random(kms), { name: 'ThrottlingException' });
      store.failing = undefined;
      assert.equal(await trail.stop(), true);
      assert.deepEqual(store.stored.filter((e) => e.eventName === 'GenerateRandom').map((e) => e.requestId), answered);
      const summary = store.stored.find((e) => e.eventName === 'RequestsThrottledForAudit');
      assert.match(details(summary).reason, /the store could not be written \(SQLITE_FULL: database or disk is full\)/);
      assert.ok(!names(store.stored).includes('AuditEventsDropped'), 'nothing is dropped');
    } finally {
      await close();
    }
  });

  it('records a few unauthenticated requests per source with bounded fields, and counts the rest into one summary', async () => {
    const store = new FakeAuditStore();
    const { trail, url, kms, close } = await serve(store, { unauthenticatedPerSource: 4 });
    try {
      const userAgent = `flood/${'x'.repeat(15_000)}`; // Node's default bound of all headers is 16 KiB
      const target = `TrentService.${'A'.repeat(300)}`;
      const statuses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          fetch(url, { method: 'POST', headers: { 'User-Agent': userAgent, 'X-Amz-Target': i % 2 ? 'TrentService.Encrypt' : target }, body: '{}' }).then((r) => r.status),
        ),
      );
      assert.ok(statuses.every((s) => s === 403), String(statuses));
      const legit = (await random(kms)).$metadata.requestId!;
      assert.equal(await trail.stop(), true);

      const oneByOne = store.stored.filter((e) => JSON.parse(e.json).eventType === 'AwsApiCall' && e.requestId !== legit);
      assert.equal(oneByOne.length, 4, 'the first 4 of the source');
      for (const e of oneByOne) {
        const json = JSON.parse(e.json);
        assert.equal(json.userAgent, userAgent.slice(0, 1024));
        assert.equal(json.omitted, true, 'CloudTrail marks a truncated record');
        assert.ok(json.eventName.length <= 128);
        assert.ok(e.json.length < 3000, `event of ${e.json.length} characters`);
      }
      const summaries = store.stored.filter((e) => e.eventName === 'UnauthenticatedRequestsSummarized');
      assert.equal(summaries.length, 1);
      const d = details(summaries[0]);
      assert.equal(d.sourceIPAddress, '127.0.0.1');
      assert.equal(d.count, 36);
      assert.equal(d.countedOverRate, 36);
      assert.deepEqual(d.errorCodes, { MissingAuthenticationTokenException: 36 });
      assert.equal(Object.values(d.eventNames as Record<string, number>).reduce((a, b) => a + b, 0), 36);
      assert.ok(Object.keys(d.eventNames).every((n) => n.length <= 128));
      assert.match(d.reason, /flood of requests that did not authenticate/);
      assert.ok(store.stored.some((e) => e.requestId === legit), 'the authenticated request is recorded');
    } finally {
      await close();
    }
  });

  it('counts sources past its bound in one "(other)" summary, and records none of theirs one by one', async () => {
    const store = new FakeAuditStore();
    const { trail, close } = await serve(store, { unauthenticatedPerSource: 1, maxSummaryKeys: 2 });
    try {
      for (let i = 0; i < 10; i++) {
        const c = trail.begin(`r-${i}`, `192.0.2.${i % 5}`, 'ua', '');
        c.operation = 'ListKeys';
        c.errorCode = 'MissingAuthenticationTokenException';
        trail.end(c);
      }
      assert.equal(await trail.stop(), true);
      const oneByOne = store.stored.filter((e) => e.eventName === 'ListKeys');
      assert.deepEqual(oneByOne.map((e) => JSON.parse(e.json).sourceIPAddress).sort(), ['192.0.2.0', '192.0.2.1']);
      const summaries = store.stored.filter((e) => e.eventName === 'UnauthenticatedRequestsSummarized').map(details);
      assert.deepEqual(summaries.map((d) => [d.sourceIPAddress, d.count]).sort(), [['(other)', 6], ['192.0.2.0', 1], ['192.0.2.1', 1]]);
    } finally {
      await close();
    }
  });
});
