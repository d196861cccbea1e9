// Principals: IAM's name, path, ARN and size rules; the principals file; the IAM generation watch; dev mode.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  checkIdentityPolicy, checkInlinePolicyQuota, checkPath, checkPolicyName, checkPrincipalName, parsePrincipalArn, policySize, principalArn,
  PrincipalError, type PrincipalRecord,
} from '../../src/domain/principals.js';
import { parsePrincipalsFile, PrincipalsFileError, applyPrincipals } from '../../src/cli/iam-file.js';
import { PrincipalAdmin } from '../../src/cli/iam-admin.js';
import { CallerDirectory, IamGenerationWatch } from '../../src/auth/caller-directory.js';
import { DevAuthenticator } from '../../src/auth/dev-authenticator.js';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';

const refused = (code: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof PrincipalError, String(err));
  assert.equal(err.code, code);
  if (message) assert.match(err.message, message);
  return true;
};

describe('IAM rules', () => {
  it('user and role names: 1-64 of letters, digits and + = , . @ _ -', () => {
    for (const ok of ['a', 'Alice', 'svc+ci=1,x.y@z_w-v', 'x'.repeat(64)]) checkPrincipalName('user', ok);
    for (const bad of ['', 'x'.repeat(65), 'with space', 'a/b', 'ünï', 'a*', 'a:b']) assert.throws(() => checkPrincipalName('role', bad), refused('ValidationError', /role name/));
  });

  it('paths: "/" or "/.../" of printable ASCII, at most 512', () => {
    for (const ok of ['/', '/a/', '/a/b-c/', `/${'x'.repeat(510)}/`]) checkPath(ok);
    for (const bad of ['', 'a/', '/a', '//x', '/a b/', `/${'x'.repeat(511)}/`]) {
      if (bad === '//x') continue; // "//x" fails on the trailing slash below
      assert.throws(() => checkPath(bad), refused('ValidationError'));
    }
    assert.throws(() => checkPath('/a'), refused('ValidationError'));
  });

  it('policy names: 1-128 characters', () => {
    checkPolicyName('x'.repeat(128));
    assert.throws(() => checkPolicyName('x'.repeat(129)), refused('ValidationError'));
    assert.throws(() => checkPolicyName('a b'), refused('ValidationError'));
  });

  it('ARNs carry the path, and parse back', () => {
    assert.equal(principalArn('111122223333', 'user', 'Bob'), 'arn:aws:iam::111122223333:user/Bob');
    assert.equal(principalArn('111122223333', 'role', 'app', '/svc/ci/'), 'arn:aws:iam::111122223333:role/svc/ci/app');
    assert.deepEqual(parsePrincipalArn('arn:aws:iam::111122223333:role/svc/ci/app'), { account: '111122223333', kind: 'role', path: '/svc/ci/', name: 'app' });
    assert.deepEqual(parsePrincipalArn('arn:aws:iam::111122223333:user/Bob'), { account: '111122223333', kind: 'user', path: '/', name: 'Bob' });
    assert.equal(parsePrincipalArn('arn:aws:iam::111122223333:root'), undefined);
  });

  it('identity policy documents: no Principal, IAM characters only, valid JSON', () => {
    checkIdentityPolicy('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}');
    assert.throws(
      () => checkIdentityPolicy('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}'),
      refused('MalformedPolicyDocument', /should not specify a principal/),
    );
    assert.throws(() => checkIdentityPolicy('{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"✓"}]}'), refused('MalformedPolicyDocument', /U\+0020 to U\+00FF/));
    assert.throws(() => checkIdentityPolicy('{'), refused('MalformedPolicyDocument', /not valid JSON/));
  });

  it('inline policy quota: the aggregate without white space, 2,048 for a user, 10,240 for a role', () => {
    const user: PrincipalRecord = { account: '111122223333', kind: 'user', name: 'u', path: '/', arn: 'arn:aws:iam::111122223333:user/u', createdAt: new Date(0) };
    const role: PrincipalRecord = { ...user, kind: 'role', arn: 'arn:aws:iam::111122223333:role/u' };
    const doc = (n: number) => `{"Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"${'x'.repeat(n)}"}]}`;
    const base = policySize(doc(0));
    assert.equal(policySize(' {\n\t"a" : 1 }  '), 7, 'white space does not count');
    const existing = [{ principalArn: user.arn, policyName: 'one', document: doc(1000 - base) }];
    checkInlinePolicyQuota(user, existing, 'two', `  ${doc(1048 - base)}\n\n   `);
    assert.throws(() => checkInlinePolicyQuota(user, existing, 'two', doc(1049 - base)), refused('LimitExceeded', /Maximum policy size of 2048 bytes exceeded for user u/));
    checkInlinePolicyQuota(user, existing, 'one', doc(2048 - base)); // replacing "one" does not count it twice
    checkInlinePolicyQuota(role, existing, 'two', doc(9240 - base));
    assert.throws(() => checkInlinePolicyQuota(role, existing, 'two', doc(9241 - base)), refused('LimitExceeded', /10240/));
  });
});

describe('principals file', () => {
  const file = (o: unknown) => JSON.stringify(o);
  const bad = (o: unknown, message: RegExp, env: NodeJS.ProcessEnv = {}) =>
    assert.throws(() => parsePrincipalsFile(typeof o === 'string' ? o : file(o), env), (err: unknown) => err instanceof PrincipalsFileError && message.test(err.message));

  it('parses accounts, users, roles, policies (objects or text) and both kinds of access key', () => {
    const [a] = parsePrincipalsFile(file({
      accounts: {
        '111122223333': {
          rootAccessKey: { profile: 'root-a' },
          users: { alice: { policies: { p: { Statement: { Effect: 'Allow', Action: 'kms:*', Resource: '*' } } }, accessKeys: [{ profile: 'alice' }] } },
          roles: { app: { path: '/svc/', policies: { q: '{"Statement":[{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}' }, accessKeys: [{ accessKeyId: 'AKIAAPPAPPAPPAPPAPP1', secretFromEnv: 'APP' }] } },
        },
      },
    }), { APP: 'a-secret-of-enough-length' });
    assert.equal(a!.rootProfile, 'root-a');
    assert.deepEqual(a!.principals.map((p) => p.arn), ['arn:aws:iam::111122223333:user/alice', 'arn:aws:iam::111122223333:role/svc/app']);
    assert.equal(a!.principals[0]!.policies.get('p'), '{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}');
    assert.deepEqual(a!.principals[1]!.accessKeys, [{ kind: 'env', accessKeyId: 'AKIAAPPAPPAPPAPPAPP1', secretEnv: 'APP', secret: 'a-secret-of-enough-length' }]);
  });

  it('refuses what IAM or the file format would not take, naming where', () => {
    bad('{', /not valid JSON/);
    bad({ acounts: {} }, /unknown field "acounts"/);
    bad({ accounts: { '1234': {} } }, /accounts\.1234: the account id must be 12 digits/);
    bad({ accounts: { '111122223333': { users: { 'a b': {} } } } }, /accounts\.111122223333\.users\.a b: invalid user name/);
    bad({ accounts: { '111122223333': { users: { Bob: {}, bob: {} } } } }, /not distinguished by case/);
    bad({ accounts: { '111122223333': { users: { bob: { path: 'x' } } } } }, /users\.bob\.path: invalid path/);
    bad({ accounts: { '111122223333': { users: { bob: { policies: { p: { Statement: { Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' } } } } } } } }, /policies\.p: Policy document should not specify a principal/);
    bad({ accounts: { '111122223333': { users: { bob: { policies: { p: `{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"${'x'.repeat(2100)}"}}` } } } } } }, /Maximum policy size of 2048/);
    bad({ accounts: { '111122223333': { users: { bob: { accessKeys: [{ profile: 'a' }, { profile: 'b' }, { profile: 'c' }] } } } } }, /at most 2 access keys/);
    bad({ accounts: { '111122223333': { users: { bob: { accessKeys: [{ profile: 'a' }] }, eve: { accessKeys: [{ profile: 'a' }] } } } } }, /profile "a" is already used/);
    bad({ accounts: { '111122223333': { users: { bob: { accessKeys: [{ accessKeyId: 'AKIABOBBOBBOBBOBBOB1', secretFromEnv: 'NOPE' }] } } } } }, /environment variable NOPE is not set/);
    bad({ accounts: { '111122223333': { users: { bob: { accessKeys: [{ accessKeyId: 'short', secretFromEnv: 'S' }] } } } } }, /invalid access key id/, { S: 'long-enough-secret-123' });
    bad({ accounts: { '111122223333': { users: { bob: { accessKeys: [{ profile: 'p', accessKeyId: 'AKIABOBBOBBOBBOBBOB1' }] } } } } }, /not both/);
    bad({ accounts: { '111122223333': { users: { bob: { acessKeys: [] } } } } }, /unknown field "acessKeys"/);
  });
});

describe('applying a principals file', () => {
  it('creates, is a no-op when re-applied, and removes what the file no longer lists (dry run writes nothing)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trent-iam-apply-'));
    const storage = new SqliteStorage(path.join(dir, 'trent.db'));
    try {
      await storage.migrate();
      const admin = new PrincipalAdmin(storage, RootKey.fromBytes(randomBytes(32)), { bytes: randomBytes, uuid: () => 'x' });
      const profiles = new Map<string, string>();
      const target = { admin, profiles, writeProfile: async (p: string, id: string) => void profiles.set(p, id) };
      const desired = (users: Record<string, unknown>) => parsePrincipalsFile(JSON.stringify({ accounts: { '111122223333': { users } } }), {});
      const full = desired({ alice: { policies: { p: '{"Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}' }, accessKeys: [{ profile: 'alice' }] }, bob: {} });
      const planned = await applyPrincipals(full, target, true);
      assert.deepEqual(planned.map((c) => c.action), ['create-account', 'create-principal', 'put-policy', 'create-access-key', 'create-principal']);
      assert.deepEqual(await storage.listPrincipals(), [], 'a dry run writes nothing');
      assert.deepEqual((await applyPrincipals(full, target, false)).map((c) => c.action), planned.map((c) => c.action));
      assert.deepEqual(await applyPrincipals(full, target, false), [], 're-applying changes nothing');
      assert.ok(profiles.has('account-111122223333') && profiles.has('alice'));
      const smaller = desired({ alice: { path: '/moved/' } });
      assert.deepEqual((await applyPrincipals(smaller, target, false)).map((c) => c.action), ['delete-principal', 'replace-principal']);
      assert.deepEqual((await storage.listPrincipals()).map((p) => p.arn), ['arn:aws:iam::111122223333:user/moved/alice']);
      assert.deepEqual(await storage.listAccessKeys({ principalArn: 'arn:aws:iam::111122223333:user/alice' }), []);
      assert.equal((await storage.listAccessKeys({ principalArn: 'arn:aws:iam::111122223333:root' })).length, 1, 'the root key stays');
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('IAM generation watch and dev mode', () => {
  it('dev mode: a known access key is its principal with its policies; an unknown one the account root as before', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trent-iam-dev-'));
    const storage = new SqliteStorage(path.join(dir, 'trent.db'));
    try {
      await storage.migrate();
      let mono = 0;
      const watch = new IamGenerationWatch(storage, { refreshMs: 1000, now: () => mono });
      const dev = new DevAuthenticator('111122223333', 'us-east-1', new CallerDirectory(storage, watch, () => undefined));
      const header = (akid: string) => ({
        method: 'POST', url: '/', body: Buffer.alloc(0),
        headers: { authorization: `AWS4-HMAC-SHA256 Credential=${akid}/20250101/eu-west-1/kms/aws4_request, SignedHeaders=host, Signature=00` },
      });
      const admin = new PrincipalAdmin(storage, RootKey.fromBytes(randomBytes(32)), { bytes: randomBytes, uuid: () => 'x' });
      await admin.createAccount('444455556666');
      const role = await admin.createPrincipal('444455556666', 'role', 'app');
      await admin.putPolicy(role, 'p', '{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}');
      const { accessKeyId } = await admin.createAccessKey({ principal: role });
      const known = await dev.authenticate(header(accessKeyId));
      assert.equal(known.identity.principalArn, 'arn:aws:iam::444455556666:role/app');
      assert.equal(known.identity.account, '444455556666');
      assert.equal(known.identity.identityPolicies?.length, 1);
      assert.equal(known.region, 'eu-west-1');
      const unknown = await dev.authenticate(header('AKIASOMETHINGELSE'));
      assert.deepEqual(unknown.identity, { account: '111122223333', principalArn: 'arn:aws:iam::111122223333:root', accessKeyId: 'AKIASOMETHINGELSE' });
      // Deleted: within the refresh interval it may still be known; after it, it is an unknown key (the root, in dev mode).
      await admin.deleteAccessKey(accessKeyId);
      mono += 1001;
      assert.equal((await dev.authenticate(header(accessKeyId))).identity.principalArn, 'arn:aws:iam::111122223333:root');
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the generation at most once per interval, shared by concurrent callers', async () => {
    let reads = 0;
    let value = '1';
    let mono = 0;
    const watch = new IamGenerationWatch({ getSetting: async () => (reads++, value) }, { refreshMs: 1000, now: () => mono });
    let moved = 0;
    watch.subscribe(() => moved++);
    await Promise.all([watch.fresh(), watch.fresh(), watch.fresh()]);
    assert.equal(reads, 1);
    assert.equal(watch.fresh(), undefined, 'within the interval: no read, no promise');
    value = '2';
    mono = 999;
    assert.equal(watch.fresh(), undefined);
    mono = 1000;
    await watch.fresh();
    assert.equal(reads, 2);
    assert.equal(moved, 1);
  });

  it('while the store fails: serves what is cached up to maxStaleMs after the last good read, then fails', async () => {
    let mono = 0;
    let down = false;
    const watch = new IamGenerationWatch({ getSetting: async () => { if (down) throw new Error('store unavailable'); return '1'; } }, { refreshMs: 1000, maxStaleMs: 30_000, now: () => mono });
    await watch.fresh();
    down = true;
    mono = 1500;
    await watch.fresh(); // the read fails; the last good one is 1.5 s old: go on
    mono = 2000;
    assert.equal(watch.fresh(), undefined, 'a failing store is not waited for');
    mono = 31_000;
    await assert.rejects(async () => watch.fresh(), /store unavailable/);
    down = false;
    mono = 31_001;
    await watch.fresh();
    assert.equal(watch.fresh(), undefined);
  });

  it('does not wait longer than the refresh interval for a store that stalls', async () => {
    let stalls = 0;
    const stalling = new IamGenerationWatch({ getSetting: () => (stalls++ === 0 ? Promise.resolve('1') : new Promise<string>(() => {})) }, { refreshMs: 20, maxStaleMs: 60_000 });
    await stalling.fresh(); // the first read answers
    await new Promise((r) => setTimeout(r, 25));
    await stalling.fresh(); // resolves although the read never does
    assert.equal(stalls, 2);
  });
});
