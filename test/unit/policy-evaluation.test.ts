// Key policy evaluation: a table from the examples of AWS's KMS Developer Guide, then each condition operator.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileCondition, compilePolicy, evaluatePolicy, type ConditionLookup, type Decision } from '../../src/domain/policy/index.js';
import { KmsError } from '../../src/domain/errors.js';
import { defaultKeyPolicy } from '../../src/domain/key-policy.js';

const A = '111122223333';
const B = '444455556666';
const KEY = `arn:aws:kms:us-west-2:${A}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

interface Case {
  readonly name: string;
  readonly policy: unknown;
  readonly principal: string;
  readonly action: string;
  readonly keys?: Record<string, string | string[]>;
  readonly expected: Decision;
}

const lookupOf = (keys: Record<string, string | string[]> = {}): ConditionLookup => {
  const lower = new Map(Object.entries(keys).map(([k, v]) => [k.toLowerCase(), v]));
  return (k) => lower.get(k);
};

const decide = (c: Case): Decision => {
  const account = /^arn:aws:iam::(\d{12}):/.exec(c.principal)![1]!;
  return evaluatePolicy(compilePolicy(JSON.stringify(c.policy)), {
    principalArn: c.principal, principalAccount: account, action: c.action, resource: KEY, conditions: lookupOf(c.keys),
  }).decision;
};

const root = (acct: string) => `arn:aws:iam::${acct}:root`;
const stmt = (s: Record<string, unknown>) => ({ Version: '2012-10-17', Statement: [s] });

// key-policy-default.html
const defaultPolicy = JSON.parse(defaultKeyPolicy(A));
// key-policy-modifying-external-accounts.html: allow an external account to use the key.
const externalUse = {
  Version: '2012-10-17',
  Statement: [
    defaultPolicy.Statement[0],
    {
      Sid: 'Allow an external account to use this KMS key',
      Effect: 'Allow',
      Principal: { AWS: [`arn:aws:iam::${B}:root`] },
      Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
      Resource: '*',
    },
  ],
};
// conditions-kms.html, kms:EncryptionContext:context-key: require "AppName": "ExampleApp".
const requireContext = stmt({
  Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:role/RoleForExampleApp` }, Action: 'kms:GenerateDataKey', Resource: '*',
  Condition: { StringEquals: { 'kms:EncryptionContext:AppName': 'ExampleApp' } },
});
// conditions-kms.html, kms:CallerAccount: allow any principal of account A via the account.
const callerAccount = stmt({ Effect: 'Allow', Principal: { AWS: '*' }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': A } } });
// conditions-kms.html, kms:EncryptionContextKeys with ForAllValues: only the key "Department" (empty context allowed).
const onlyDepartment = stmt({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:Encrypt', Resource: '*', Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['Department'] } } });
// conditions-kms.html, kms:EncryptionContextKeys with ForAnyValue + Null: require some context.
const requireAnyContext = stmt({ Effect: 'Deny', Principal: '*', Action: 'kms:Encrypt', Resource: '*', Condition: { Null: { 'kms:EncryptionContextKeys': 'true' } } });
// conditions-kms.html, kms:SigningAlgorithm: deny RSASSA_PSS_* signing.
const denyPss = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
    { Effect: 'Deny', Principal: { AWS: root(A) }, Action: 'kms:Sign', Resource: '*', Condition: { StringLike: { 'kms:SigningAlgorithm': 'RSASSA_PSS*' } } },
  ],
};
// conditions-kms.html, kms:RequestAlias: allow only through alias/finance-key.
const byAlias = stmt({ Effect: 'Allow', Principal: { AWS: root(B) }, Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*', Condition: { StringEquals: { 'kms:RequestAlias': 'alias/finance-key' } } });
// iam policy element reference: NotAction + Deny ("deny everything except ...").
const denyAllBut = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: A }, Action: 'kms:*', Resource: '*' },
    { Effect: 'Deny', Principal: { AWS: B }, NotAction: ['kms:Decrypt', 'kms:Describe*'], Resource: '*' },
    { Effect: 'Allow', Principal: { AWS: B }, Action: 'kms:*', Resource: '*' },
  ],
};
// aws:SourceIp and aws:CurrentTime (IAM User Guide examples).
const fromNetwork = stmt({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: KEY, Condition: { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:db8::/32'] } } });
const untilDate = stmt({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*', Condition: { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } } });

const cases: Case[] = [
  { name: 'default policy: the account root may do anything', policy: defaultPolicy, principal: root(A), action: 'kms:PutKeyPolicy', expected: 'allow' },
  { name: 'default policy: a user of the account matches through the account', policy: defaultPolicy, principal: `arn:aws:iam::${A}:user/Alice`, action: 'kms:Encrypt', expected: 'allow' },
  { name: 'default policy: another account is not allowed', policy: defaultPolicy, principal: root(B), action: 'kms:Encrypt', expected: 'implicitDeny' },
  { name: 'external account: Encrypt allowed', policy: externalUse, principal: root(B), action: 'kms:Encrypt', expected: 'allow' },
  { name: 'external account: ReEncryptFrom matches kms:ReEncrypt*', policy: externalUse, principal: root(B), action: 'kms:ReEncryptFrom', expected: 'allow' },
  { name: 'external account: GenerateDataKeyWithoutPlaintext matches kms:GenerateDataKey*', policy: externalUse, principal: root(B), action: 'kms:GenerateDataKeyWithoutPlaintext', expected: 'allow' },
  { name: 'external account: actions are case-insensitive', policy: externalUse, principal: root(B), action: 'KMS:encrypt', expected: 'allow' },
  { name: 'external account: PutKeyPolicy not allowed', policy: externalUse, principal: root(B), action: 'kms:PutKeyPolicy', expected: 'implicitDeny' },
  { name: 'encryption context required: present', policy: requireContext, principal: `arn:aws:iam::${A}:role/RoleForExampleApp`, action: 'kms:GenerateDataKey', keys: { 'kms:EncryptionContext:AppName': 'ExampleApp' }, expected: 'allow' },
  { name: 'encryption context required: other value', policy: requireContext, principal: `arn:aws:iam::${A}:role/RoleForExampleApp`, action: 'kms:GenerateDataKey', keys: { 'kms:EncryptionContext:AppName': 'exampleapp' }, expected: 'implicitDeny' },
  { name: 'encryption context required: absent', policy: requireContext, principal: `arn:aws:iam::${A}:role/RoleForExampleApp`, action: 'kms:GenerateDataKey', expected: 'implicitDeny' },
  { name: 'encryption context required: another role', policy: requireContext, principal: `arn:aws:iam::${A}:role/Other`, action: 'kms:GenerateDataKey', keys: { 'kms:EncryptionContext:AppName': 'ExampleApp' }, expected: 'implicitDeny' },
  { name: 'kms:CallerAccount: own account', policy: callerAccount, principal: root(A), action: 'kms:Decrypt', keys: { 'kms:CallerAccount': A }, expected: 'allow' },
  { name: 'kms:CallerAccount: other account', policy: callerAccount, principal: root(B), action: 'kms:Decrypt', keys: { 'kms:CallerAccount': B }, expected: 'implicitDeny' },
  { name: 'ForAllValues: only Department', policy: onlyDepartment, principal: root(A), action: 'kms:Encrypt', keys: { 'kms:EncryptionContextKeys': ['Department'] }, expected: 'allow' },
  { name: 'ForAllValues: Department and Project', policy: onlyDepartment, principal: root(A), action: 'kms:Encrypt', keys: { 'kms:EncryptionContextKeys': ['Department', 'Project'] }, expected: 'implicitDeny' },
  { name: 'ForAllValues: no context is allowed too', policy: onlyDepartment, principal: root(A), action: 'kms:Encrypt', expected: 'allow' },
  { name: 'Null deny: no context', policy: requireAnyContext, principal: root(A), action: 'kms:Encrypt', expected: 'deny' },
  { name: 'Null deny: some context, but no allow', policy: requireAnyContext, principal: root(A), action: 'kms:Encrypt', keys: { 'kms:EncryptionContextKeys': ['a'] }, expected: 'implicitDeny' },
  { name: 'signing: PSS denied even with kms:*', policy: denyPss, principal: root(A), action: 'kms:Sign', keys: { 'kms:SigningAlgorithm': 'RSASSA_PSS_SHA_256' }, expected: 'deny' },
  { name: 'signing: PKCS1 allowed', policy: denyPss, principal: root(A), action: 'kms:Sign', keys: { 'kms:SigningAlgorithm': 'RSASSA_PKCS1_V1_5_SHA_256' }, expected: 'allow' },
  { name: 'kms:RequestAlias: through the alias', policy: byAlias, principal: root(B), action: 'kms:Decrypt', keys: { 'kms:RequestAlias': 'alias/finance-key' }, expected: 'allow' },
  { name: 'kms:RequestAlias: by key ARN', policy: byAlias, principal: root(B), action: 'kms:Decrypt', expected: 'implicitDeny' },
  { name: 'Deny NotAction: Decrypt stays allowed', policy: denyAllBut, principal: root(B), action: 'kms:Decrypt', expected: 'allow' },
  { name: 'Deny NotAction: DescribeKey stays allowed', policy: denyAllBut, principal: root(B), action: 'kms:DescribeKey', expected: 'allow' },
  { name: 'Deny NotAction: Encrypt denied', policy: denyAllBut, principal: root(B), action: 'kms:Encrypt', expected: 'deny' },
  { name: 'Deny NotAction: the other account is untouched', policy: denyAllBut, principal: root(A), action: 'kms:Encrypt', expected: 'allow' },
  { name: 'aws:SourceIp: inside the IPv4 range', policy: fromNetwork, principal: root(B), action: 'kms:Decrypt', keys: { 'aws:SourceIp': '203.0.113.7' }, expected: 'allow' },
  { name: 'aws:SourceIp: inside the IPv6 range', policy: fromNetwork, principal: root(B), action: 'kms:Decrypt', keys: { 'aws:SourceIp': '2001:db8::1' }, expected: 'allow' },
  { name: 'aws:SourceIp: outside', policy: fromNetwork, principal: root(B), action: 'kms:Decrypt', keys: { 'aws:SourceIp': '198.51.100.1' }, expected: 'implicitDeny' },
  { name: 'aws:CurrentTime: before the date', policy: untilDate, principal: root(A), action: 'kms:Encrypt', keys: { 'aws:CurrentTime': '2029-12-31T23:59:59Z' }, expected: 'allow' },
  { name: 'aws:CurrentTime: after the date', policy: untilDate, principal: root(A), action: 'kms:Encrypt', keys: { 'aws:CurrentTime': '2030-01-01T00:00:01Z' }, expected: 'implicitDeny' },
  { name: 'Resource: another key ARN does not match', policy: stmt({ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: KEY.replace('1234abcd', 'ffffffff') }), principal: root(A), action: 'kms:Encrypt', expected: 'implicitDeny' },
  { name: 'Resource: key ARN wildcard', policy: stmt({ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: `arn:aws:kms:*:${A}:key/*` }), principal: root(A), action: 'kms:Encrypt', expected: 'allow' },
  { name: 'NotResource excludes this key', policy: stmt({ Effect: 'Allow', Principal: '*', Action: 'kms:*', NotResource: KEY }), principal: root(A), action: 'kms:Encrypt', expected: 'implicitDeny' },
  { name: 'no Resource: the statement has no effect', policy: stmt({ Effect: 'Allow', Principal: '*', Action: 'kms:*' }), principal: root(A), action: 'kms:Encrypt', expected: 'implicitDeny' },
  { name: 'NotPrincipal Deny: everyone but B is denied', policy: { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }, { Effect: 'Deny', NotPrincipal: { AWS: B }, Action: 'kms:*', Resource: '*' }] }, principal: root(A), action: 'kms:Encrypt', expected: 'deny' },
  { name: 'NotPrincipal Deny: B is allowed', policy: { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }, { Effect: 'Deny', NotPrincipal: { AWS: B }, Action: 'kms:*', Resource: '*' }] }, principal: root(B), action: 'kms:Encrypt', expected: 'allow' },
  { name: 'Action ? wildcard', policy: stmt({ Effect: 'Allow', Principal: '*', Action: 'kms:?ncrypt', Resource: '*' }), principal: root(A), action: 'kms:Encrypt', expected: 'allow' },
  { name: 'Statement as an object; principal as a user ARN', policy: { Version: '2012-10-17', Statement: { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/Bob` }, Action: 'kms:Encrypt', Resource: '*' } }, principal: `arn:aws:iam::${A}:user/Bob`, action: 'kms:Encrypt', expected: 'allow' },
  { name: 'a user principal does not match the root', policy: stmt({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/Bob` }, Action: 'kms:Encrypt', Resource: '*' }), principal: root(A), action: 'kms:Encrypt', expected: 'implicitDeny' },
];

describe('key policy evaluation: AWS developer guide examples', () => {
  for (const c of cases) it(`${c.name} → ${c.expected}`, () => assert.equal(decide(c), c.expected));
});

const check = (op: string, key: string, values: string[], request: Record<string, string | string[]>): boolean =>
  compileCondition(op, key, values).test(lookupOf(request));

describe('condition operators', () => {
  it('String*: exact, negated (NOR over values), ignore case, like', () => {
    assert.equal(check('StringEquals', 'k', ['a', 'b'], { k: 'b' }), true);
    assert.equal(check('StringEquals', 'k', ['a'], { k: 'A' }), false);
    assert.equal(check('StringNotEquals', 'k', ['a', 'b'], { k: 'b' }), false);
    assert.equal(check('StringNotEquals', 'k', ['a', 'b'], { k: 'c' }), true);
    assert.equal(check('StringEqualsIgnoreCase', 'k', ['abc'], { k: 'ABC' }), true);
    assert.equal(check('StringNotEqualsIgnoreCase', 'k', ['abc'], { k: 'ABC' }), false);
    assert.equal(check('StringLike', 'k', ['a*c', 'x?z'], { k: 'xyz' }), true);
    assert.equal(check('StringLike', 'k', ['a*c'], { k: 'ab' }), false);
    assert.equal(check('StringNotLike', 'k', ['a*'], { k: 'b' }), true);
  });
  it('a missing key: false, except negated operators, ...IfExists and Null', () => {
    assert.equal(check('StringEquals', 'k', ['a'], {}), false);
    assert.equal(check('StringNotEquals', 'k', ['a'], {}), true);
    assert.equal(check('StringEqualsIfExists', 'k', ['a'], {}), true);
    assert.equal(check('StringEqualsIfExists', 'k', ['a'], { k: 'b' }), false);
    assert.equal(check('Null', 'k', ['true'], {}), true);
    assert.equal(check('Null', 'k', ['false'], {}), false);
    assert.equal(check('Null', 'k', ['false'], { k: 'x' }), true);
  });
  it('condition key names are case-insensitive', () => {
    assert.equal(check('StringEquals', 'KMS:CallerAccount', [A], { 'kms:calleraccount': A }), true);
  });
  it('Numeric*', () => {
    assert.equal(check('NumericEquals', 'n', ['7'], { n: '7.0' }), true);
    assert.equal(check('NumericNotEquals', 'n', ['7'], { n: '8' }), true);
    assert.equal(check('NumericLessThan', 'n', ['7'], { n: '6' }), true);
    assert.equal(check('NumericLessThanEquals', 'n', ['7'], { n: '7' }), true);
    assert.equal(check('NumericGreaterThan', 'n', ['7'], { n: '7' }), false);
    assert.equal(check('NumericGreaterThanEquals', 'n', ['7'], { n: '7' }), true);
    assert.equal(check('NumericEquals', 'n', ['7'], { n: 'seven' }), false);
  });
  it('Date*: ISO 8601 and epoch seconds', () => {
    assert.equal(check('DateLessThan', 't', ['2020-01-01T00:00:00Z'], { t: '2019-12-31T23:59:59Z' }), true);
    assert.equal(check('DateGreaterThan', 't', ['1577836800'], { t: '2020-01-01T00:00:01Z' }), true);
    assert.equal(check('DateEquals', 't', ['2020-01-01T00:00:00Z'], { t: '1577836800' }), true);
    assert.equal(check('DateNotEquals', 't', ['2020-01-01T00:00:00Z'], { t: '1577836801' }), true);
    assert.equal(check('DateLessThanEquals', 't', ['2020-01-01T00:00:00Z'], { t: '2020-01-01T00:00:00Z' }), true);
    assert.equal(check('DateGreaterThanEquals', 't', ['2020-01-01T00:00:00Z'], { t: '2019-01-01T00:00:00Z' }), false);
  });
  it('Bool', () => {
    assert.equal(check('Bool', 'aws:SecureTransport', ['true'], { 'aws:securetransport': 'true' }), true);
    assert.equal(check('Bool', 'aws:SecureTransport', ['false'], { 'aws:securetransport': 'true' }), false);
    assert.equal(check('Bool', 'aws:SecureTransport', ['false'], {}), false);
  });
  it('IpAddress / NotIpAddress', () => {
    assert.equal(check('IpAddress', 'ip', ['10.0.0.0/8'], { ip: '10.1.2.3' }), true);
    assert.equal(check('NotIpAddress', 'ip', ['10.0.0.0/8'], { ip: '10.1.2.3' }), false);
    assert.equal(check('IpAddress', 'ip', ['192.0.2.1'], { ip: '192.0.2.1' }), true);
  });
  it('Arn*', () => {
    const arn = `arn:aws:iam::${A}:role/Admin`;
    assert.equal(check('ArnLike', 'aws:PrincipalArn', [`arn:aws:iam::${A}:role/*`], { 'aws:principalarn': arn }), true);
    assert.equal(check('ArnEquals', 'aws:PrincipalArn', [arn], { 'aws:principalarn': arn }), true);
    assert.equal(check('ArnNotLike', 'aws:PrincipalArn', [`arn:aws:iam::${B}:*`], { 'aws:principalarn': arn }), true);
    assert.equal(check('ArnNotEquals', 'aws:PrincipalArn', [arn], { 'aws:principalarn': arn }), false);
  });
  it('ForAnyValue / ForAllValues on multivalued keys', () => {
    assert.equal(check('ForAnyValue:StringEquals', 'ks', ['a'], { ks: ['b', 'a'] }), true);
    assert.equal(check('ForAnyValue:StringEquals', 'ks', ['a'], {}), false);
    assert.equal(check('ForAllValues:StringEquals', 'ks', ['a', 'b'], { ks: ['b', 'a'] }), true);
    assert.equal(check('ForAllValues:StringEquals', 'ks', ['a'], { ks: ['b', 'a'] }), false);
    assert.equal(check('ForAllValues:StringEquals', 'ks', ['a'], {}), true);
    assert.equal(check('ForAllValues:StringLike', 'ks', ['app*'], { ks: ['app1', 'app2'] }), true);
  });
  it('refuses unknown operators and bad values as MalformedPolicyDocumentException', () => {
    for (const [op, v] of [['StringEqualz', 'a'], ['NumericEquals', 'x'], ['DateEquals', 'yesterday'], ['IpAddress', '10.0.0.0/99'], ['Null', 'maybe']] as const) {
      assert.throws(() => compileCondition(op, 'k', [v]), (e: unknown) => e instanceof KmsError && e.name === 'MalformedPolicyDocumentException', op);
    }
  });
});

describe('policy documents', () => {
  const bad = (doc: unknown) => assert.throws(() => compilePolicy(typeof doc === 'string' ? doc : JSON.stringify(doc)), (e: unknown) => e instanceof KmsError && e.name === 'MalformedPolicyDocumentException');
  it('refuses what AWS refuses', () => {
    bad('{not json');
    bad([]);
    bad({ Version: '2012-10-17' });
    bad({ Statement: [] });
    bad(stmt({ Effect: 'Maybe', Principal: '*', Action: '*', Resource: '*' }));
    bad(stmt({ Effect: 'Allow', Action: '*', Resource: '*' }));
    bad(stmt({ Effect: 'Allow', Principal: '*', Resource: '*' }));
    bad(stmt({ Effect: 'Allow', Principal: '*', Action: '*', NotAction: 'kms:Encrypt', Resource: '*' }));
    bad(stmt({ Effect: 'Allow', Principal: { AWS: 'not-an-arn' }, Action: '*', Resource: '*' }));
    bad(stmt({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*', Extra: 1 }));
    bad({ Version: '2099-01-01', Statement: [] });
  });
  it('the default key policy compiles', () => {
    assert.equal(compilePolicy(defaultKeyPolicy(A)).statements.length, 1);
  });
});
