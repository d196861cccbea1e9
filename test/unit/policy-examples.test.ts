// The policy-evaluation table of issue #6: examples from AWS's KMS Developer Guide (and the IAM User Guide where the
// KMS guide refers to it), each transcribed as data — policy document, principal, action, request context — with the
// decision AWS documents, evaluated through the real authorizer (KeyPolicyAuthorizer.authorize). The IAM side allows:
// every caller here is either an account root (its IAM policies are taken as allowing, as in docs/access-control.md) or
// a principal the key policy names itself. Page names are cited per example.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyPolicyAuthorizer, type AuthorizationContext } from '../../src/domain/authorizer.js';
import type { Decision } from '../../src/domain/policy/index.js';
import type { KeyRecord } from '../../src/domain/ports.js';
import { KmsError } from '../../src/domain/errors.js';
import { defaultKeyPolicy } from '../../src/domain/key-policy.js';
import { awsManagedKeyPolicy, managedKeyService } from '../../src/domain/aws-managed-keys.js';

const A = '111122223333';
const B = '444455556666';
const REGION = 'us-west-2';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:${REGION}:${A}:key/${KEY_ID}`;

const root = (acct: string) => `arn:aws:iam::${acct}:root`;
const user = (name: string, acct = A) => `arn:aws:iam::${acct}:user/${name}`;
const role = (name: string, acct = A) => `arn:aws:iam::${acct}:role/${name}`;
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });

interface Example {
  /** The Developer Guide page (and section) the policy comes from. */
  readonly page: string;
  readonly name: string;
  readonly policy: object | string;
  readonly principal: string;
  readonly action: string;
  readonly context?: AuthorizationContext;
  /** Properties of the key the request acts on (default: a symmetric encryption key). */
  readonly key?: Partial<KeyRecord>;
  readonly expected: Decision;
}

// key-policy-default.html: "Allows access to the AWS account and enables IAM policies".
const defaultPolicy = defaultKeyPolicy(A);
// key-policy-default.html: the console's default policy — account, key administrators, key users, persistent resources.
const consoleDefault = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  {
    Sid: 'Allow access for Key Administrators', Effect: 'Allow', Principal: { AWS: role('ExampleAdminRole') },
    Action: [
      'kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*',
      'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion', 'kms:RotateKeyOnDemand',
    ],
    Resource: '*',
  },
  {
    Sid: 'Allow use of the key', Effect: 'Allow', Principal: { AWS: role('ExampleUserRole') },
    Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'], Resource: '*',
  },
  {
    Sid: 'Allow attachment of persistent resources', Effect: 'Allow', Principal: { AWS: role('ExampleUserRole') },
    Action: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'], Resource: '*', Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
  },
);
// Same page, without the account statement: the key administrators and users only (no IAM delegation).
const withoutAccount = doc(...consoleDefault.Statement.slice(1));
// key-policy-modifying-external-accounts.html: "Allow an external account to use this KMS key".
const externalAccount = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  {
    Sid: 'Allow an external account to use this KMS key', Effect: 'Allow', Principal: { AWS: root(B) },
    Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'], Resource: '*',
  },
);
// conditions-kms.html#conditions-kms-caller-account: the AWS managed key for Amazon EBS (ec2 via service).
const callerAccount = doc({
  Effect: 'Allow', Principal: { AWS: '*' },
  Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'], Resource: '*',
  Condition: { StringEquals: { 'kms:ViaService': `ec2.${REGION}.amazonaws.com`, 'kms:CallerAccount': A } },
});
// conditions-kms.html#conditions-kms-via-service: use only through EC2 or RDS; and a Deny for Lambda.
const viaService = doc({
  Effect: 'Allow', Principal: { AWS: user('ExampleUser') },
  Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:ListGrants', 'kms:DescribeKey'], Resource: '*',
  Condition: { 'ForAnyValue:StringEquals': { 'kms:ViaService': [`ec2.${REGION}.amazonaws.com`, `rds.${REGION}.amazonaws.com`] } },
});
const viaServiceDeny = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  { Effect: 'Deny', Principal: { AWS: user('ExampleUser') }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*', Condition: { StringEquals: { 'kms:ViaService': `lambda.${REGION}.amazonaws.com` } } },
);
// conditions-kms.html#conditions-kms-encryption-context: a role may GenerateDataKey only with AppName=ExampleApp.
const encryptionContext = doc({
  Effect: 'Allow', Principal: { AWS: role('RoleForExampleApp') }, Action: 'kms:GenerateDataKey', Resource: '*',
  Condition: { StringEquals: { 'kms:EncryptionContext:AppName': 'ExampleApp' } },
});
// conditions-kms.html#conditions-kms-encryption-context-keys: require a context with AppName; allow only AppName/FilePath.
const contextKeysAny = doc({
  Effect: 'Allow', Principal: { AWS: role('RoleForExampleApp') }, Action: 'kms:GenerateDataKey', Resource: '*',
  Condition: { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'AppName' } },
});
const contextKeysAll = doc({
  Effect: 'Allow', Principal: { AWS: role('RoleForExampleApp') }, Action: 'kms:GenerateDataKey', Resource: '*',
  Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['AppName', 'FilePath'] }, Null: { 'kms:EncryptionContextKeys': 'false' } },
});
// conditions-kms.html#conditions-kms-request-alias: use the key only when the request names it by alias/finance-key.
const requestAlias = doc({
  Effect: 'Allow', Principal: { AWS: role('FinanceRole') }, Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*'], Resource: '*',
  Condition: { StringEquals: { 'kms:RequestAlias': 'alias/finance-key' } },
});
// alias-authorization.html (kms:ResourceAliases): manage keys only when all aliases include "Test", and there is one.
const resourceAliases = doc({
  Sid: 'AliasBasedIAMPolicy', Effect: 'Allow', Principal: { AWS: root(A) }, Action: ['kms:EnableKey', 'kms:DisableKey'], Resource: `arn:aws:kms:*:${A}:key/*`,
  Condition: { 'ForAllValues:StringLike': { 'kms:ResourceAliases': ['alias/*Test*'] }, 'ForAnyValue:StringLike': { 'kms:ResourceAliases': ['alias/*Test*'] } },
});
// tag-authorization.html: use keys tagged Project=Alpha.
const resourceTag = doc({
  Effect: 'Allow', Principal: { AWS: root(A) }, Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*',
  Condition: { StringEquals: { 'aws:ResourceTag/Project': 'Alpha' } },
});
// tag-permissions.html: no principal may add, change or remove the Purpose tag; other tags only with a Cost-center value.
const tagKeys = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  { Effect: 'Deny', Principal: { AWS: '*' }, Action: ['kms:TagResource', 'kms:UntagResource'], Resource: '*', Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'Purpose' } } },
);
const requestTag = doc({
  Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:TagResource', Resource: '*',
  Condition: { StringEquals: { 'aws:RequestTag/Cost-center': ['CC-1234', 'CC-5678'] } },
});
// conditions-kms.html#conditions-kms-key-spec / -key-usage / -key-origin / -multi-region: properties of the key used.
const keySpecOnly = doc({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:Sign', Resource: '*', Condition: { StringLike: { 'kms:KeySpec': 'RSA_*' } } });
const keyUsageDeny = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:DescribeKey', Resource: '*', Condition: { StringEquals: { 'kms:KeyUsage': 'SIGN_VERIFY' } } },
);
const keyOrigin = doc({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: ['kms:Encrypt', 'kms:GenerateDataKey*'], Resource: '*', Condition: { StringEquals: { 'kms:KeyOrigin': 'AWS_KMS' } } });
const multiRegion = doc({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:Encrypt', Resource: '*', Condition: { Bool: { 'kms:MultiRegion': 'false' } } });
// conditions-kms.html#conditions-kms-encryption-algorithm: deny RSAES_OAEP_SHA_1.
const encryptionAlgorithm = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  { Effect: 'Deny', Principal: { AWS: '*' }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*', Condition: { StringEquals: { 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_1' } } },
);
// conditions-kms.html#conditions-kms-signing-algorithm: sign only with a PSS algorithm.
const signingAlgorithm = doc({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:Sign', Resource: '*', Condition: { StringLike: { 'kms:SigningAlgorithm': 'RSASSA_PSS*' } } });
// conditions-kms.html#conditions-kms-mac-algorithm.
const macAlgorithm = doc({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: ['kms:GenerateMac', 'kms:VerifyMac'], Resource: '*', Condition: { StringEquals: { 'kms:MacAlgorithm': ['HMAC_SHA_384', 'HMAC_SHA_512'] } } });
// conditions-kms.html#conditions-kms-rotation-period-in-days: rotation periods from 90 to 180 days.
const rotationPeriod = doc({
  Effect: 'Allow', Principal: { AWS: role('KeyAdminRole') }, Action: 'kms:EnableKeyRotation', Resource: '*',
  Condition: { NumericLessThanEquals: { 'kms:RotationPeriodInDays': '180' }, NumericGreaterThanEquals: { 'kms:RotationPeriodInDays': '90' } },
});
// conditions-kms.html#conditions-kms-schedule-key-deletion-pending-window-in-days: no window of 21 days or less.
const pendingWindow = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  { Effect: 'Deny', Principal: { AWS: role('KMSAdminRole') }, Action: 'kms:ScheduleKeyDeletion', Resource: '*', Condition: { NumericLessThanEquals: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '21' } } },
);
// conditions-kms.html#conditions-kms-data-key-pair-spec: only RSA data key pairs.
const dataKeyPairSpec = doc({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:GenerateDataKeyPair*', Resource: '*', Condition: { StringLike: { 'kms:DataKeyPairSpec': 'RSA*' } } });
// conditions-kms.html#conditions-kms-wrapping-algorithm / -expiration-model / -valid-to: import rules.
const wrappingAlgorithm = doc({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:GetParametersForImport', Resource: '*', Condition: { StringEquals: { 'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_256' } } });
const expirationModel = doc({ Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:ImportKeyMaterial', Resource: '*', Condition: { StringEquals: { 'kms:ExpirationModel': 'KEY_MATERIAL_EXPIRES' } } });
const validTo = doc({
  Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:ImportKeyMaterial', Resource: '*',
  Condition: { NumericLessThanEquals: { 'kms:ValidTo': '1546257599.0' } },
});
// conditions-aws.html / IAM reference_policies_examples_aws_deny-ip.html: deny requests from outside a network.
const sourceIp = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': ['192.0.2.0/24', '203.0.113.0/24'] } } },
);
// IAM reference_policies_condition-keys.html#condition-keys-securetransport: deny plain HTTP.
const secureTransport = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
);
// conditions-aws.html (aws:PrincipalArn): only one role may decrypt, with an explicit deny for everyone else.
const principalArnDeny = doc(
  { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: root(A) }, Action: 'kms:*', Resource: '*' },
  { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotEquals: { 'aws:PrincipalArn': role('DecryptRole') } } },
);
// IAM reference_policies_variables.html: a value from the request context (each user their own context value).
const policyVariable = doc({
  Effect: 'Allow', Principal: { AWS: [user('Alice'), user('Bob')] }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*',
  Condition: { StringEquals: { 'kms:EncryptionContext:owner': '${aws:username}' } },
});
// concepts.html#aws-managed-key: an AWS managed key's policy (the one Trent writes for alias/aws/ebs).
const awsManaged = awsManagedKeyPolicy({ account: A, region: REGION }, managedKeyService('ebs'));

const EXAMPLES: readonly Example[] = [
  { page: 'key-policy-default', name: 'default policy: the account root may do anything', policy: defaultPolicy, principal: root(A), action: 'kms:ScheduleKeyDeletion', expected: 'allow' },
  { page: 'key-policy-default', name: "default policy: a user of the account (IAM decides; Trent's IAM side allows)", policy: defaultPolicy, principal: user('Alice'), action: 'kms:Encrypt', expected: 'allow' },
  { page: 'key-policy-default', name: 'default policy: another account is not allowed', policy: defaultPolicy, principal: root(B), action: 'kms:Encrypt', expected: 'implicitDeny' },
  { page: 'key-policy-default', name: 'key administrators may disable the key', policy: withoutAccount, principal: role('ExampleAdminRole'), action: 'kms:DisableKey', expected: 'allow' },
  { page: 'key-policy-default', name: 'key administrators may not use the key', policy: withoutAccount, principal: role('ExampleAdminRole'), action: 'kms:Encrypt', expected: 'implicitDeny' },
  { page: 'key-policy-default', name: 'key users may ReEncryptFrom (kms:ReEncrypt*)', policy: withoutAccount, principal: role('ExampleUserRole'), action: 'kms:ReEncryptFrom', expected: 'allow' },
  { page: 'key-policy-default', name: 'key users may not schedule deletion', policy: withoutAccount, principal: role('ExampleUserRole'), action: 'kms:ScheduleKeyDeletion', expected: 'implicitDeny' },
  { page: 'key-policy-default', name: 'without the account statement the root is not allowed', policy: withoutAccount, principal: root(A), action: 'kms:DescribeKey', expected: 'implicitDeny' },
  { page: 'key-policy-modifying-external-accounts', name: 'external account may encrypt', policy: externalAccount, principal: root(B), action: 'kms:Encrypt', expected: 'allow' },
  { page: 'key-policy-modifying-external-accounts', name: 'external account user may GenerateDataKeyWithoutPlaintext (its IAM side allows)', policy: externalAccount, principal: user('Carol', B), action: 'kms:GenerateDataKeyWithoutPlaintext', expected: 'allow' },
  { page: 'key-policy-modifying-external-accounts', name: 'external account may not change the policy', policy: externalAccount, principal: root(B), action: 'kms:PutKeyPolicy', expected: 'implicitDeny' },
  { page: 'conditions-kms#caller-account', name: 'through EC2 by a principal of the account', policy: callerAccount, principal: user('Alice'), action: 'kms:CreateGrant', context: { viaService: `ec2.${REGION}.amazonaws.com` }, expected: 'allow' },
  { page: 'conditions-kms#caller-account', name: 'through EC2 by another account', policy: callerAccount, principal: user('Carol', B), action: 'kms:Decrypt', context: { viaService: `ec2.${REGION}.amazonaws.com` }, expected: 'implicitDeny' },
  { page: 'conditions-kms#caller-account', name: 'directly, not through EC2', policy: callerAccount, principal: user('Alice'), action: 'kms:Decrypt', expected: 'implicitDeny' },
  { page: 'conditions-kms#via-service', name: 'through RDS', policy: viaService, principal: user('ExampleUser'), action: 'kms:GenerateDataKeyWithoutPlaintext', context: { viaService: `rds.${REGION}.amazonaws.com` }, expected: 'allow' },
  { page: 'conditions-kms#via-service', name: 'through S3 (not listed)', policy: viaService, principal: user('ExampleUser'), action: 'kms:Encrypt', context: { viaService: `s3.${REGION}.amazonaws.com` }, expected: 'implicitDeny' },
  { page: 'conditions-kms#via-service', name: 'Deny through Lambda', policy: viaServiceDeny, principal: user('ExampleUser'), action: 'kms:Decrypt', context: { viaService: `lambda.${REGION}.amazonaws.com` }, expected: 'deny' },
  { page: 'conditions-kms#via-service', name: 'the Deny does not apply to direct calls', policy: viaServiceDeny, principal: user('ExampleUser'), action: 'kms:Decrypt', expected: 'allow' },
  { page: 'conditions-kms#encryption-context', name: 'AppName=ExampleApp', policy: encryptionContext, principal: role('RoleForExampleApp'), action: 'kms:GenerateDataKey', context: { encryptionContext: { AppName: 'ExampleApp' } }, expected: 'allow' },
  { page: 'conditions-kms#encryption-context', name: 'another AppName', policy: encryptionContext, principal: role('RoleForExampleApp'), action: 'kms:GenerateDataKey', context: { encryptionContext: { AppName: 'Other' } }, expected: 'implicitDeny' },
  { page: 'conditions-kms#encryption-context', name: 'no encryption context', policy: encryptionContext, principal: role('RoleForExampleApp'), action: 'kms:GenerateDataKey', expected: 'implicitDeny' },
  { page: 'conditions-kms#encryption-context-keys', name: 'ForAnyValue: a context with AppName and more', policy: contextKeysAny, principal: role('RoleForExampleApp'), action: 'kms:GenerateDataKey', context: { encryptionContext: { AppName: 'x', Owner: 'y' } }, expected: 'allow' },
  { page: 'conditions-kms#encryption-context-keys', name: 'ForAnyValue: no AppName', policy: contextKeysAny, principal: role('RoleForExampleApp'), action: 'kms:GenerateDataKey', context: { encryptionContext: { Owner: 'y' } }, expected: 'implicitDeny' },
  { page: 'conditions-kms#encryption-context-keys', name: 'ForAllValues: only AppName and FilePath', policy: contextKeysAll, principal: role('RoleForExampleApp'), action: 'kms:GenerateDataKey', context: { encryptionContext: { AppName: 'x', FilePath: '/a' } }, expected: 'allow' },
  { page: 'conditions-kms#encryption-context-keys', name: 'ForAllValues: an extra key', policy: contextKeysAll, principal: role('RoleForExampleApp'), action: 'kms:GenerateDataKey', context: { encryptionContext: { AppName: 'x', Owner: 'y' } }, expected: 'implicitDeny' },
  { page: 'conditions-kms#encryption-context-keys', name: 'ForAllValues with Null false: an empty context is refused', policy: contextKeysAll, principal: role('RoleForExampleApp'), action: 'kms:GenerateDataKey', expected: 'implicitDeny' },
  { page: 'conditions-kms#request-alias', name: 'named by alias/finance-key', policy: requestAlias, principal: role('FinanceRole'), action: 'kms:Encrypt', context: { requestAlias: 'alias/finance-key' }, expected: 'allow' },
  { page: 'conditions-kms#request-alias', name: 'named by key ARN', policy: requestAlias, principal: role('FinanceRole'), action: 'kms:Encrypt', expected: 'implicitDeny' },
  { page: 'alias-authorization', name: 'all aliases include Test', policy: resourceAliases, principal: root(A), action: 'kms:DisableKey', context: { resourceAliases: ['alias/Test-1', 'alias/ProjectTest'] }, expected: 'allow' },
  { page: 'alias-authorization', name: 'one alias without Test', policy: resourceAliases, principal: root(A), action: 'kms:DisableKey', context: { resourceAliases: ['alias/Test-1', 'alias/prod'] }, expected: 'implicitDeny' },
  { page: 'alias-authorization', name: 'no alias at all (the ForAnyValue condition)', policy: resourceAliases, principal: root(A), action: 'kms:EnableKey', context: { resourceAliases: [] }, expected: 'implicitDeny' },
  { page: 'tag-authorization', name: 'tagged Project=Alpha', policy: resourceTag, principal: root(A), action: 'kms:Decrypt', context: { resourceTags: { Project: 'Alpha' } }, expected: 'allow' },
  { page: 'tag-authorization', name: 'tagged Project=Beta', policy: resourceTag, principal: root(A), action: 'kms:Decrypt', context: { resourceTags: { Project: 'Beta' } }, expected: 'implicitDeny' },
  { page: 'tag-authorization', name: 'untagged', policy: resourceTag, principal: root(A), action: 'kms:Decrypt', context: { resourceTags: {} }, expected: 'implicitDeny' },
  { page: 'tag-permissions', name: 'the Purpose tag may not be set', policy: tagKeys, principal: root(A), action: 'kms:TagResource', context: { tagKeys: ['Purpose', 'Owner'], requestTags: { Purpose: 'Test', Owner: 'x' } }, expected: 'deny' },
  { page: 'tag-permissions', name: 'the Purpose tag may not be removed', policy: tagKeys, principal: root(A), action: 'kms:UntagResource', context: { tagKeys: ['Purpose'] }, expected: 'deny' },
  { page: 'tag-permissions', name: 'other tags may be set', policy: tagKeys, principal: root(A), action: 'kms:TagResource', context: { tagKeys: ['Owner'], requestTags: { Owner: 'x' } }, expected: 'allow' },
  { page: 'tag-permissions', name: 'aws:RequestTag: a listed Cost-center', policy: requestTag, principal: root(A), action: 'kms:TagResource', context: { tagKeys: ['Cost-center'], requestTags: { 'Cost-center': 'CC-1234' } }, expected: 'allow' },
  { page: 'tag-permissions', name: 'aws:RequestTag: another Cost-center', policy: requestTag, principal: root(A), action: 'kms:TagResource', context: { tagKeys: ['Cost-center'], requestTags: { 'Cost-center': 'CC-9' } }, expected: 'implicitDeny' },
  { page: 'conditions-kms#key-spec', name: 'Sign with an RSA key', policy: keySpecOnly, principal: root(A), action: 'kms:Sign', key: { keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' }, expected: 'allow' },
  { page: 'conditions-kms#key-spec', name: 'Sign with an ECC key', policy: keySpecOnly, principal: root(A), action: 'kms:Sign', key: { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' }, expected: 'implicitDeny' },
  { page: 'conditions-kms#key-usage', name: 'Deny on a signing key', policy: keyUsageDeny, principal: root(A), action: 'kms:DescribeKey', key: { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' }, expected: 'deny' },
  { page: 'conditions-kms#key-usage', name: 'not on an encryption key', policy: keyUsageDeny, principal: root(A), action: 'kms:DescribeKey', expected: 'allow' },
  { page: 'conditions-kms#key-origin', name: 'origin AWS_KMS', policy: keyOrigin, principal: root(A), action: 'kms:GenerateDataKey', expected: 'allow' },
  { page: 'conditions-kms#key-origin', name: 'imported material', policy: keyOrigin, principal: root(A), action: 'kms:GenerateDataKey', key: { origin: 'EXTERNAL' }, expected: 'implicitDeny' },
  { page: 'conditions-kms#multi-region', name: 'a single-Region key', policy: multiRegion, principal: root(A), action: 'kms:Encrypt', expected: 'allow' },
  { page: 'conditions-kms#multi-region', name: 'a multi-Region key', policy: multiRegion, principal: root(A), action: 'kms:Encrypt', key: { multiRegion: true }, expected: 'implicitDeny' },
  { page: 'conditions-kms#encryption-algorithm', name: 'Deny RSAES_OAEP_SHA_1', policy: encryptionAlgorithm, principal: root(A), action: 'kms:Decrypt', key: { keySpec: 'RSA_2048' }, context: { encryptionAlgorithm: 'RSAES_OAEP_SHA_1' }, expected: 'deny' },
  { page: 'conditions-kms#encryption-algorithm', name: 'RSAES_OAEP_SHA_256 allowed', policy: encryptionAlgorithm, principal: root(A), action: 'kms:Decrypt', key: { keySpec: 'RSA_2048' }, context: { encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }, expected: 'allow' },
  { page: 'conditions-kms#signing-algorithm', name: 'PSS', policy: signingAlgorithm, principal: root(A), action: 'kms:Sign', context: { signingAlgorithm: 'RSASSA_PSS_SHA_256' }, expected: 'allow' },
  { page: 'conditions-kms#signing-algorithm', name: 'PKCS1 v1.5', policy: signingAlgorithm, principal: root(A), action: 'kms:Sign', context: { signingAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }, expected: 'implicitDeny' },
  { page: 'conditions-kms#mac-algorithm', name: 'HMAC_SHA_512', policy: macAlgorithm, principal: root(A), action: 'kms:VerifyMac', context: { macAlgorithm: 'HMAC_SHA_512' }, expected: 'allow' },
  { page: 'conditions-kms#mac-algorithm', name: 'HMAC_SHA_256', policy: macAlgorithm, principal: root(A), action: 'kms:GenerateMac', context: { macAlgorithm: 'HMAC_SHA_256' }, expected: 'implicitDeny' },
  { page: 'conditions-kms#rotation-period-in-days', name: '180 days', policy: rotationPeriod, principal: role('KeyAdminRole'), action: 'kms:EnableKeyRotation', context: { rotationPeriodInDays: 180 }, expected: 'allow' },
  { page: 'conditions-kms#rotation-period-in-days', name: '365 days', policy: rotationPeriod, principal: role('KeyAdminRole'), action: 'kms:EnableKeyRotation', context: { rotationPeriodInDays: 365 }, expected: 'implicitDeny' },
  { page: 'conditions-kms#schedule-key-deletion-pending-window-in-days', name: '7 days: denied', policy: pendingWindow, principal: role('KMSAdminRole'), action: 'kms:ScheduleKeyDeletion', context: { pendingWindowInDays: 7 }, expected: 'deny' },
  { page: 'conditions-kms#schedule-key-deletion-pending-window-in-days', name: '30 days', policy: pendingWindow, principal: role('KMSAdminRole'), action: 'kms:ScheduleKeyDeletion', context: { pendingWindowInDays: 30 }, expected: 'allow' },
  { page: 'conditions-kms#data-key-pair-spec', name: 'RSA_3072 pair', policy: dataKeyPairSpec, principal: root(A), action: 'kms:GenerateDataKeyPairWithoutPlaintext', context: { dataKeyPairSpec: 'RSA_3072' }, expected: 'allow' },
  { page: 'conditions-kms#data-key-pair-spec', name: 'ECC pair', policy: dataKeyPairSpec, principal: root(A), action: 'kms:GenerateDataKeyPair', context: { dataKeyPairSpec: 'ECC_NIST_P256' }, expected: 'implicitDeny' },
  { page: 'conditions-kms#wrapping-algorithm', name: 'RSAES_OAEP_SHA_256', policy: wrappingAlgorithm, principal: root(A), action: 'kms:GetParametersForImport', key: { origin: 'EXTERNAL' }, context: { wrappingAlgorithm: 'RSAES_OAEP_SHA_256' }, expected: 'allow' },
  { page: 'conditions-kms#wrapping-algorithm', name: 'RSAES_PKCS1_V1_5', policy: wrappingAlgorithm, principal: root(A), action: 'kms:GetParametersForImport', key: { origin: 'EXTERNAL' }, context: { wrappingAlgorithm: 'RSAES_PKCS1_V1_5' }, expected: 'implicitDeny' },
  { page: 'conditions-kms#expiration-model', name: 'material that expires', policy: expirationModel, principal: root(A), action: 'kms:ImportKeyMaterial', key: { origin: 'EXTERNAL' }, context: { expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: new Date('2018-12-01T00:00:00Z') }, expected: 'allow' },
  { page: 'conditions-kms#expiration-model', name: 'material that does not expire', policy: expirationModel, principal: root(A), action: 'kms:ImportKeyMaterial', key: { origin: 'EXTERNAL' }, context: { expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }, expected: 'implicitDeny' },
  { page: 'conditions-kms#valid-to', name: 'expires before 2018-12-31T11:59:59Z', policy: validTo, principal: root(A), action: 'kms:ImportKeyMaterial', key: { origin: 'EXTERNAL' }, context: { expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: new Date('2018-12-01T00:00:00Z') }, expected: 'allow' },
  { page: 'conditions-kms#valid-to', name: 'expires later', policy: validTo, principal: root(A), action: 'kms:ImportKeyMaterial', key: { origin: 'EXTERNAL' }, context: { expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: new Date('2019-06-01T00:00:00Z') }, expected: 'implicitDeny' },
  { page: 'conditions-kms#valid-to', name: 'no expiry: kms:ValidTo absent', policy: validTo, principal: root(A), action: 'kms:ImportKeyMaterial', key: { origin: 'EXTERNAL' }, context: { expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }, expected: 'implicitDeny' },
  { page: 'conditions-aws (aws:SourceIp)', name: 'from inside the network', policy: sourceIp, principal: root(A), action: 'kms:Encrypt', context: { sourceIp: '203.0.113.7' }, expected: 'allow' },
  { page: 'conditions-aws (aws:SourceIp)', name: 'from outside: explicit deny', policy: sourceIp, principal: root(A), action: 'kms:Encrypt', context: { sourceIp: '198.51.100.1' }, expected: 'deny' },
  { page: 'conditions-aws (aws:SourceIp)', name: 'an IPv4 client on a dual-stack socket', policy: sourceIp, principal: root(A), action: 'kms:Encrypt', context: { sourceIp: '::ffff:192.0.2.9' }, expected: 'allow' },
  { page: 'IAM condition-keys#aws:SecureTransport', name: 'over TLS', policy: secureTransport, principal: root(A), action: 'kms:Decrypt', context: { secureTransport: true }, expected: 'allow' },
  { page: 'IAM condition-keys#aws:SecureTransport', name: 'over plain HTTP', policy: secureTransport, principal: root(A), action: 'kms:Decrypt', context: { secureTransport: false }, expected: 'deny' },
  { page: 'conditions-aws (aws:PrincipalArn)', name: 'the decrypting role', policy: principalArnDeny, principal: role('DecryptRole'), action: 'kms:Decrypt', expected: 'allow' },
  { page: 'conditions-aws (aws:PrincipalArn)', name: 'explicit deny wins over the account statement for the root', policy: principalArnDeny, principal: root(A), action: 'kms:Decrypt', expected: 'deny' },
  { page: 'IAM reference_policies_variables', name: "${aws:username}: Alice's own context", policy: policyVariable, principal: user('Alice'), action: 'kms:Decrypt', context: { encryptionContext: { owner: 'Alice' } }, expected: 'allow' },
  { page: 'IAM reference_policies_variables', name: "${aws:username}: Bob with Alice's context", policy: policyVariable, principal: user('Bob'), action: 'kms:Decrypt', context: { encryptionContext: { owner: 'Alice' } }, expected: 'implicitDeny' },
  { page: 'concepts#aws-managed-key', name: 'AWS managed key: through EC2 by the account', policy: awsManaged, principal: user('Alice'), action: 'kms:ReEncryptTo', context: { viaService: `ec2.${REGION}.amazonaws.com` }, expected: 'allow' },
  { page: 'concepts#aws-managed-key', name: 'AWS managed key: GetKeyPolicy directly', policy: awsManaged, principal: root(A), action: 'kms:GetKeyPolicy', expected: 'allow' },
  { page: 'concepts#aws-managed-key', name: 'AWS managed key: Encrypt directly', policy: awsManaged, principal: root(A), action: 'kms:Encrypt', expected: 'implicitDeny' },
  { page: 'concepts#aws-managed-key', name: 'AWS managed key: no management, even by the root', policy: awsManaged, principal: root(A), action: 'kms:PutKeyPolicy', expected: 'implicitDeny' },
];

const baseKey: KeyRecord = {
  account: A, region: REGION, keyId: KEY_ID, arn: KEY_ARN, creationDate: new Date(0), description: '', keyUsage: 'ENCRYPT_DECRYPT',
  keySpec: 'SYMMETRIC_DEFAULT', origin: 'AWS_KMS', keyManager: 'CUSTOMER', keyState: 'Enabled', multiRegion: false, policy: '', version: 1,
};

const authorizer = new KeyPolicyAuthorizer({ now: () => new Date('2026-01-01T00:00:00Z') });

/** The decision, read from what authorize() does: returns (allow) or throws AccessDeniedException (explicit or not). */
function decide(e: Example): Decision {
  const key: KeyRecord = { ...baseKey, ...e.key, policy: typeof e.policy === 'string' ? e.policy : JSON.stringify(e.policy) };
  const account = /^arn:aws:iam::(\d{12}):/.exec(e.principal)![1]!;
  try {
    authorizer.authorize({ account, principalArn: e.principal, accessKeyId: 'AKIDEXAMPLE' }, e.action, key, e.context);
    return 'allow';
  } catch (err) {
    if (!(err instanceof KmsError) || err.name !== 'AccessDeniedException') throw err;
    return err.message.includes('with an explicit deny') ? 'deny' : 'implicitDeny';
  }
}

describe('policy examples from the AWS KMS Developer Guide, through KeyPolicyAuthorizer', () => {
  for (const e of EXAMPLES) {
    it(`${e.page}: ${e.name} → ${e.expected}`, () => assert.equal(decide(e), e.expected));
  }

  it('asks for the key aliases and tags only when the policy tests them', () => {
    const rootCaller = { account: A, principalArn: root(A), accessKeyId: 'AKIDEXAMPLE' };
    const key = (p: object | string): KeyRecord => ({ ...baseKey, policy: typeof p === 'string' ? p : JSON.stringify(p) });
    assert.deepEqual(authorizer.resourceConditionNeeds(rootCaller, key(defaultPolicy)), { aliases: false, tags: false });
    assert.deepEqual(authorizer.resourceConditionNeeds(rootCaller, key(resourceAliases)), { aliases: true, tags: false });
    assert.deepEqual(authorizer.resourceConditionNeeds(rootCaller, key(resourceTag)), { aliases: false, tags: true });
    assert.deepEqual(authorizer.resourceConditionNeeds(rootCaller, key(encryptionContext)), { aliases: false, tags: false });
  });
});
