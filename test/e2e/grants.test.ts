// Grants end to end: two accounts in dev mode (a 12-digit access key id selects the account), the real SDK.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateGrantCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand,
  ListGrantsCommand, type ListGrantsCommandOutput, ListRetirableGrantsCommand, PutKeyPolicyCommand, ReEncryptCommand, RetireGrantCommand, RevokeGrantCommand, ScheduleKeyDeletionCommand, SignCommand,
} from '@aws-sdk/client-kms';
import { devAccounts } from '../helpers/server.js';
import { errorName } from '../helpers/poll.js';

const A = '111111111111';
const B = '222222222222';
const rootOf = (account: string) => `arn:aws:iam::${account}:root`;

describe('grants (two accounts, dev mode)', () => {
  const env = devAccounts(A, B);

  const newKey = async (): Promise<string> => (await env.a.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  const encryptAsB = (arn: string, ctx?: Record<string, string>, tokens?: string[]) =>
    env.b.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x'), EncryptionContext: ctx, GrantTokens: tokens }));

  it("lets account B use A's key through a grant, and no longer once it is retired", async () => {
    const arn = await newKey();
    assert.equal(await errorName(encryptAsB(arn)), 'AccessDeniedException');
    const { GrantId, GrantToken } = await env.a.send(new CreateGrantCommand({
      KeyId: arn, GranteePrincipal: rootOf(B), RetiringPrincipal: rootOf(B), Operations: ['Encrypt', 'Decrypt'],
    }));
    assert.match(GrantId!, /^[0-9a-f]{64}$/);
    assert.ok(GrantToken);
    const enc = await encryptAsB(arn);
    const dec = await env.b.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'x');
    // Only the granted operations.
    assert.equal(await errorName(env.b.send(new DescribeKeyCommand({ KeyId: arn }))), 'AccessDeniedException');
    assert.equal(await errorName(env.b.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }))), 'AccessDeniedException');

    const listed = await env.a.send(new ListGrantsCommand({ KeyId: arn }));
    assert.equal(listed.Grants!.length, 1);
    const g = listed.Grants![0]!;
    assert.equal(g.KeyId, arn);
    assert.equal(g.GrantId, GrantId);
    assert.equal(g.GranteePrincipal, rootOf(B));
    assert.equal(g.RetiringPrincipal, rootOf(B));
    assert.equal(g.IssuingAccount, rootOf(A));
    assert.deepEqual(g.Operations, ['Decrypt', 'Encrypt']);
    assert.ok(g.CreationDate instanceof Date);

    // B, the retiring principal, retires it with the token.
    await env.b.send(new RetireGrantCommand({ GrantToken }));
    assert.equal(await errorName(encryptAsB(arn)), 'AccessDeniedException');
    assert.deepEqual((await env.a.send(new ListGrantsCommand({ KeyId: arn }))).Grants, []);
  });

  it('honours a grant token at once and refuses a forged one', async () => {
    const arn = await newKey();
    const { GrantToken } = await env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['GenerateDataKey'] }));
    const dk = await env.b.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', GrantTokens: [GrantToken!] }));
    assert.equal(dk.KeyId, arn);
    const forged = GrantToken!.slice(0, -4) + (GrantToken!.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.equal(await errorName(env.b.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', GrantTokens: [forged] }))), 'InvalidGrantTokenException');
  });

  it('applies an EncryptionContextSubset constraint (keys case-insensitive, values exact)', async () => {
    const arn = await newKey();
    await env.a.send(new CreateGrantCommand({
      KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { Department: 'IT' } },
    }));
    const enc = await encryptAsB(arn, { department: 'IT', project: 'x' });
    await env.b.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { department: 'IT', project: 'x' } }));
    assert.equal(await errorName(encryptAsB(arn, { Department: 'it' })), 'AccessDeniedException');
    assert.equal(await errorName(encryptAsB(arn)), 'AccessDeniedException');
  });

  it('applies an EncryptionContextEquals constraint exactly', async () => {
    const arn = await newKey();
    await env.a.send(new CreateGrantCommand({
      KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt'], Constraints: { EncryptionContextEquals: { app: 'one' } },
    }));
    await encryptAsB(arn, { app: 'one' });
    assert.equal(await errorName(encryptAsB(arn, { app: 'one', extra: 'y' })), 'AccessDeniedException');
  });

  it('revokes a grant (kms:RevokeGrant on the key) and answers NotFound for it afterwards', async () => {
    const arn = await newKey();
    const { GrantId } = await env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt'] }));
    await encryptAsB(arn);
    assert.equal(await errorName(env.b.send(new RevokeGrantCommand({ KeyId: arn, GrantId }))), 'AccessDeniedException');
    assert.equal(await errorName(env.a.send(new RevokeGrantCommand({ KeyId: arn, GrantId, DryRun: true }))), 'DryRunOperationException');
    await encryptAsB(arn);
    await env.a.send(new RevokeGrantCommand({ KeyId: arn, GrantId }));
    assert.equal(await errorName(encryptAsB(arn)), 'AccessDeniedException');
    assert.equal(await errorName(env.a.send(new RevokeGrantCommand({ KeyId: arn, GrantId }))), 'NotFoundException');
    assert.equal(await errorName(env.a.send(new RevokeGrantCommand({ KeyId: arn, GrantId: 'nope' }))), 'InvalidGrantIdException');
  });

  it('validates CreateGrant as AWS does', async () => {
    const arn = await newKey();
    const create = (over: Record<string, unknown>) =>
      env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt'], ...over }));
    assert.equal(await errorName(create({ Operations: ['Sign'] })), 'ValidationException');
    assert.equal(await errorName(create({ GranteePrincipal: 'not-an-arn' })), 'InvalidArnException');
    assert.equal(await errorName(create({ RetiringPrincipal: 'arn:aws:iam::12:root' })), 'InvalidArnException');
    assert.equal(await errorName(create({ Constraints: { EncryptionContextEquals: { a: '1' }, EncryptionContextSubset: { a: '1' } } })), 'ValidationException');
    assert.equal(await errorName(create({ Operations: ['DescribeKey'], Constraints: { EncryptionContextEquals: { a: '1' } } })), 'ValidationException');
    assert.equal(await errorName(create({ Name: 'bad name!' })), 'ValidationException');
    assert.equal(await errorName(create({ DryRun: true })), 'DryRunOperationException');
    assert.deepEqual((await env.a.send(new ListGrantsCommand({ KeyId: arn }))).Grants, []);
    const signing = (await env.a.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.Arn!;
    assert.equal(await errorName(env.a.send(new CreateGrantCommand({ KeyId: signing, GranteePrincipal: rootOf(B), Operations: ['Encrypt'] }))), 'ValidationException');
    await env.a.send(new CreateGrantCommand({ KeyId: signing, GranteePrincipal: rootOf(B), Operations: ['Sign', 'GetPublicKey'] }));
    const sig = await env.b.send(new SignCommand({ KeyId: signing, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
    assert.ok(sig.Signature);
    // B may not grant on A's key without kms:CreateGrant.
    assert.equal(await errorName(env.b.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt'] }))), 'AccessDeniedException');
  });

  it('returns the same grant id for a retry with the same Name and parameters, a new one otherwise', async () => {
    const arn = await newKey();
    const params = { KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt' as const, 'Decrypt' as const], Name: 'retry-me' };
    const first = await env.a.send(new CreateGrantCommand(params));
    const again = await env.a.send(new CreateGrantCommand({ ...params, Operations: ['Decrypt', 'Encrypt'] }));
    assert.equal(again.GrantId, first.GrantId);
    assert.notEqual(again.GrantToken, first.GrantToken);
    const other = await env.a.send(new CreateGrantCommand({ ...params, Operations: ['Encrypt'] }));
    assert.notEqual(other.GrantId, first.GrantId);
    assert.equal((await env.a.send(new ListGrantsCommand({ KeyId: arn }))).Grants!.length, 2);
  });

  it('lets a grantee with CreateGrant make narrower grants only', async () => {
    const arn = await newKey();
    await env.a.send(new CreateGrantCommand({
      KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt', 'Decrypt', 'CreateGrant'], Constraints: { EncryptionContextSubset: { t: '1' } },
    }));
    const C = '333333333333';
    const grantAsB = (ops: ('Encrypt' | 'Decrypt' | 'Sign' | 'CreateGrant' | 'GenerateDataKey')[], constraints?: Record<string, Record<string, string>>) =>
      env.b.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(C), Operations: ops, Constraints: constraints }));
    assert.equal(await errorName(grantAsB(['Decrypt'])), 'AccessDeniedException'); // no constraint: looser
    assert.equal(await errorName(grantAsB(['GenerateDataKey'], { EncryptionContextSubset: { t: '1' } })), 'AccessDeniedException');
    const { GrantId } = await grantAsB(['Decrypt'], { EncryptionContextSubset: { t: '1', u: '2' } });
    const grants = (await env.a.send(new ListGrantsCommand({ KeyId: arn, GranteePrincipal: rootOf(C) }))).Grants!;
    assert.deepEqual(grants.map((g) => g.GrantId), [GrantId]);
    assert.deepEqual(grants[0]!.Constraints, { EncryptionContextSubset: { t: '1', u: '2' } });
  });

  it('pages ListGrants and ListRetirableGrants, filters by grant id', async () => {
    const arn = await newKey();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), RetiringPrincipal: `arn:aws:iam::${B}:role/retirer`, Operations: ['Encrypt'] }))).GrantId!);
    }
    const seen: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const page: ListGrantsCommandOutput = await env.a.send(new ListGrantsCommand({ KeyId: arn, Limit: 2, Marker: marker }));
      seen.push(...page.Grants!.map((g) => g.GrantId!));
      if (!page.Truncated) break;
      marker = page.NextMarker;
    }
    assert.deepEqual(seen, [...ids].sort());
    assert.deepEqual((await env.a.send(new ListGrantsCommand({ KeyId: arn, GrantId: ids[3] }))).Grants!.map((g) => g.GrantId), [ids[3]]);
    assert.equal(await errorName(env.a.send(new ListGrantsCommand({ KeyId: arn, Marker: 'bogus' }))), 'InvalidMarkerException');

    const retirable: string[] = [];
    marker = undefined;
    for (;;) {
      const page: ListGrantsCommandOutput = await env.b.send(new ListRetirableGrantsCommand({ RetiringPrincipal: `arn:aws:iam::${B}:role/retirer`, Limit: 3, Marker: marker }));
      retirable.push(...page.Grants!.map((g) => g.GrantId!));
      if (!page.Truncated) break;
      marker = page.NextMarker;
    }
    assert.deepEqual(retirable, [...ids].sort());
    // Only for principals of the caller's account.
    assert.equal(await errorName(env.a.send(new ListRetirableGrantsCommand({ RetiringPrincipal: `arn:aws:iam::${B}:role/retirer` }))), 'AccessDeniedException');
  });

  it('retires by key and grant id: the key owner may, a stranger may not', async () => {
    const arn = await newKey();
    const { GrantId } = await env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt'] }));
    // B is the grantee but the grant does not include RetireGrant, and B is not the retiring principal.
    assert.equal(await errorName(env.b.send(new RetireGrantCommand({ KeyId: arn, GrantId }))), 'AccessDeniedException');
    assert.equal(await errorName(env.a.send(new RetireGrantCommand({ KeyId: arn, GrantId, DryRun: true }))), 'DryRunOperationException');
    await env.a.send(new RetireGrantCommand({ KeyId: arn, GrantId }));
    assert.equal(await errorName(env.a.send(new RetireGrantCommand({ KeyId: arn, GrantId }))), 'NotFoundException');
    const { GrantId: g2 } = await env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt', 'RetireGrant'] }));
    await env.b.send(new RetireGrantCommand({ KeyId: arn, GrantId: g2 }));
  });

  it('enforces 500 grants per grantee principal per key (LimitExceededException)', async () => {
    const arn = await newKey();
    for (let i = 0; i < 500; i += 50) {
      await Promise.all(Array.from({ length: 50 }, () => env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt'] }))));
    }
    assert.equal(await errorName(env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt'] }))), 'LimitExceededException');
    // Another grantee still gets grants on the key.
    await env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf('333333333333'), Operations: ['Encrypt'] }));
  });

  it('evaluates the grant condition keys of CreateGrant in the key policy (another account creating grants)', async () => {
    const arn = await newKey();
    const app = `arn:aws:iam::${B}:role/app`;
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'admin', Effect: 'Allow', Principal: { AWS: rootOf(A) }, Action: 'kms:*', Resource: '*' },
        {
          Sid: 'B may grant Encrypt/Decrypt with a context constraint to its app role',
          Effect: 'Allow', Principal: { AWS: rootOf(B) }, Action: 'kms:CreateGrant', Resource: '*',
          Condition: {
            'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Encrypt', 'Decrypt'] },
            StringEquals: { 'kms:GranteePrincipal': app, 'kms:GrantConstraintType': 'EncryptionContextSubset' },
            Bool: { 'kms:GrantIsForAWSResource': 'false' },
          },
        },
      ],
    };
    await env.a.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: JSON.stringify(policy) }));
    const grantAsB = (over: Record<string, unknown>) => env.b.send(new CreateGrantCommand({
      KeyId: arn, GranteePrincipal: app, Operations: ['Encrypt'], Constraints: { EncryptionContextSubset: { t: '1' } }, ...over,
    }));
    const { GrantId } = await grantAsB({});
    assert.match(GrantId!, /^[0-9a-f]{64}$/);
    assert.equal(await errorName(grantAsB({ Operations: ['Encrypt', 'GenerateDataKey'] })), 'AccessDeniedException');
    assert.equal(await errorName(grantAsB({ GranteePrincipal: `arn:aws:iam::${B}:role/other` })), 'AccessDeniedException');
    assert.equal(await errorName(grantAsB({ Constraints: { EncryptionContextEquals: { t: '1' } } })), 'AccessDeniedException');
    assert.equal(await errorName(grantAsB({ Constraints: undefined })), 'AccessDeniedException');
  });

  it('allows ReEncrypt through ReEncryptFrom on the source key and ReEncryptTo on the destination key', async () => {
    const source = await newKey();
    const destination = await newKey();
    const ciphertext = (await env.a.send(new EncryptCommand({ KeyId: source, Plaintext: Buffer.from('move me') }))).CiphertextBlob;
    await env.a.send(new CreateGrantCommand({ KeyId: source, GranteePrincipal: rootOf(B), Operations: ['ReEncryptFrom'] }));
    const reEncrypt = () => env.b.send(new ReEncryptCommand({ CiphertextBlob: ciphertext, DestinationKeyId: destination }));
    assert.equal(await errorName(reEncrypt()), 'AccessDeniedException');
    const { GrantToken } = await env.a.send(new CreateGrantCommand({ KeyId: destination, GranteePrincipal: rootOf(B), Operations: ['ReEncryptTo', 'DescribeKey'] }));
    const moved = await reEncrypt();
    assert.equal(moved.KeyId, destination);
    assert.equal(moved.SourceKeyId, source);
    assert.equal((await env.b.send(new DescribeKeyCommand({ KeyId: destination, GrantTokens: [GrantToken!] }))).KeyMetadata!.Arn, destination);
    const back = await env.a.send(new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob }));
    assert.equal(Buffer.from(back.Plaintext!).toString(), 'move me');
  });

  it('deletes the grants of a deleted key and refuses CreateGrant on a key pending deletion', async () => {
    const arn = await newKey();
    await env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt'] }));
    await env.a.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }));
    assert.equal(await errorName(env.a.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: rootOf(B), Operations: ['Encrypt'] }))), 'KMSInvalidStateException');
    // ListGrants works in every state.
    assert.equal((await env.a.send(new ListGrantsCommand({ KeyId: arn }))).Grants!.length, 1);
  });
});
