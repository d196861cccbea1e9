// Grant rules (validation, matching, constraints, tokens) and the grant cache behind the authorizer's GrantChecker.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  checkGrantRequest, checkPrincipal, constraintsAllow, grantAllows, grantOperationOf, grantOperationsFor, GrantTokens, sameGrantParameters,
  type GrantRecord,
} from '../../src/domain/grants.js';
import { GrantRepository } from '../../src/domain/grant-repository.js';
import { KeyPolicyAuthorizer } from '../../src/domain/authorizer.js';
import { compilePolicy } from '../../src/domain/policy/index.js';
import { LocalChangeFeed } from '../../src/domain/local-change-feed.js';
import { KmsError } from '../../src/domain/errors.js';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { CallerIdentity } from '../../src/domain/identity.js';
import { counting } from '../helpers/counting-storage.js';
import { grantRecord, keyRecord } from '../contract/storage-contract.js';

const A = { account: '111122223333', region: 'us-east-1' };
const B = '444455556666';
const callerB: CallerIdentity = { account: B, principalArn: `arn:aws:iam::${B}:root`, accessKeyId: 'AKIA' };
const symmetric = keyRecord(A, 1);
const throwsKms = (name: string) => (err: unknown) => err instanceof KmsError && err.type === name;

describe('grant rules', () => {
  it('allows the operations AWS lists per key type, and refuses others', () => {
    assert.ok(grantOperationsFor(symmetric).includes('GenerateDataKeyPair'));
    assert.ok(!grantOperationsFor(symmetric).includes('Sign'));
    assert.ok(!grantOperationsFor(symmetric).includes('GetPublicKey'));
    assert.deepEqual([...grantOperationsFor({ keyUsage: 'SIGN_VERIFY', keySpec: 'ECC_NIST_P256' })].sort(), ['CreateGrant', 'DescribeKey', 'GetPublicKey', 'RetireGrant', 'Sign', 'Verify']);
    assert.deepEqual([...grantOperationsFor({ keyUsage: 'GENERATE_VERIFY_MAC', keySpec: 'HMAC_256' })].sort(), ['CreateGrant', 'DescribeKey', 'GenerateMac', 'RetireGrant', 'VerifyMac']);
    assert.ok(grantOperationsFor({ keyUsage: 'KEY_AGREEMENT', keySpec: 'ECC_NIST_P256' }).includes('DeriveSharedSecret'));
    assert.ok(!grantOperationsFor({ keyUsage: 'ENCRYPT_DECRYPT', keySpec: 'RSA_2048' }).includes('GenerateDataKey'));
    assert.throws(() => checkGrantRequest(symmetric, ['Encrypt', 'Sign'], undefined), throwsKms('ValidationException'));
    assert.throws(() => checkGrantRequest(symmetric, [], undefined), throwsKms('ValidationException'));
    assert.deepEqual(checkGrantRequest(symmetric, ['Encrypt', 'Decrypt', 'Encrypt'], undefined).operations, ['Decrypt', 'Encrypt']);
  });

  it('refuses constraints where AWS does: both kinds, no operation with a context, asymmetric keys, too many pairs', () => {
    assert.throws(() => checkGrantRequest(symmetric, ['Encrypt'], { EncryptionContextEquals: { a: '1' }, EncryptionContextSubset: { a: '1' } }), throwsKms('ValidationException'));
    assert.throws(() => checkGrantRequest(symmetric, ['DescribeKey', 'RetireGrant'], { EncryptionContextSubset: { a: '1' } }), throwsKms('ValidationException'));
    const rsa = keyRecord(A, 2, { keySpec: 'RSA_2048' });
    assert.throws(() => checkGrantRequest(rsa, ['Encrypt'], { EncryptionContextSubset: { a: '1' } }), throwsKms('ValidationException'));
    const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v']));
    assert.throws(() => checkGrantRequest(symmetric, ['Encrypt'], { EncryptionContextSubset: nine }), throwsKms('ValidationException'));
    assert.throws(() => checkGrantRequest(symmetric, ['Encrypt'], { EncryptionContextSubset: { a: 'x'.repeat(385) } }), throwsKms('ValidationException'));
    assert.deepEqual(checkGrantRequest(symmetric, ['Encrypt', 'DescribeKey'], { EncryptionContextSubset: { a: '1' } }).constraints, { encryptionContextSubset: { a: '1' } });
  });

  it('accepts IAM principal ARNs and service principals, refuses anything else with InvalidArnException', () => {
    for (const ok of ['arn:aws:iam::111122223333:root', 'arn:aws:iam::111122223333:role/a/b', 'arn:aws:iam::111122223333:user/u@x', 'arn:aws:sts::111122223333:assumed-role/r/s', 'dynamodb.amazonaws.com']) {
      checkPrincipal(ok);
    }
    for (const bad of ['111122223333', 'arn:aws:iam::1111:root', 'arn:aws:kms:us-east-1:111122223333:key/x', 'arn:aws:iam::111122223333:group/g']) {
      assert.throws(() => checkPrincipal(bad), throwsKms('InvalidArnException'), bad);
    }
  });

  it('matches constraint keys case-insensitively and values exactly', () => {
    const subset = { encryptionContextSubset: { Dept: 'IT' } };
    assert.equal(constraintsAllow(subset, { dept: 'IT', other: 'x' }), true);
    assert.equal(constraintsAllow(subset, { Dept: 'it' }), false);
    assert.equal(constraintsAllow(subset, undefined), false);
    const equals = { encryptionContextEquals: { Dept: 'IT', Team: 'a' } };
    assert.equal(constraintsAllow(equals, { team: 'a', DEPT: 'IT' }), true);
    assert.equal(constraintsAllow(equals, { team: 'a', DEPT: 'IT', more: '1' }), false);
    assert.equal(constraintsAllow(equals, { team: 'a' }), false);
    assert.equal(constraintsAllow({ encryptionContextEquals: {} }, undefined), true);
    assert.equal(constraintsAllow(undefined, { any: 'thing' }), true);
  });

  it('applies constraints only to operations that take a context, and narrows CreateGrant', () => {
    const g = grantRecord(symmetric, 1, { operations: ['Encrypt', 'DescribeKey', 'CreateGrant'], constraints: { encryptionContextSubset: { a: '1' } } });
    assert.equal(grantAllows(g, callerB, 'DescribeKey', undefined), true);
    assert.equal(grantAllows(g, callerB, 'Encrypt', { encryptionContext: { a: '1' } }), true);
    assert.equal(grantAllows(g, callerB, 'Encrypt', { encryptionContext: { a: '2' } }), false);
    assert.equal(grantAllows(g, callerB, 'Decrypt', { encryptionContext: { a: '1' } }), false);
    assert.equal(grantAllows(g, { ...callerB, principalArn: `arn:aws:iam::${B}:user/u` }, 'Encrypt', { encryptionContext: { a: '1' } }), false);
    const child = (ops: string[], c?: object) => grantAllows(g, callerB, 'CreateGrant', { grantOperations: ops, grantConstraints: c });
    assert.equal(child(['Encrypt'], { encryptionContextSubset: { a: '1', b: '2' } }), true);
    assert.equal(child(['Encrypt'], { encryptionContextEquals: { a: '1' } }), true);
    assert.equal(child(['Encrypt']), false);
    assert.equal(child(['Encrypt'], { encryptionContextSubset: { b: '2' } }), false);
    assert.equal(child(['Decrypt'], { encryptionContextSubset: { a: '1' } }), false);
  });

  it("extends a grant to an account to the account's IAM principals whose identity policies allow the action", () => {
    const g = grantRecord(symmetric, 1, { granteePrincipal: `arn:aws:iam::${B}:root`, operations: ['Encrypt'] });
    const policy = (statement: object) => compilePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [statement] }), 'identity');
    const user = (...policies: ReturnType<typeof policy>[]): CallerIdentity => ({ account: B, principalArn: `arn:aws:iam::${B}:user/u`, accessKeyId: 'AKIA', identityPolicies: policies });
    assert.equal(grantAllows(g, user(policy({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: symmetric.arn })), 'Encrypt', undefined), true);
    assert.equal(grantAllows(g, user(policy({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' })), 'Encrypt', undefined), false);
    assert.equal(grantAllows(g, user(), 'Encrypt', undefined), false);
    assert.equal(grantAllows(g, { ...user(policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })), account: '999999999999', principalArn: 'arn:aws:iam::999999999999:user/u' }, 'Encrypt', undefined), false);
  });

  it('maps actions to grant operations (ReEncrypt destination is ReEncryptTo)', () => {
    assert.equal(grantOperationOf('kms:Encrypt'), 'Encrypt');
    assert.equal(grantOperationOf('kms:ReEncryptFrom'), 'ReEncryptFrom');
    assert.equal(grantOperationOf('kms:ReEncrypt'), 'ReEncryptTo');
    assert.equal(grantOperationOf('kms:PutKeyPolicy'), undefined);
    assert.equal(grantOperationOf('kms:ListGrants'), undefined);
  });

  it('treats a Name retry with the same parameters (operations in any order) as the same grant', () => {
    const g = grantRecord(symmetric, 1, { name: 'n', operations: ['Decrypt', 'Encrypt'], constraints: { encryptionContextSubset: { a: '1', b: '2' } } });
    const same = { ...g, operations: ['Encrypt', 'Decrypt'] as GrantRecord['operations'], constraints: { encryptionContextSubset: { b: '2', a: '1' } } };
    assert.equal(sameGrantParameters(same, g), true);
    assert.equal(sameGrantParameters({ ...same, retiringPrincipal: 'arn:aws:iam::111122223333:root' }, g), false);
    assert.equal(sameGrantParameters({ ...same, name: 'm' }, g), false);
  });

  it('issues a fresh token every time, opens only its own tokens', () => {
    const tokens = new GrantTokens(RootKey.fromBytes(randomBytes(32)));
    const id = 'ab'.repeat(32);
    const t1 = tokens.issue(symmetric.arn, id);
    const t2 = tokens.issue(symmetric.arn, id);
    assert.notEqual(t1, t2);
    assert.deepEqual(tokens.open(t1), { keyArn: symmetric.arn, grantId: id });
    const other = new GrantTokens(RootKey.fromBytes(randomBytes(32)));
    assert.throws(() => other.open(t1), throwsKms('InvalidGrantTokenException'));
    const flipped = Buffer.from(t1, 'base64url');
    flipped[20]! ^= 1;
    assert.throws(() => tokens.open(flipped.toString('base64url')), throwsKms('InvalidGrantTokenException'));
    assert.throws(() => tokens.open('not a token!'), throwsKms('InvalidGrantTokenException'));
  });
});

describe('grant cache (GrantRepository as the GrantChecker)', () => {
  const setup = async () => {
    const sqlite = new SqliteStorage(path.join(mkdtempSync(path.join(tmpdir(), 'trent-grants-')), 'db'));
    await sqlite.migrate();
    await sqlite.insertKey(symmetric, [], []);
    const { storage, calls } = counting(sqlite);
    const feed = new LocalChangeFeed();
    const tokens = new GrantTokens(RootKey.fromBytes(randomBytes(32)));
    const grants = new GrantRepository(storage, { now: () => new Date() }, tokens, { feed });
    return { sqlite, storage, calls, feed, tokens, grants };
  };

  it('answers from memory once a key is warm, and sees a new grant at once on this node', async () => {
    const { calls, grants } = await setup();
    const authorizer = new KeyPolicyAuthorizer({ now: () => new Date() }, grants);
    await assert.rejects(async () => authorizer.authorize(callerB, 'kms:Encrypt', symmetric, {}), throwsKms('AccessDeniedException'));
    calls.length = 0;
    assert.throws(() => authorizer.authorize(callerB, 'kms:Encrypt', symmetric, {}), throwsKms('AccessDeniedException'), 'a warm key is refused synchronously');
    assert.deepEqual(calls, [], 'no storage call for a warm key');
    await grants.create(grantRecord(symmetric, 1, { operations: ['Encrypt'] }), { perKey: 10, perGrantee: 10 });
    await authorizer.authorize(callerB, 'kms:Encrypt', symmetric, {});
    calls.length = 0;
    assert.equal(authorizer.authorize(callerB, 'kms:Encrypt', symmetric, {}), undefined, 'allowed synchronously once warm');
    assert.deepEqual(calls, []);
  });

  it("drops a key's grants when another node publishes a change, and reads a token's grant from the store", async () => {
    const { sqlite, calls, feed, tokens, grants } = await setup();
    assert.equal(await grants.allows(callerB, 'kms:Encrypt', symmetric, {}), false);
    // Another node writes a grant straight to the shared store: this node's cache does not know it yet...
    const g = grantRecord(symmetric, 7, { operations: ['Encrypt'] });
    await sqlite.insertGrant(g);
    assert.equal(grants.allows(callerB, 'kms:Encrypt', symmetric, {}), false);
    // ...but its token works at once (one read of that grant)...
    calls.length = 0;
    assert.equal(await grants.allows(callerB, 'kms:Encrypt', symmetric, { grantTokens: [tokens.issue(symmetric.arn, g.grantId)] }), true);
    assert.deepEqual(calls, ['getGrant']);
    // ...and once the change arrives, the grant is used without a token.
    await feed.publish({ kind: 'grants', arn: symmetric.arn });
    assert.equal(await grants.allows(callerB, 'kms:Encrypt', symmetric, {}), true);
    await sqlite.deleteGrant(symmetric.arn, g.grantId);
    await feed.publish({ kind: 'key', account: A.account, region: A.region, keyId: symmetric.keyId, arn: symmetric.arn, deleted: true });
    assert.equal(await grants.allows(callerB, 'kms:Encrypt', symmetric, {}), false);
  });
});
