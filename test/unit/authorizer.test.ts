// The one authorize step: key policy, identity (IAM) policies and grants combined as AWS KMS combines them
// ("Determining access to an AWS KMS key"; IAM "Policy evaluation logic", cross-account evaluation).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyPolicyAuthorizer, type GrantChecker } from '../../src/domain/authorizer.js';
import { compilePolicy } from '../../src/domain/policy/index.js';
import { defaultKeyPolicy } from '../../src/domain/key-policy.js';
import { KmsError } from '../../src/domain/errors.js';
import type { CallerIdentity } from '../../src/domain/identity.js';
import type { KeyRecord } from '../../src/domain/ports.js';

const A = '111122223333';
const B = '444455556666';
const clock = { now: () => new Date('2026-11-23T00:00:00Z') };

const keyWith = (policy: unknown): KeyRecord => ({
  account: A, region: 'us-east-1', keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', arn: `arn:aws:kms:us-east-1:${A}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  creationDate: new Date(0), description: '', keyUsage: 'ENCRYPT_DECRYPT', keySpec: 'SYMMETRIC_DEFAULT', origin: 'AWS_KMS', keyManager: 'CUSTOMER',
  keyState: 'Enabled', multiRegion: false, policy: typeof policy === 'string' ? policy : JSON.stringify(policy), version: 1,
});

const identity = (...statements: object[]) => compilePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), 'identity');
const caller = (account: string, name: string | undefined, policies?: ReturnType<typeof identity>[]): CallerIdentity => ({
  account, accessKeyId: 'AKIA', principalArn: name ? `arn:aws:iam::${account}:user/${name}` : `arn:aws:iam::${account}:root`,
  identityPolicies: name ? (policies ?? []) : undefined,
});
const allowKms = (action = 'kms:*', resource = '*') => identity({ Effect: 'Allow', Action: action, Resource: resource });
const denyKms = (action: string) => identity({ Effect: 'Deny', Action: action, Resource: '*' });

/** The outcome of authorize as a short word, waiting for a grant check when there is one. */
async function outcome(auth: KeyPolicyAuthorizer, who: CallerIdentity, action: string, key?: KeyRecord): Promise<string> {
  try {
    await auth.authorize(who, action, key);
    return 'allow';
  } catch (err) {
    assert.ok(err instanceof KmsError && err.type === 'AccessDeniedException', String(err));
    const m = err.message;
    return m.includes('explicit deny in a resource-based') ? 'resourceDeny'
      : m.includes('explicit deny in an identity-based') ? 'identityDeny'
      : m.includes('no resource-based policy') ? 'noResourceAllow'
      : m.includes('no identity-based policy') ? 'noIdentityAllow' : m;
  }
}

const defaultKey = keyWith(defaultKeyPolicy(A));
const alicePolicy = {
  Version: '2012-10-17',
  Statement: [
    JSON.parse(defaultKeyPolicy(A)).Statement[0],
    { Sid: 'Alice uses the key', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/Alice` }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*' },
    { Sid: 'Account B may encrypt', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: 'kms:Encrypt', Resource: '*' },
    { Sid: 'Nobody disables', Effect: 'Deny', Principal: '*', Action: 'kms:DisableKey', Resource: '*' },
  ],
};
const aliceKey = keyWith(alicePolicy);

describe('authorize: key policy with identity policies', () => {
  const auth = new KeyPolicyAuthorizer(clock);

  it('the default key policy delegates to IAM: a user needs an identity policy, the root does not', async () => {
    assert.equal(await outcome(auth, caller(A, undefined), 'kms:Encrypt', defaultKey), 'allow');
    assert.equal(await outcome(auth, caller(A, 'Bob'), 'kms:Encrypt', defaultKey), 'noIdentityAllow');
    assert.equal(await outcome(auth, caller(A, 'Bob', [allowKms('kms:Encrypt')]), 'kms:Encrypt', defaultKey), 'allow');
    assert.equal(await outcome(auth, caller(A, 'Bob', [allowKms('kms:Encrypt')]), 'kms:Decrypt', defaultKey), 'noIdentityAllow');
  });

  it('an identity policy can name the key by ARN, and a Deny in it wins over every allow', async () => {
    assert.equal(await outcome(auth, caller(A, 'Bob', [allowKms('kms:*', defaultKey.arn)]), 'kms:Encrypt', defaultKey), 'allow');
    assert.equal(await outcome(auth, caller(A, 'Bob', [allowKms('kms:*', `arn:aws:kms:us-east-1:${A}:key/other`)]), 'kms:Encrypt', defaultKey), 'noIdentityAllow');
    assert.equal(await outcome(auth, caller(A, 'Bob', [allowKms(), denyKms('kms:Encrypt')]), 'kms:Encrypt', defaultKey), 'identityDeny');
    assert.equal(await outcome(auth, caller(A, 'Alice', [denyKms('kms:*')]), 'kms:Encrypt', aliceKey), 'identityDeny');
  });

  it('a key policy naming the user allows it in the key account without any identity policy', async () => {
    assert.equal(await outcome(auth, caller(A, 'Alice'), 'kms:Encrypt', aliceKey), 'allow');
    assert.equal(await outcome(auth, caller(A, 'Alice'), 'kms:GenerateDataKey', aliceKey), 'noIdentityAllow');
  });

  it('an explicit deny in the key policy wins over identity policies and the root', async () => {
    assert.equal(await outcome(auth, caller(A, undefined), 'kms:DisableKey', aliceKey), 'resourceDeny');
    assert.equal(await outcome(auth, caller(A, 'Bob', [allowKms()]), 'kms:DisableKey', aliceKey), 'resourceDeny');
  });

  it('cross-account use needs the key policy and the caller account\'s identity policy', async () => {
    assert.equal(await outcome(auth, caller(B, undefined), 'kms:Encrypt', aliceKey), 'allow');
    assert.equal(await outcome(auth, caller(B, 'Carol'), 'kms:Encrypt', aliceKey), 'noIdentityAllow');
    assert.equal(await outcome(auth, caller(B, 'Carol', [allowKms('kms:Encrypt', aliceKey.arn)]), 'kms:Encrypt', aliceKey), 'allow');
    assert.equal(await outcome(auth, caller(B, 'Carol', [allowKms()]), 'kms:Decrypt', aliceKey), 'noResourceAllow');
    assert.equal(await outcome(auth, caller(B, 'Carol', [allowKms()]), 'kms:Encrypt', defaultKey), 'noResourceAllow');
  });

  it('requests without a key are decided by identity policies on resource "*"', async () => {
    assert.equal(await outcome(auth, caller(A, undefined), 'kms:CreateKey'), 'allow');
    assert.equal(await outcome(auth, caller(A, 'Bob'), 'kms:CreateKey'), 'noIdentityAllow');
    assert.equal(await outcome(auth, caller(A, 'Bob', [allowKms('kms:CreateKey')]), 'kms:CreateKey'), 'allow');
    assert.equal(await outcome(auth, caller(A, 'Bob', [allowKms('kms:CreateKey', defaultKey.arn)]), 'kms:CreateKey'), 'noIdentityAllow');
  });

  it('the lockout check sees identity policies too', () => {
    const bob = caller(A, 'Bob', [allowKms('kms:PutKeyPolicy')]);
    assert.equal(auth.decide(defaultKey.policy, bob, 'kms:PutKeyPolicy', defaultKey), 'allow');
    assert.equal(auth.decide(defaultKey.policy, caller(A, 'Bob'), 'kms:PutKeyPolicy', defaultKey), 'implicitDeny');
    assert.equal(auth.decide(aliceKey.policy, caller(A, undefined), 'kms:DisableKey', aliceKey), 'deny');
  });

  it('identity policies refuse a Principal element, key policies require one', () => {
    assert.throws(() => compilePolicy(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }] }), 'identity'), /should not specify a principal/);
    assert.throws(() => compilePolicy(JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] })), /no principal/);
  });
});

describe('authorize: grants', () => {
  const calls: string[] = [];
  const grants = (answer: (action: string) => boolean | Promise<boolean>): GrantChecker => ({
    allows: (_who, action) => {
      calls.push(action);
      return answer(action);
    },
  });

  it('a grant allows what the policies do not, synchronously or after a read', async () => {
    const sync = new KeyPolicyAuthorizer(clock, grants((a) => a === 'kms:Encrypt'));
    const bob = caller(A, 'Bob');
    assert.equal(await outcome(sync, bob, 'kms:Encrypt', defaultKey), 'allow');
    assert.equal(await outcome(sync, bob, 'kms:Decrypt', defaultKey), 'noIdentityAllow');
    const async = new KeyPolicyAuthorizer(clock, grants(async (a) => a === 'kms:Encrypt'));
    assert.ok(async.authorize(bob, 'kms:Encrypt', defaultKey) instanceof Promise);
    assert.equal(await outcome(async, bob, 'kms:Encrypt', defaultKey), 'allow');
    assert.equal(await outcome(async, bob, 'kms:Decrypt', defaultKey), 'noIdentityAllow');
  });

  it('grants are not consulted when the policies allow, and cannot override an explicit deny', async () => {
    calls.length = 0;
    const auth = new KeyPolicyAuthorizer(clock, grants(() => true));
    assert.equal(auth.authorize(caller(A, undefined), 'kms:Encrypt', defaultKey), undefined);
    assert.deepEqual(calls, []);
    assert.equal(await outcome(auth, caller(A, undefined), 'kms:DisableKey', aliceKey), 'resourceDeny');
    assert.equal(await outcome(auth, caller(A, 'Bob', [denyKms('kms:Encrypt')]), 'kms:Encrypt', defaultKey), 'identityDeny');
    assert.deepEqual(calls, []);
  });
});
