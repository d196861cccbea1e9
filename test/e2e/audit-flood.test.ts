// The audit trail under a flood of requests that do not authenticate (issue #12, docs/audit.md "Under a flood"): a
// real Trent (SigV4, SQLite), autocannon sending requests with no credentials or an unknown access key and 15 KB
// User-Agents on many connections, and one legitimate signed Encrypt every 50 ms. Every Encrypt answered 200 has its
// event; the flood leaves a bounded number of events, each with bounded fields, and summaries that count the rest;
// the trail verifies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { ROOT } from '../helpers/paths.js';
import { startServer } from '../helpers/server.js';

const FLOOD_SECONDS = 6;
const USER_AGENT = `flood/${'u'.repeat(15_000)}`; // Node's default bound of all request headers is 16 KiB

function trent(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs autocannon and counts the responses it got, by status. */
async function flood(url: string, connections: number, headers: Record<string, string>): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const instance = autocannon({ url, method: 'POST', headers, body: '{}', connections, duration: FLOOD_SECONDS, timeout: 10 });
  instance.on('response', (_client: unknown, status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1));
  await instance;
  return statuses;
}

describe('audit trail under a flood of unauthenticated requests (SigV4 server, SQLite)', () => {
  it('keeps every legitimate Encrypt, records a bounded number of bounded flood events, counts the rest, and verifies', async () => {
    const server = await startServer({ dev: false, args: ['--request-log', 'off'] });
    let stopped = false;
    try {
      const profile = Object.fromEntries(
        readFileSync(path.join(server.dataDir, 'credentials'), 'utf8').split('\n').map((l) => /^\s*(aws_\w+)\s*=\s*(\S+)/.exec(l)).filter((m) => m).map((m) => [m![1], m![2]]),
      );
      const kms = new KMSClient({
        endpoint: server.url, region: 'us-east-1', maxAttempts: 1,
        credentials: { accessKeyId: profile.aws_access_key_id!, secretAccessKey: profile.aws_secret_access_key! },
      });
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;

      const answered: string[] = [];
      const failures: string[] = [];
      const inFlight = new Set<Promise<void>>();
      const ticker = setInterval(() => {
        const p = kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('legitimate') })).then(
          (r) => void answered.push(r.$metadata.requestId!),
          (e: Error) => void failures.push(`${e.name}: ${e.message}`),
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }, 50);
      const base = { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.Encrypt', 'User-Agent': USER_AGENT };
      const [missing, unknown] = await Promise.all([
        flood(server.url, 24, base),
        flood(server.url, 8, {
          ...base, 'X-Amz-Date': '20260101T000000Z',
          Authorization: `AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNFLOODKEY0/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
        }),
      ]);
      clearInterval(ticker);
      await Promise.all(inFlight);
      kms.destroy();
      const sent = [...missing.values(), ...unknown.values()].reduce((a, b) => a + b, 0);
      assert.deepEqual([...missing.keys(), ...unknown.keys()].filter((s) => s !== 400 && s !== 403), [], 'the flood is refused');
      assert.ok(sent > 200, `the flood reached the server (${sent} responses)`);
      assert.deepEqual(failures, [], 'no legitimate Encrypt failed');
      assert.ok(answered.length >= 20, `${answered.length} legitimate Encrypts`);

      const code = await server.stop({ keepData: true });
      stopped = true;
      assert.equal(code, 0);

      const all = trent('audit', 'lookup', '--data-dir', server.dataDir, '--max-results', '10000');
      assert.equal(all.status, 0, all.stderr);
      const events = all.stdout.trim().split('\n').map((l) => JSON.parse(l));
      // Every legitimate Encrypt that got 200 has its event, successful and by its request id.
      const encrypts = new Map(events.filter((e) => e.eventName === 'Encrypt' && e.userIdentity.type !== 'Unknown').map((e) => [e.requestID, e]));
      const lost = answered.filter((id) => encrypts.get(id)?.errorCode !== undefined || !encrypts.has(id));
      assert.deepEqual(lost, [], 'legitimate events lost');

      // The flood: a few events one by one (per source and 10 s interval), the rest counted into summaries.
      const oneByOne = events.filter((e) => e.eventType === 'AwsApiCall' && e.userIdentity.type === 'Unknown');
      const summaries = events.filter((e) => e.eventName === 'UnauthenticatedRequestsSummarized');
      const intervals = Math.ceil(FLOOD_SECONDS / 10) + 1;
      assert.ok(oneByOne.length <= 10 * intervals, `${oneByOne.length} flood events stored one by one`);
      assert.ok(summaries.length >= 1 && summaries.length <= intervals, `${summaries.length} summaries`);
      const counted = summaries.reduce((n, e) => n + e.serviceEventDetails.count, 0);
      // The server may have answered a few requests whose responses autocannon did not wait for at its end.
      assert.ok(oneByOne.length + counted >= sent && oneByOne.length + counted <= sent + 32, `${oneByOne.length} + ${counted} recorded for ${sent} sent`);
      for (const s of summaries) {
        assert.equal(s.serviceEventDetails.sourceIPAddress, '127.0.0.1');
        const codes = s.serviceEventDetails.errorCodes as Record<string, number>;
        assert.ok(Object.keys(codes).every((c) => /^(MissingAuthenticationToken|UnrecognizedClient|InvalidSignature)Exception$/.test(c)), JSON.stringify(codes));
        assert.equal(Object.values(codes).reduce((a, b) => a + b, 0), s.serviceEventDetails.count);
      }
      for (const e of oneByOne) {
        assert.equal(e.userAgent, USER_AGENT.slice(0, 1024), 'the User-Agent is stored bounded');
        assert.equal(e.omitted, true);
      }
      assert.ok(all.stdout.split('\n').every((l) => l.length < 4096), 'no stored event is longer than 4 KB');

      const verified = trent('audit', 'verify', '--data-dir', server.dataDir);
      assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    } finally {
      if (!stopped) await server.stop();
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  });
});
