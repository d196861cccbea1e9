// Faults under load, with real processes and a real PostgreSQL server: PostgreSQL stopped and started again (and
// frozen) while two Trent nodes serve Encrypt/Decrypt/CreateKey; one of two nodes killed with SIGKILL. Every answer
// is checked: errors are the documented AWS exceptions and come within the bound, nothing acknowledged is lost, and
// the nodes recover without a restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { postgresCluster, postgresSkipReason, type PgFaults } from '../helpers/postgres.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

const skip = postgresSkipReason();
const env = { TRENT_ROOT_KEY_PASSPHRASE: 'one passphrase for every node' };
/** --store-timeout-seconds for these nodes: the bound on waiting for a pooled connection and for one statement. */
const STORE_TIMEOUT_S = 2;
/** No request may take longer than this, database down or frozen: a connection wait plus one stalled statement, plus slack. */
const ANSWER_BOUND_MS = 2 * STORE_TIMEOUT_S * 1000 + 1_000 + 2_000;
/** The errors a request may get while PostgreSQL is away (both HTTP 500). */
const STORE_DOWN_ERRORS = new Set(['DependencyTimeoutException', 'KMSInternalException']);

interface Node {
  readonly name: string;
  readonly server: TestServer;
  readonly kms: KMSClient;
}

async function startNode(name: string, url: string): Promise<Node> {
  // A cache lifetime longer than any of these tests: warm keys must stay warm through an outage, whatever the
  // machine's load (the 30 s default could lapse mid-test and turn a hot-path request into a database read).
  const server = await startServer({
    env,
    args: ['--store', url, '--request-log', 'off', '--store-timeout-seconds', String(STORE_TIMEOUT_S), '--cache-ttl-seconds', '600'],
  });
  return { name, server, kms: devClient(server.url) };
}

async function stopAll(nodes: readonly Node[]): Promise<void> {
  for (const n of nodes) {
    n.kms.destroy();
    if (n.server.process.exitCode === null && n.server.process.signalCode === null) await n.server.stop();
    else rmSync(n.server.dataDir, { recursive: true, force: true });
  }
}

const alive = (n: Node) => n.server.process.exitCode === null && n.server.process.signalCode === null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Op = 'CreateKey' | 'Encrypt' | 'Decrypt';

/** One answered (or failed) request of the load. */
interface Outcome {
  readonly node: string;
  readonly op: Op;
  /** performance.now() at the start and end. */
  readonly start: number;
  readonly end: number;
  readonly error?: { name: string; status: number | undefined };
}

/** Sends `run` and records its outcome; a request is bounded by an abort signal so that a hang fails the test, not the run. */
async function timed<T>(outcomes: Outcome[], node: Node, op: Op, run: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  const start = performance.now();
  try {
    const value = await run(AbortSignal.timeout(20_000));
    outcomes.push({ node: node.name, op, start, end: performance.now() });
    return value;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    outcomes.push({ node: node.name, op, start, end: performance.now(), error: { name: e.name, status: e.$metadata?.httpStatusCode } });
    return undefined;
  }
}

/** Acknowledged effects of the load, to check afterwards. */
interface Acknowledged {
  readonly keys: { keyId: string; node: string }[];
  readonly ciphertexts: { blob: Uint8Array; plaintext: Buffer; keyArn: string; node: string }[];
}

/**
 * A worker: CreateKey, Encrypt under the new key, Decrypt that, Encrypt under the warm key, Decrypt that, then again,
 * until `stop()` says so or `maxRounds` is reached. `pauseMs` between requests keeps the load moderate on shared cores.
 */
async function worker(
  node: Node, warmKeyId: string, outcomes: Outcome[], ack: Acknowledged, stop: () => boolean,
  opts: { maxRounds: number; pauseMs: number; createKeys: boolean; stopOnNodeDeath?: boolean },
): Promise<void> {
  const kms = node.kms;
  for (let round = 0; round < opts.maxRounds && !stop(); round++) {
    if (opts.stopOnNodeDeath && !alive(node)) return;
    let keyId = warmKeyId;
    if (opts.createKeys) {
      const created = await timed(outcomes, node, 'CreateKey', (abortSignal) => kms.send(new CreateKeyCommand({}), { abortSignal }));
      if (created) {
        ack.keys.push({ keyId: created.KeyMetadata!.KeyId!, node: node.name });
        keyId = created.KeyMetadata!.KeyId!;
      }
    }
    for (const id of new Set([keyId, warmKeyId])) {
      const plaintext = randomBytes(24);
      const enc = await timed(outcomes, node, 'Encrypt', (abortSignal) => kms.send(new EncryptCommand({ KeyId: id, Plaintext: plaintext }), { abortSignal }));
      if (!enc) continue;
      ack.ciphertexts.push({ blob: enc.CiphertextBlob!, plaintext, keyArn: enc.KeyId!, node: node.name });
      const dec = await timed(outcomes, node, 'Decrypt', (abortSignal) => kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }), { abortSignal }));
      if (dec) assert.ok(Buffer.from(dec.Plaintext!).equals(plaintext), 'Decrypt on the same node returns the plaintext');
    }
    await sleep(opts.pauseMs);
  }
}

/** Runs `n` checks at a time. */
async function eachLimited<T>(items: readonly T[], n: number, check: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await check(items[next++]!);
  }));
}

const summary = (outcomes: readonly Outcome[]) => {
  const by: Record<string, number> = {};
  for (const o of outcomes) by[`${o.op} ${o.error ? o.error.name : 'ok'}`] = (by[`${o.op} ${o.error ? o.error.name : 'ok'}`] ?? 0) + 1;
  return by;
};

describe('faults: PostgreSQL and nodes going away under load', { skip }, () => {
  describe('PostgreSQL stopped, started again, then frozen (two nodes)', () => {
    let nodes: Node[] = [];
    let faults: PgFaults | undefined;
    let warmKeyId = '';
    before(async () => {
      const cluster = await postgresCluster();
      faults = cluster.faults;
      const url = await cluster.createDatabase();
      const a = await startNode('A', url);
      nodes = [a, await startNode('B', url)];
      warmKeyId = (await a.kms.send(new CreateKeyCommand({ Description: 'warm' }))).KeyMetadata!.KeyId!;
      // Warm on both nodes: key record and material cached, so the hot path needs no database.
      for (const n of nodes) {
        const enc = await n.kms.send(new EncryptCommand({ KeyId: warmKeyId, Plaintext: Buffer.from('warm') }));
        await n.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
      }
    });
    after(async () => {
      faults?.freeze(false);
      await stopAll(nodes);
    });

    it('answers DependencyTimeoutException / KMSInternalException while PostgreSQL is down, keeps the hot path, and recovers by itself', async (t) => {
      if (!faults) return t.skip('an external PostgreSQL (TRENT_TEST_POSTGRES_URL) cannot be stopped by the test');
      const outcomes: Outcome[] = [];
      const ack: Acknowledged = { keys: [], ciphertexts: [] };
      let stopLoad = false;
      const load = nodes.flatMap((n) =>
        [0, 1].map(() => worker(n, warmKeyId, outcomes, ack, () => stopLoad, { maxRounds: 2_000, pauseMs: 10, createKeys: true })),
      );
      const hotOnly = nodes.map((n) => worker(n, warmKeyId, outcomes, ack, () => stopLoad, { maxRounds: 4_000, pauseMs: 5, createKeys: false }));
      try {
        await sleep(1_000);
        const stopAt = performance.now();
        await faults.stop();
        const stopped = performance.now();
        await sleep(3_000);
        const startAt = performance.now();
        await faults.start();
        const started = performance.now();
        // Recovery: a new CreateKey succeeds on every node, without restarting Trent.
        const recovery: Record<string, number> = {};
        for (const n of nodes) {
          for (let attempt = 0; ; attempt++) {
            try {
              await n.kms.send(new CreateKeyCommand({ Description: 'after restart' }));
              recovery[n.name] = Math.round(performance.now() - started);
              break;
            } catch (err) {
              assert.ok(STORE_DOWN_ERRORS.has((err as Error).name), `after the restart: ${(err as Error).name}`);
              assert.ok(performance.now() - started < 15_000, `node ${n.name} did not recover within 15 s`);
              await sleep(50);
            }
          }
        }
        await sleep(500);
        stopLoad = true;
        await Promise.all([...load, ...hotOnly]);

        assert.ok(nodes.every(alive), 'no node crashed');
        const failures = outcomes.filter((o) => o.error);
        for (const f of failures) {
          assert.ok(STORE_DOWN_ERRORS.has(f.error!.name), `${f.op} on ${f.node}: unexpected ${f.error!.name}`);
          assert.equal(f.error!.status, 500, `${f.op} ${f.error!.name} is HTTP 500`);
          assert.notEqual(f.op, 'Encrypt', 'Encrypt never fails: the hot path does not touch the database');
          assert.notEqual(f.op, 'Decrypt', 'Decrypt never fails: the hot path does not touch the database');
        }
        // Requests that started while PostgreSQL was down (after the stop returned, before the start began).
        const down = outcomes.filter((o) => o.start > stopped && o.end < startAt);
        assert.ok(down.some((o) => o.op === 'CreateKey' && o.error?.name === 'DependencyTimeoutException'), 'CreateKey while down: DependencyTimeoutException');
        assert.ok(down.some((o) => o.op === 'Encrypt' && !o.error), 'Encrypt of a cached key while down: served');
        assert.ok(down.every((o) => o.op !== 'CreateKey' || o.error), 'no CreateKey succeeded while the database was down');
        const slowest = Math.max(...outcomes.map((o) => o.end - o.start));
        assert.ok(slowest < ANSWER_BOUND_MS, `slowest answer ${Math.round(slowest)} ms, bound ${ANSWER_BOUND_MS} ms`);
        assert.ok(outcomes.some((o) => o.op === 'CreateKey' && !o.error && o.start > started), 'the load recovered too');
        for (const n of nodes) {
          assert.match(n.server.stderr(), /store unavailable/, `node ${n.name} logged the outage`);
          assert.doesNotMatch(n.server.stderr(), /"internal error"/, `node ${n.name}: every failure was a known store fault`);
        }

        // Everything acknowledged is there: every key, every ciphertext.
        const [a, b] = nodes as [Node, Node];
        await eachLimited(ack.keys, 8, async (k) => {
          const d = await b.kms.send(new DescribeKeyCommand({ KeyId: k.keyId }));
          assert.equal(d.KeyMetadata!.KeyState, 'Enabled');
        });
        await eachLimited(ack.ciphertexts, 8, async (c) => {
          const d = await (c.node === 'A' ? b : a).kms.send(new DecryptCommand({ CiphertextBlob: c.blob }));
          assert.ok(Buffer.from(d.Plaintext!).equals(c.plaintext));
          assert.equal(d.KeyId, c.keyArn);
        });
        process.stderr.write(
          `faults, PostgreSQL restart: stop took ${Math.round(stopped - stopAt)} ms, down ${Math.round(startAt - stopped)} ms, start took ${Math.round(started - startAt)} ms; ` +
            `first CreateKey after start (ms): ${JSON.stringify(recovery)}; slowest answer ${Math.round(slowest)} ms; ` +
            `${ack.keys.length} keys and ${ack.ciphertexts.length} ciphertexts acknowledged and checked; outcomes ${JSON.stringify(summary(outcomes))}\n`,
        );
      } finally {
        stopLoad = true;
        await Promise.allSettled([...load, ...hotOnly]);
      }
    });

    it('a frozen PostgreSQL (SIGSTOP): CreateKey fails within the bound, Encrypt goes on, then it recovers', async (t) => {
      if (!faults) return t.skip('an external PostgreSQL (TRENT_TEST_POSTGRES_URL) cannot be frozen by the test');
      const [a, b] = nodes as [Node, Node];
      // The first call on a node stalls on a pooled connection (read timeout), the next on a new connection (connect
      // timeout): both are bounded.
      const measured: Record<string, number> = {};
      faults.freeze(true);
      try {
        for (const [name, n] of [['B', b], ['A', a], ['A again', a]] as const) {
          const start = performance.now();
          await assert.rejects(n.kms.send(new CreateKeyCommand({})), (err: Error) => err.name === 'DependencyTimeoutException');
          measured[name] = Math.round(performance.now() - start);
          assert.ok(measured[name] < ANSWER_BOUND_MS, `${name}: ${measured[name]} ms`);
        }
        const enc = await a.kms.send(new EncryptCommand({ KeyId: warmKeyId, Plaintext: Buffer.from('frozen') }));
        await b.kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
      } finally {
        faults.freeze(false);
      }
      const thawed = performance.now();
      for (const n of nodes) {
        for (;;) {
          try {
            await n.kms.send(new CreateKeyCommand({}));
            break;
          } catch (err) {
            assert.ok(STORE_DOWN_ERRORS.has((err as Error).name), (err as Error).name);
            assert.ok(performance.now() - thawed < 15_000, `node ${n.name} did not recover within 15 s of the thaw`);
            await sleep(50);
          }
        }
      }
      measured.recovered = Math.round(performance.now() - thawed);
      assert.ok(nodes.every(alive));
      process.stderr.write(`faults, PostgreSQL frozen: CreateKey failed after (ms) ${JSON.stringify(measured)}\n`);
    });
  });

  describe('kill -9 of one of two nodes under load', () => {
    let nodes: Node[] = [];
    let warmKeyId = '';
    before(async () => {
      const url = await (await postgresCluster()).createDatabase();
      const a = await startNode('A', url);
      nodes = [a, await startNode('B', url)];
      warmKeyId = (await a.kms.send(new CreateKeyCommand({ Description: 'warm' }))).KeyMetadata!.KeyId!;
    });
    after(() => stopAll(nodes));

    it('every acknowledged CreateKey exists on the survivor and every returned ciphertext decrypts there', async () => {
      const [a, b] = nodes as [Node, Node];
      const outcomes: Outcome[] = [];
      const ack: Acknowledged = { keys: [], ciphertexts: [] };
      let stopLoad = false;
      const load = nodes.flatMap((n) =>
        [0, 1, 2].map(() => worker(n, warmKeyId, outcomes, ack, () => stopLoad, { maxRounds: 2_000, pauseMs: 5, createKeys: true, stopOnNodeDeath: true })),
      );
      let killedAt = 0;
      try {
        await sleep(1_500);
        a.server.process.kill('SIGKILL');
        await new Promise((r) => a.server.process.once('exit', r));
        killedAt = performance.now();
        await sleep(1_000);
      } finally {
        stopLoad = true;
        await Promise.all(load);
      }
      assert.ok(alive(b), 'the survivor is up');
      assert.deepEqual(outcomes.filter((o) => o.node === 'B' && o.error), [], 'the survivor answered every request');
      assert.ok(outcomes.some((o) => o.node === 'B' && o.op === 'CreateKey' && !o.error && o.start > killedAt), 'load went on on the survivor');
      const fromA = ack.keys.filter((k) => k.node === 'A').length;
      assert.ok(fromA > 0 && ack.keys.length > fromA, 'keys were created on both nodes');

      await eachLimited(ack.keys, 8, async (k) => {
        const d = await b.kms.send(new DescribeKeyCommand({ KeyId: k.keyId }));
        assert.equal(d.KeyMetadata!.KeyState, 'Enabled', `key ${k.keyId} created on ${k.node}`);
      });
      await eachLimited(ack.ciphertexts, 8, async (c) => {
        const d = await b.kms.send(new DecryptCommand({ CiphertextBlob: c.blob }));
        assert.ok(Buffer.from(d.Plaintext!).equals(c.plaintext), `a ciphertext from ${c.node} decrypts on B`);
        assert.equal(d.KeyId, c.keyArn);
      });
      const lostOnA = outcomes.filter((o) => o.node === 'A' && o.error);
      process.stderr.write(
        `faults, kill -9: ${ack.keys.length} keys (${fromA} on A) and ${ack.ciphertexts.length} ciphertexts acknowledged, all present on B; ` +
          `${lostOnA.length} requests to A failed when it died (${[...new Set(lostOnA.map((o) => o.error!.name))].join(', ')})\n`,
      );
    });
  });
});
