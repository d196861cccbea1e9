// Issue #12 item 9: many clients writing at once (CreateAlias, TagResource, CreateGrant, on the same and on different
// keys) get what they would get one after the other: success, or the operation's own AWS error (AlreadyExistsException
// for a taken alias name, LimitExceededException past a per-key quota), never KMSInternalException / HTTP 500. On
// SQLite, on PostgreSQL, and on two PostgreSQL nodes sharing one database. The SDK does not retry (maxAttempts: 1).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, KMSClient, ListAliasesCommand, ListGrantsCommand, ListResourceTagsCommand,
  TagResourceCommand,
} from '@aws-sdk/client-kms';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

const WRITERS = 24;
const ROUNDS = 6;
const ACCOUNT = '111122223333';
const GRANTEE = 'arn:aws:iam::444455556666:root';
const env = { TRENT_ROOT_KEY_PASSPHRASE: 'one passphrase for every node' };

interface Outcome {
  readonly op: string;
  readonly error?: string;
  readonly status?: number;
}

async function outcome(op: string, call: Promise<unknown>): Promise<Outcome> {
  try {
    await call;
    return { op };
  } catch (err) {
    return { op, error: (err as Error).name, status: (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode };
  }
}

/** Every writer's calls start together; returns each call's outcome and the calls per second. */
async function writers(n: number, work: (writer: number) => Promise<Outcome[]>): Promise<{ outcomes: Outcome[]; perSecond: number }> {
  const start = performance.now();
  const outcomes = (await Promise.all(Array.from({ length: n }, (_, w) => work(w)))).flat();
  return { outcomes, perSecond: Math.round(outcomes.length / ((performance.now() - start) / 1000)) };
}

const unexpected = (outcomes: readonly Outcome[], allowed: Readonly<Record<string, readonly string[]>>) =>
  outcomes.filter((o) => o.error !== undefined && !(allowed[o.op] ?? []).includes(o.error));

function concurrentWrites(name: string, skip: string | undefined, start: () => Promise<TestServer[]>): void {
  describe(`concurrent writes: ${name}`, { skip }, () => {
    let servers: TestServer[] = [];
    let clients: KMSClient[] = [];
    before(async () => {
      servers = await start();
      clients = servers.map((s) => devClient(s.url, { accessKeyId: ACCOUNT }));
    });
    after(async () => {
      for (const c of clients) c.destroy();
      await Promise.all(servers.map((s) => s.stop()));
    });
    // Writer w talks to node w mod the number of nodes.
    const kms = (w: number) => clients[w % clients.length]!;
    const newKey = async () => (await clients[0]!.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;

    it('aliases, tags and grants of 24 writers on shared and own keys all succeed, none with an internal error', async (t) => {
      const shared = await newKey();
      const own = await Promise.all(Array.from({ length: WRITERS }, newKey));
      const { outcomes, perSecond } = await writers(WRITERS, async (w) => {
        const done: Outcome[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const k = r % 2 === 0 ? shared : own[w]!;
          done.push(...await Promise.all([
            outcome('CreateAlias', kms(w).send(new CreateAliasCommand({ AliasName: `alias/w${w}-r${r}`, TargetKeyId: r === 0 ? shared : own[w]! }))),
            outcome('TagResource', kms(w).send(new TagResourceCommand({ KeyId: k, Tags: [{ TagKey: `w${w % 8}`, TagValue: `r${r}` }] }))),
            outcome('CreateGrant', kms(w).send(new CreateGrantCommand({ KeyId: k, GranteePrincipal: GRANTEE, Operations: ['Encrypt'], Name: `w${w}-r${r}` }))),
          ]));
        }
        return done;
      });
      t.diagnostic(`${name}: ${outcomes.length} calls, ${outcomes.filter((o) => o.error).length} failed, ${perSecond} calls/s`);
      assert.deepEqual(unexpected(outcomes, {}), [], 'every call succeeds');

      // Everything acknowledged is there.
      const aliases: string[] = [];
      for (let marker: string | undefined; ;) {
        const page = await clients[0]!.send(new ListAliasesCommand({ Limit: 100, Marker: marker }));
        aliases.push(...page.Aliases!.map((a) => a.AliasName!).filter((a) => /^alias\/w\d+-r\d+$/.test(a)));
        if (!page.Truncated) break;
        marker = page.NextMarker;
      }
      assert.equal(aliases.length, WRITERS * ROUNDS);
      const sharedTags = (await clients[0]!.send(new ListResourceTagsCommand({ KeyId: shared }))).Tags!;
      assert.deepEqual(sharedTags.map((x) => x.TagKey).sort(), Array.from({ length: 8 }, (_, i) => `w${i}`));
      const sharedGrants = (await clients[0]!.send(new ListGrantsCommand({ KeyId: shared, Limit: 100 }))).Grants!;
      assert.equal(sharedGrants.length, WRITERS * (ROUNDS / 2));
      for (const w of [0, 7, WRITERS - 1]) {
        assert.equal((await clients[0]!.send(new ListGrantsCommand({ KeyId: own[w]! }))).Grants!.length, ROUNDS / 2);
      }
      for (const s of servers) assert.doesNotMatch(s.stderr(), /internal error|\n\s+at /, 'no internal error and no stack trace in the log');
    });

    it('a taken alias name and a full key answer AlreadyExistsException and LimitExceededException, as one after the other', async () => {
      const keys = await Promise.all(Array.from({ length: 4 }, newKey));
      // Every writer tries the same four alias names (one winner each), and adds three new tags to one key (50 at most).
      const { outcomes } = await writers(WRITERS, async (w) => Promise.all([
        ...Array.from({ length: 4 }, (_, i) =>
          outcome('CreateAlias', kms(w).send(new CreateAliasCommand({ AliasName: `alias/same-${i}`, TargetKeyId: keys[(w + i) % 4]! })))),
        outcome('TagResource', kms(w).send(new TagResourceCommand({
          KeyId: keys[0]!, Tags: [0, 1, 2].map((i) => ({ TagKey: `w${w}-${i}`, TagValue: '' })),
        }))),
      ]));
      assert.deepEqual(unexpected(outcomes, { CreateAlias: ['AlreadyExistsException'], TagResource: ['LimitExceededException'] }), []);
      const created = outcomes.filter((o) => o.op === 'CreateAlias' && !o.error);
      assert.equal(created.length, 4, 'one writer wins each alias name');
      const tagged = outcomes.filter((o) => o.op === 'TagResource' && !o.error);
      assert.equal(tagged.length, 16, 'sixteen calls of three tags fit under 50, the others are refused whole');
      assert.equal((await clients[0]!.send(new ListResourceTagsCommand({ KeyId: keys[0]! }))).Tags!.length, 48);
      for (const s of servers) assert.doesNotMatch(s.stderr(), /internal error|\n\s+at /);
    });
  });
}

const args = ['--request-log', 'off'];
concurrentWrites('SQLite', undefined, async () => [await startServer({ args })]);

const pgSkip = postgresSkipReason();
concurrentWrites('PostgreSQL', pgSkip, async () => {
  const url = await (await postgresCluster()).createDatabase();
  return [await startServer({ env, args: ['--store', url, ...args] })];
});
concurrentWrites('two PostgreSQL nodes', pgSkip, async () => {
  const url = await (await postgresCluster()).createDatabase();
  const first = await startServer({ env, args: ['--store', url, ...args] });
  return [first, await startServer({ env, args: ['--store', url, ...args] })];
});
