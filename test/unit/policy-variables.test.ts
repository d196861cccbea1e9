// Policy variables in condition values (IAM User Guide, "IAM policy elements: Variables and tags").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, evaluatePolicy, type ConditionLookup, type Decision } from '../../src/domain/policy/index.js';

const A = '111122223333';
const KEY = `arn:aws:kms:us-east-1:${A}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

const decide = (version: string | undefined, condition: object, keys: Record<string, string>): Decision => {
  const doc = { ...(version && { Version: version }), Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:Encrypt', Resource: '*', Condition: condition }] };
  const lower = new Map(Object.entries(keys).map(([k, v]) => [k.toLowerCase(), v]));
  const lookup: ConditionLookup = (k) => lower.get(k);
  return evaluatePolicy(compilePolicy(JSON.stringify(doc)), { principalArn: `arn:aws:iam::${A}:user/Alice`, principalAccount: A, action: 'kms:Encrypt', resource: KEY, conditions: lookup }).decision;
};

describe('policy variables', () => {
  const ownerIsUser = { StringEquals: { 'kms:EncryptionContext:owner': '${aws:username}' } };

  it('substitutes a request key into a condition value', () => {
    assert.equal(decide('2012-10-17', ownerIsUser, { 'aws:username': 'Alice', 'kms:EncryptionContext:owner': 'Alice' }), 'allow');
    assert.equal(decide('2012-10-17', ownerIsUser, { 'aws:username': 'Alice', 'kms:EncryptionContext:owner': 'Bob' }), 'implicitDeny');
  });

  it('substitutes inside a longer value and in StringLike patterns', () => {
    const c = { StringLike: { 'kms:EncryptionContext:path': 'home/${aws:username}/*' } };
    assert.equal(decide('2012-10-17', c, { 'aws:username': 'Alice', 'kms:EncryptionContext:path': 'home/Alice/docs' }), 'allow');
    assert.equal(decide('2012-10-17', c, { 'aws:username': 'Alice', 'kms:EncryptionContext:path': 'home/Bob/docs' }), 'implicitDeny');
  });

  it('a missing key matches nothing, unless the variable has a default', () => {
    assert.equal(decide('2012-10-17', ownerIsUser, { 'kms:EncryptionContext:owner': '' }), 'implicitDeny');
    const withDefault = { StringEquals: { 'kms:EncryptionContext:owner': "${aws:username, 'nobody'}" } };
    assert.equal(decide('2012-10-17', withDefault, { 'kms:EncryptionContext:owner': 'nobody' }), 'allow');
    assert.equal(decide('2012-10-17', withDefault, { 'aws:username': 'Alice', 'kms:EncryptionContext:owner': 'Alice' }), 'allow');
  });

  it("a variable named after Object.prototype's members is a key like any other", () => {
    const c = { StringEquals: { 'kms:EncryptionContext:note': '${toString}' } };
    assert.equal(decide('2012-10-17', c, { 'kms:EncryptionContext:note': 'function toString() { [native code] }' }), 'implicitDeny');
    assert.equal(decide('2012-10-17', c, { toString: 'x', 'kms:EncryptionContext:note': 'x' }), 'allow');
  });

  it('${*}, ${?} and ${$} stand for the characters', () => {
    const c = { StringEquals: { 'kms:EncryptionContext:note': 'cost${$}${?}' } };
    assert.equal(decide('2012-10-17', c, { 'kms:EncryptionContext:note': 'cost$?' }), 'allow');
  });

  it('is literal text in a 2008-10-17 document or one without a Version', () => {
    for (const version of ['2008-10-17', undefined]) {
      assert.equal(decide(version, ownerIsUser, { 'aws:username': 'Alice', 'kms:EncryptionContext:owner': 'Alice' }), 'implicitDeny');
      assert.equal(decide(version, ownerIsUser, { 'kms:EncryptionContext:owner': '${aws:username}' }), 'allow');
    }
  });

  it('a numeric operator reads the substituted value, and matches nothing when it is not a number', () => {
    const c = { NumericLessThanEquals: { 'kms:RotationPeriodInDays': '${kms:ScheduleKeyDeletionPendingWindowInDays}' } };
    assert.equal(decide('2012-10-17', c, { 'kms:RotationPeriodInDays': '20', 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' }), 'allow');
    assert.equal(decide('2012-10-17', c, { 'kms:RotationPeriodInDays': '20', 'kms:ScheduleKeyDeletionPendingWindowInDays': 'x' }), 'implicitDeny');
  });

  it('records the condition keys a document tests, variables included', () => {
    const p = compilePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/Owner': '${aws:username}' } } }] }));
    assert.deepEqual([...p.conditionKeys].sort(), ['aws:resourcetag/owner', 'aws:username']);
  });
});
