// Key policies end to end: two accounts in dev mode (a 12-digit access key id selects the account), the real SDK.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, GetKeyPolicyCommand,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms';
import { devAccounts } from '../helpers/server.js';

const A = '111111111111';
const B = '222222222222';

const failsWith = (name: string, message?: string) => (err: Error) => {
  assert.equal(err.name, name, err.message);
  if (message !== undefined) assert.equal(err.message, message);
  return true;
};

const adminStatement = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' };

describe('key policies (two accounts, dev mode)', () => {
  const env = devAccounts(A, B);

  const newKey = async (): Promise<string> => (await env.a.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;

  it("denies account B the use of A's key under the default policy", async () => {
    const arn = await newKey();
    await assert.rejects(
      env.b.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })),
      failsWith('AccessDeniedException', `User: arn:aws:iam::${B}:root is not authorized to perform: kms:Encrypt on resource: ${arn} because no resource-based policy allows the kms:Encrypt action`),
    );
    await assert.rejects(env.b.send(new DescribeKeyCommand({ KeyId: arn })), failsWith('AccessDeniedException'));
  });

  it("lets B Encrypt and Decrypt with A's key once A's policy allows it, and nothing else", async () => {
    const arn = await newKey();
    const policy = {
      Version: '2012-10-17',
      Statement: [
        adminStatement,
        { Sid: 'Allow B to use the key', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*' },
      ],
    };
    await env.a.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: JSON.stringify(policy) }));
    const enc = await env.b.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('shared') }));
    assert.equal(enc.KeyId, arn);
    const dec = await env.b.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'shared');
    // A's own use is unchanged.
    assert.equal(Buffer.from((await env.a.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString(), 'shared');
    await assert.rejects(
      env.b.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' })),
      failsWith('AccessDeniedException', `User: arn:aws:iam::${B}:root is not authorized to perform: kms:GenerateDataKey on resource: ${arn} because no resource-based policy allows the kms:GenerateDataKey action`),
    );
    await assert.rejects(env.b.send(new DescribeKeyCommand({ KeyId: arn })), failsWith('AccessDeniedException'));
  });

  it('an explicit Deny on an encryption context denies the key\'s own account, for that context only', async () => {
    const arn = await newKey();
    const policy = {
      Version: '2012-10-17',
      Statement: [
        adminStatement,
        { Sid: 'No secret project', Effect: 'Deny', Principal: '*', Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:project': 'secret' } } },
      ],
    };
    await env.a.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: JSON.stringify(policy) }));
    await assert.rejects(
      env.a.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x'), EncryptionContext: { project: 'secret' } })),
      failsWith('AccessDeniedException', `User: arn:aws:iam::${A}:root is not authorized to perform: kms:Encrypt on resource: ${arn} with an explicit deny in a resource-based policy`),
    );
    const enc = await env.a.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x'), EncryptionContext: { project: 'open' } }));
    await env.a.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { project: 'open' } }));
    await env.a.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }));
  });

  it('refuses a policy that would lock the caller out, unless BypassPolicyLockoutSafetyCheck', async () => {
    const arn = await newKey();
    const lockout = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*' }] });
    await assert.rejects(
      env.a.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: lockout })),
      failsWith('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.'),
    );
    const before = (await env.a.send(new GetKeyPolicyCommand({ KeyId: arn }))).Policy!;
    assert.match(before, /Enable IAM User Permissions/, 'the refused policy was not stored');
    await assert.rejects(
      env.a.send(new CreateKeyCommand({ Policy: lockout })),
      failsWith('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.'),
    );
    await env.a.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: lockout, BypassPolicyLockoutSafetyCheck: true }));
    await env.a.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('still usable') }));
    await assert.rejects(env.a.send(new GetKeyPolicyCommand({ KeyId: arn })), failsWith('AccessDeniedException'));
    await assert.rejects(env.a.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: JSON.stringify({ Statement: [adminStatement] }) })), failsWith('AccessDeniedException'));
  });

  it('refuses a policy over 32 KiB', async () => {
    const arn = await newKey();
    const big = JSON.stringify({ Version: '2012-10-17', Statement: [{ ...adminStatement, Sid: 'x'.repeat(33_000) }] });
    await assert.rejects(env.a.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: big })), failsWith('LimitExceededException'));
  });
});
