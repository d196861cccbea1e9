// Multi-Region keys end to end (issue #13): a real Trent process (SQLite) and @aws-sdk/client-kms, one client per Region.
// Transitions (Creating, Updating) last 60 s on this server, so a test sees them for certain; the dev clock (POST
// /_trent/dev/clock, which runs the due jobs) completes them. A second server with a short transition shows that the
// node that made the change completes it by itself.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CancelKeyDeletionCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EnableKeyCommand, EncryptCommand,
  DisableKeyRotationCommand, EnableKeyRotationCommand, GenerateMacCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand, ListKeyRotationsCommand,
  RotateKeyOnDemandCommand, UpdatePrimaryRegionCommand, GetPublicKeyCommand, KMSClient, ListKeysCommand, ListResourceTagsCommand, ReEncryptCommand,
  ReplicateKeyCommand, ScheduleKeyDeletionCommand, SignCommand, VerifyCommand, VerifyMacCommand, type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { createPublicKey, randomBytes } from 'node:crypto';
import { GetParametersForImportCommand, ImportKeyMaterialCommand } from '@aws-sdk/client-kms';
import { wrapForImport } from '../../src/crypto/key-import.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { failure, within } from '../helpers/poll.js';

const ACCOUNT = '111122223333';
const DAY_S = 86_400;
const arnIn = (region: string, keyId: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;

async function advance(server: TestServer, seconds: number): Promise<void> {
  const res = await fetch(new URL('/_trent/dev/clock', server.url), { method: 'POST', body: JSON.stringify({ advanceSeconds: seconds }) });
  assert.equal(res.status, 200, await res.clone().text());
}


describe('multi-Region keys', () => {
  let server: TestServer;
  let east: KMSClient;
  let west: KMSClient;
  let eu: KMSClient;
  const primaryKey = async (params: { KeySpec?: KeySpec; KeyUsage?: KeyUsageType } = {}) =>
    (await east.send(new CreateKeyCommand({ MultiRegion: true, ...params }))).KeyMetadata!;
  /** Completes every transition (60 s on this server) by moving the clock. */
  const settle = () => advance(server, 61);

  before(async () => {
    server = await startServer({ args: ['--request-log', 'off', '--multi-region-transition-ms', '60000'] });
    east = devClient(server.url, { region: 'us-east-1' });
    west = devClient(server.url, { region: 'us-west-2' });
    eu = devClient(server.url, { region: 'eu-west-1' });
  });
  after(async () => {
    for (const c of [east, west, eu]) c.destroy();
    await server.stop();
  });

  it('CreateKey MultiRegion: an mrk- key id and a PRIMARY configuration; a single-Region key has MultiRegion false and no configuration', async () => {
    const md = await primaryKey();
    assert.match(md.KeyId!, /^mrk-[0-9a-f]{32}$/);
    assert.equal(md.Arn, arnIn('us-east-1', md.KeyId!));
    assert.equal(md.MultiRegion, true);
    assert.deepEqual(md.MultiRegionConfiguration, { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: md.Arn, Region: 'us-east-1' }, ReplicaKeys: [] });
    const described = (await east.send(new DescribeKeyCommand({ KeyId: md.KeyId }))).KeyMetadata!;
    assert.deepEqual(described.MultiRegionConfiguration, md.MultiRegionConfiguration);

    const single = (await east.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.equal(single.MultiRegion, false);
    assert.equal(single.MultiRegionConfiguration, undefined);
    // On the wire: no MultiRegionConfiguration member at all.
    const raw = await fetch(server.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.DescribeKey',
        Authorization: 'AWS4-HMAC-SHA256 Credential=AKIADEVTEST/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00',
      },
      body: JSON.stringify({ KeyId: single.KeyId }),
    });
    const body = (await raw.json()) as { KeyMetadata: Record<string, unknown> };
    assert.equal(body.KeyMetadata.MultiRegion, false);
    assert.equal('MultiRegionConfiguration' in body.KeyMetadata, false);
  });

  it('ReplicateKey: Creating with no material id, its own default policy and empty description; then Enabled with the primary material', async () => {
    const primary = (await east.send(new CreateKeyCommand({ MultiRegion: true, Description: 'the primary' }))).KeyMetadata!;
    const res = await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }));
    const replica = res.ReplicaKeyMetadata!;
    const replicaArn = arnIn('us-west-2', primary.KeyId!);
    assert.equal(replica.Arn, replicaArn);
    assert.equal(replica.KeyId, primary.KeyId);
    assert.equal(replica.KeyState, 'Creating');
    assert.equal(replica.Enabled, false);
    assert.equal(replica.CurrentKeyMaterialId, undefined);
    assert.equal(replica.Description, '');
    assert.equal(replica.MultiRegion, true);
    assert.deepEqual(replica.MultiRegionConfiguration, {
      MultiRegionKeyType: 'REPLICA', PrimaryKey: { Arn: primary.Arn, Region: 'us-east-1' }, ReplicaKeys: [{ Arn: replicaArn, Region: 'us-west-2' }],
    });
    const policy = JSON.parse(res.ReplicaPolicy!) as { Id: string; Statement: { Sid: string; Principal: { AWS: string }; Action: string }[] };
    assert.equal(policy.Id, 'key-default-1');
    assert.deepEqual(policy.Statement.map((s) => [s.Sid, s.Principal.AWS, s.Action]), [['Enable IAM User Permissions', `arn:aws:iam::${ACCOUNT}:root`, 'kms:*']]);
    assert.deepEqual(res.ReplicaTags, []);

    // While Creating: manageable, not usable.
    assert.equal((await west.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!.KeyState, 'Creating');
    const early = await failure(west.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('x') })));
    assert.deepEqual(early, { name: 'KMSInvalidStateException', message: `${replicaArn} is creating.` });

    await settle();
    const after = (await west.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!;
    assert.equal(after.KeyState, 'Enabled');
    assert.equal(after.Enabled, true);
    assert.equal(after.CurrentKeyMaterialId, primary.CurrentKeyMaterialId);
    assert.equal(after.KeySpec, primary.KeySpec);
    assert.equal(after.KeyUsage, primary.KeyUsage);
    assert.equal(after.Origin, primary.Origin);
    assert.equal(after.Description, '');
    const fromPrimary = (await east.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!;
    assert.equal(fromPrimary.Description, 'the primary');
    assert.deepEqual(fromPrimary.MultiRegionConfiguration, {
      MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: primary.Arn, Region: 'us-east-1' }, ReplicaKeys: [{ Arn: replicaArn, Region: 'us-west-2' }],
    });
    // ListKeys in the replica's Region lists it.
    const listed = (await west.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.map((k) => k.KeyArn);
    assert.ok(listed.includes(replicaArn));
  });

  it('encrypts in one Region and decrypts in another under that Region\'s related key, in every direction', async () => {
    const primary = await primaryKey();
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }));
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' }));
    await settle();
    const context = { purpose: 'cross-region' };
    const clients = { 'us-east-1': east, 'us-west-2': west, 'eu-west-1': eu };
    for (const [from, encryptor] of Object.entries(clients)) {
      const blob = (await encryptor.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from(`from ${from}`), EncryptionContext: context }))).CiphertextBlob!;
      for (const [to, decryptor] of Object.entries(clients)) {
        const out = await decryptor.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }));
        assert.equal(Buffer.from(out.Plaintext!).toString(), `from ${from}`, `${from} → ${to}`);
        assert.equal(out.KeyId, arnIn(to, primary.KeyId!));
        assert.equal(out.KeyMaterialId, primary.CurrentKeyMaterialId);
      }
    }
    const blob = (await east.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('named'), EncryptionContext: context }))).CiphertextBlob!;
    // KeyId naming the replica in its Region works; the context still binds; another key is refused.
    const named = await west.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context, KeyId: arnIn('us-west-2', primary.KeyId!) }));
    assert.equal(Buffer.from(named.Plaintext!).toString(), 'named');
    assert.equal((await failure(west.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { purpose: 'other' } })))).name, 'InvalidCiphertextException');
    const other = (await west.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.equal((await failure(west.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context, KeyId: other.KeyId })))).name, 'IncorrectKeyException');
    // ReEncrypt in another Region.
    const re = await eu.send(new ReEncryptCommand({ CiphertextBlob: blob, SourceEncryptionContext: context, DestinationKeyId: primary.KeyId, DestinationEncryptionContext: context }));
    assert.equal(re.SourceKeyId, arnIn('eu-west-1', primary.KeyId!));
    const back = await east.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: context }));
    assert.equal(Buffer.from(back.Plaintext!).toString(), 'named');
    // A single-Region key's ciphertext does not decrypt in another Region.
    const single = (await east.send(new CreateKeyCommand({}))).KeyMetadata!;
    const singleBlob = (await east.send(new EncryptCommand({ KeyId: single.KeyId, Plaintext: Buffer.from('here only') }))).CiphertextBlob!;
    assert.equal((await failure(west.send(new DecryptCommand({ CiphertextBlob: singleBlob })))).name, 'InvalidCiphertextException');
  });

  it('every key spec replicates: signatures, MACs and public keys are the same in every Region', async () => {
    const specs: [KeySpec, KeyUsageType][] = [
      ['RSA_2048', 'SIGN_VERIFY'], ['ECC_NIST_P256', 'SIGN_VERIFY'], ['ECC_NIST_EDWARDS25519', 'SIGN_VERIFY'], ['ML_DSA_44', 'SIGN_VERIFY'],
      ['SM2', 'SIGN_VERIFY'], ['HMAC_256', 'GENERATE_VERIFY_MAC'], ['ECC_NIST_P384', 'KEY_AGREEMENT'],
    ];
    const made = [];
    for (const [spec, usage] of specs) {
      const md = await primaryKey({ KeySpec: spec, KeyUsage: usage });
      assert.match(md.KeyId!, /^mrk-/);
      await east.send(new ReplicateKeyCommand({ KeyId: md.KeyId, ReplicaRegion: 'us-west-2' }));
      made.push({ md, spec, usage });
    }
    await settle();
    for (const { md, spec, usage } of made) {
      const message = Buffer.from(`signed under ${spec}`);
      if (usage === 'SIGN_VERIFY') {
        const algorithm = md.SigningAlgorithms![0]!;
        const sig = (await east.send(new SignCommand({ KeyId: md.KeyId, Message: message, SigningAlgorithm: algorithm }))).Signature!;
        assert.equal((await west.send(new VerifyCommand({ KeyId: md.KeyId, Message: message, Signature: sig, SigningAlgorithm: algorithm }))).SignatureValid, true, spec);
      }
      if (usage === 'GENERATE_VERIFY_MAC') {
        const mac = (await west.send(new GenerateMacCommand({ KeyId: md.KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' }))).Mac!;
        assert.equal((await east.send(new VerifyMacCommand({ KeyId: md.KeyId, Message: message, Mac: mac, MacAlgorithm: 'HMAC_SHA_256' }))).MacValid, true);
      }
      if (usage !== 'GENERATE_VERIFY_MAC') {
        const a = (await east.send(new GetPublicKeyCommand({ KeyId: md.KeyId }))).PublicKey!;
        const b = (await west.send(new GetPublicKeyCommand({ KeyId: md.KeyId }))).PublicKey!;
        assert.deepEqual(Buffer.from(b), Buffer.from(a), spec);
      }
    }
  });

  it('the replica has its own policy, description and tags; the primary keeps its own', async () => {
    const primary = (await east.send(new CreateKeyCommand({ MultiRegion: true, Tags: [{ TagKey: 'site', TagValue: 'east' }] }))).KeyMetadata!;
    const policy = JSON.stringify({
      Version: '2012-10-17', Id: 'replica-policy',
      Statement: [{ Sid: 'root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
    });
    const res = await east.send(new ReplicateKeyCommand({
      KeyId: primary.Arn, ReplicaRegion: 'eu-west-1', Policy: policy, Description: 'the replica', Tags: [{ TagKey: 'site', TagValue: 'eu' }],
    }));
    assert.equal(res.ReplicaPolicy, policy);
    assert.deepEqual(res.ReplicaTags, [{ TagKey: 'site', TagValue: 'eu' }]);
    assert.equal(res.ReplicaKeyMetadata!.Description, 'the replica');
    assert.equal((await eu.send(new GetKeyPolicyCommand({ KeyId: primary.KeyId }))).Policy, policy);
    assert.deepEqual((await eu.send(new ListResourceTagsCommand({ KeyId: primary.KeyId }))).Tags, [{ TagKey: 'site', TagValue: 'eu' }]);
    assert.deepEqual((await east.send(new ListResourceTagsCommand({ KeyId: primary.KeyId }))).Tags, [{ TagKey: 'site', TagValue: 'east' }]);
    // Its enabled state is its own too.
    await settle();
    await eu.send(new DisableKeyCommand({ KeyId: primary.KeyId }));
    assert.equal((await eu.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!.KeyState, 'Disabled');
    assert.equal((await east.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!.KeyState, 'Enabled');
  });

  it('ReplicateKey errors: a replica, a single-Region key, an existing Region, bad Regions, a disabled or deleted primary, lockout, tags', async () => {
    const primary = await primaryKey();
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }));
    await settle();
    const replicaArn = arnIn('us-west-2', primary.KeyId!);
    assert.deepEqual(await failure(west.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' }))), {
      name: 'UnsupportedOperationException', message: `${replicaArn} is not a multi-region primary key.`,
    });
    const single = (await east.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.deepEqual(await failure(east.send(new ReplicateKeyCommand({ KeyId: single.KeyId, ReplicaRegion: 'eu-west-1' }))), {
      name: 'UnsupportedOperationException', message: `${single.Arn} is not a multi-region primary key.`,
    });
    assert.equal((await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' })))).name, 'AlreadyExistsException');
    assert.equal((await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-east-1' })))).name, 'AlreadyExistsException');
    const invalid = await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'not_a_region' })));
    assert.equal(invalid.name, 'ValidationException');
    assert.match(invalid.message, /Value 'not_a_region' at 'replicaRegion' failed to satisfy constraint: Member must satisfy regular expression pattern/);
    assert.equal((await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'xx-nowhere-9' })))).name, 'UnsupportedOperationException');
    assert.equal((await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'cn-north-1' })))).name, 'UnsupportedOperationException');
    // A key policy that would lock the caller out, and reserved tags, are refused; nothing is created.
    const lockout = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:Encrypt', Resource: '*' }] });
    assert.deepEqual(await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1', Policy: lockout }))), {
      name: 'MalformedPolicyDocumentException', message: 'The new key policy will not allow you to update the key policy in the future.',
    });
    assert.equal((await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1', Policy: '{not json' })))).name, 'MalformedPolicyDocumentException');
    assert.equal((await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1', Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] })))).name, 'TagException');
    assert.equal((await failure(eu.send(new DescribeKeyCommand({ KeyId: primary.KeyId })))).name, 'NotFoundException');
    // A disabled primary, then one pending deletion.
    await east.send(new DisableKeyCommand({ KeyId: primary.KeyId }));
    assert.deepEqual(await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' }))), {
      name: 'DisabledException', message: `${primary.Arn} is disabled.`,
    });
    const lonely = await primaryKey();
    await east.send(new ScheduleKeyDeletionCommand({ KeyId: lonely.KeyId, PendingWindowInDays: 7 }));
    assert.equal((await failure(east.send(new ReplicateKeyCommand({ KeyId: lonely.KeyId, ReplicaRegion: 'eu-west-1' })))).name, 'KMSInvalidStateException');
    assert.equal((await failure(east.send(new ReplicateKeyCommand({ KeyId: `mrk-${'0'.repeat(32)}`, ReplicaRegion: 'eu-west-1' })))).name, 'NotFoundException');
  });

  it('DescribeKey of an mrk id in a Region without a related key: NotFoundException naming the key ARN in that Region', async () => {
    const primary = await primaryKey();
    assert.deepEqual(await failure(eu.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))), {
      name: 'NotFoundException', message: `Key '${arnIn('eu-west-1', primary.KeyId!)}' does not exist`,
    });
  });

  it('CreateKey MultiRegion in a custom key store is refused; EXTERNAL origin is accepted (replicated once it has material)', async () => {
    const refused = await failure(east.send(new CreateKeyCommand({ MultiRegion: true, Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: 'cks-1234567890abcdef0' })));
    assert.deepEqual(refused, { name: 'UnsupportedOperationException', message: 'Multi-Region keys cannot be created in a custom key store.' });
    const external = (await east.send(new CreateKeyCommand({ MultiRegion: true, Origin: 'EXTERNAL' }))).KeyMetadata!;
    assert.match(external.KeyId!, /^mrk-/);
    assert.equal(external.KeyState, 'PendingImport');
    assert.equal(external.MultiRegionConfiguration!.MultiRegionKeyType, 'PRIMARY');
    // Key-state table: ReplicateKey of a key pending import is KMSInvalidStateException ([5]).
    assert.deepEqual(await failure(east.send(new ReplicateKeyCommand({ KeyId: external.KeyId, ReplicaRegion: 'us-west-2' }))), {
      name: 'KMSInvalidStateException', message: `${external.Arn} is pending import.`,
    });
  });

  it('deleting a primary with replicas: PendingReplicaDeletion until its last replica is deleted, then its own waiting period', async () => {
    const primary = await primaryKey();
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }));
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' }));
    await settle();
    const scheduled = await east.send(new ScheduleKeyDeletionCommand({ KeyId: primary.KeyId, PendingWindowInDays: 7 }));
    assert.equal(scheduled.KeyState, 'PendingReplicaDeletion');
    assert.equal(scheduled.PendingWindowInDays, 7);
    assert.equal(scheduled.DeletionDate, undefined);
    let md = (await east.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!;
    assert.equal(md.KeyState, 'PendingReplicaDeletion');
    assert.equal(md.PendingDeletionWindowInDays, 7);
    assert.equal(md.DeletionDate, undefined);
    assert.deepEqual(await failure(east.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('x') }))), {
      name: 'KMSInvalidStateException', message: `${primary.Arn} is pending replica deletion.`,
    });
    assert.equal((await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'ap-south-1' })))).name, 'KMSInvalidStateException');
    // The replicas still work; the state lasts however long the replicas do.
    await west.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('x') }));
    await advance(server, 40 * DAY_S);
    assert.equal((await east.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!.KeyState, 'PendingReplicaDeletion');
    // CancelKeyDeletion brings it back Disabled; schedule again.
    await east.send(new CancelKeyDeletionCommand({ KeyId: primary.KeyId }));
    md = (await east.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!;
    assert.equal(md.KeyState, 'Disabled');
    assert.equal(md.PendingDeletionWindowInDays, undefined);
    await east.send(new EnableKeyCommand({ KeyId: primary.KeyId }));
    await east.send(new ScheduleKeyDeletionCommand({ KeyId: primary.KeyId, PendingWindowInDays: 7 }));
    // Replicas are deleted on their own windows: one after 7 days, the other after 10; the primary waits for both.
    await west.send(new ScheduleKeyDeletionCommand({ KeyId: primary.KeyId, PendingWindowInDays: 7 }));
    await eu.send(new ScheduleKeyDeletionCommand({ KeyId: primary.KeyId, PendingWindowInDays: 10 }));
    await advance(server, 7 * DAY_S + 60);
    assert.equal((await failure(west.send(new DescribeKeyCommand({ KeyId: primary.KeyId })))).name, 'NotFoundException');
    md = (await east.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!;
    assert.equal(md.KeyState, 'PendingReplicaDeletion');
    assert.deepEqual(md.MultiRegionConfiguration!.ReplicaKeys, [{ Arn: arnIn('eu-west-1', primary.KeyId!), Region: 'eu-west-1' }]);
    await advance(server, 3 * DAY_S);
    await within(10_000, 'the primary becomes PendingDeletion once its last replica is deleted', async () =>
      (await east.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!.KeyState === 'PendingDeletion');
    md = (await east.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!;
    assert.deepEqual(md.MultiRegionConfiguration!.ReplicaKeys, []);
    assert.equal(md.PendingDeletionWindowInDays, undefined);
    const clock = (await (await fetch(new URL('/_trent/dev/clock', server.url))).json()) as { now: string };
    assert.equal(md.DeletionDate!.getTime() - Date.parse(clock.now) > 6 * DAY_S * 1000, true, 'the 7-day waiting period starts when the last replica is gone');
    await advance(server, 7 * DAY_S + 60);
    assert.equal((await failure(east.send(new DescribeKeyCommand({ KeyId: primary.KeyId })))).name, 'NotFoundException');
  });

  it('UpdatePrimaryRegion: both keys Updating (usable, not manageable), every related key names the new primary, then states come back', async () => {
    const primary = await primaryKey();
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }));
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' }));
    await settle();
    const context = { when: 'before the change' };
    const before = (await east.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('old primary'), EncryptionContext: context }))).CiphertextBlob!;
    await east.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'eu-west-1' }));
    const euArn = arnIn('eu-west-1', primary.KeyId!);
    const describeIn = async (c: KMSClient) => metadata(c, primary.KeyId!);
    const [e, w, u] = [await describeIn(east), await describeIn(west), await describeIn(eu)];
    assert.deepEqual([e.KeyState, w.KeyState, u.KeyState], ['Updating', 'Enabled', 'Updating']);
    assert.deepEqual([e, w, u].map((m) => m.MultiRegionConfiguration!.MultiRegionKeyType), ['REPLICA', 'REPLICA', 'PRIMARY']);
    for (const m of [e, w, u]) {
      assert.deepEqual(m.MultiRegionConfiguration!.PrimaryKey, { Arn: euArn, Region: 'eu-west-1' });
      assert.deepEqual(m.MultiRegionConfiguration!.ReplicaKeys, [
        { Arn: primary.Arn, Region: 'us-east-1' }, { Arn: arnIn('us-west-2', primary.KeyId!), Region: 'us-west-2' },
      ]);
    }
    // While Updating: cryptography works; enabling, disabling and replicating do not.
    const during = (await east.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('during'), EncryptionContext: context }))).CiphertextBlob!;
    assert.equal(Buffer.from((await eu.send(new DecryptCommand({ CiphertextBlob: during, EncryptionContext: context }))).Plaintext!).toString(), 'during');
    assert.deepEqual(await failure(east.send(new DisableKeyCommand({ KeyId: primary.KeyId }))), { name: 'KMSInvalidStateException', message: `${primary.Arn} is updating.` });
    assert.equal((await failure(eu.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'ap-south-1' })))).name, 'KMSInvalidStateException');
    await settle();
    assert.deepEqual([(await describeIn(east)).KeyState, (await describeIn(eu)).KeyState], ['Enabled', 'Enabled']);
    // The new primary replicates; the old one is a replica now.
    assert.deepEqual(await failure(east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'ap-south-1' }))), {
      name: 'UnsupportedOperationException', message: `${primary.Arn} is not a multi-region primary key.`,
    });
    const ap = (await eu.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'ap-south-1' }))).ReplicaKeyMetadata!;
    assert.deepEqual(ap.MultiRegionConfiguration!.PrimaryKey, { Arn: euArn, Region: 'eu-west-1' });
    // Ciphertexts from before and during the change decrypt everywhere.
    for (const c of [east, west, eu]) {
      assert.equal(Buffer.from((await c.send(new DecryptCommand({ CiphertextBlob: before, EncryptionContext: context }))).Plaintext!).toString(), 'old primary');
    }
    // The old primary, a replica now, is deleted on its own window.
    const scheduled = await east.send(new ScheduleKeyDeletionCommand({ KeyId: primary.KeyId, PendingWindowInDays: 7 }));
    assert.equal(scheduled.KeyState, 'PendingDeletion');
    assert.ok(scheduled.DeletionDate);
  });

  it('UpdatePrimaryRegion errors: a replica, a single-Region key, a Region without a replica, the same Region, a disabled replica', async () => {
    const primary = await primaryKey();
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }));
    await settle();
    assert.deepEqual(await failure(west.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'us-east-1' }))), {
      name: 'UnsupportedOperationException', message: `${arnIn('us-west-2', primary.KeyId!)} is not a multi-region primary key.`,
    });
    const single = (await east.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.equal((await failure(east.send(new UpdatePrimaryRegionCommand({ KeyId: single.KeyId, PrimaryRegion: 'us-west-2' })))).name, 'UnsupportedOperationException');
    assert.deepEqual(await failure(east.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'eu-west-1' }))), {
      name: 'NotFoundException', message: `Key '${arnIn('eu-west-1', primary.KeyId!)}' does not exist`,
    });
    assert.equal((await failure(east.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'us-east-1' })))).name, 'UnsupportedOperationException');
    assert.equal((await failure(east.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'Mars' })))).name, 'ValidationException');
    await west.send(new DisableKeyCommand({ KeyId: primary.KeyId }));
    assert.deepEqual(await failure(east.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'us-west-2' }))), {
      name: 'DisabledException', message: `${arnIn('us-west-2', primary.KeyId!)} is disabled.`,
    });
    assert.equal((await metadata(east, primary.KeyId!)).MultiRegionConfiguration!.PrimaryKey!.Region, 'us-east-1', 'nothing changed');
  });

  it('rotation is set and made on the primary, applies to every related key at once, and every ciphertext decrypts everywhere', async () => {
    const primary = await primaryKey();
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }));
    await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' }));
    await settle();
    const clients = [east, west, eu];
    const context = { rotation: 'mrk' };
    const blobs: Uint8Array[] = [];
    const encryptIn = async (c: KMSClient, text: string) =>
      blobs.push((await c.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from(text), EncryptionContext: context }))).CiphertextBlob!);
    const same = async <T>(what: string, read: (c: KMSClient) => Promise<T>): Promise<T> => {
      const [first, ...rest] = await Promise.all(clients.map(read));
      for (const r of rest) assert.deepEqual(r, first, what);
      return first!;
    };
    const materialIds = () => same('CurrentKeyMaterialId', async (c) => (await metadata(c, primary.KeyId!)).CurrentKeyMaterialId);
    const status = () => same('GetKeyRotationStatus', async (c) => {
      const r = await c.send(new GetKeyRotationStatusCommand({ KeyId: primary.KeyId }));
      return [r.KeyRotationEnabled, r.RotationPeriodInDays, r.NextRotationDate?.getTime()];
    });
    const rotations = () => same('ListKeyRotations', async (c) =>
      (await c.send(new ListKeyRotationsCommand({ KeyId: primary.KeyId }))).Rotations!.map((r) => [r.KeyMaterialId, r.RotationType, r.RotationDate?.getTime()]));
    await encryptIn(west, 'before any rotation');

    // On a replica: refused, whatever the operation.
    for (const command of [new EnableKeyRotationCommand({ KeyId: primary.KeyId }), new DisableKeyRotationCommand({ KeyId: primary.KeyId }), new RotateKeyOnDemandCommand({ KeyId: primary.KeyId })]) {
      assert.deepEqual(await failure(west.send(command as never)), {
        name: 'UnsupportedOperationException', message: `${arnIn('us-west-2', primary.KeyId!)} is not a multi-region primary key.`,
      });
    }
    await east.send(new EnableKeyRotationCommand({ KeyId: primary.KeyId, RotationPeriodInDays: 90 }));
    const [enabled, period] = await status();
    assert.deepEqual([enabled, period], [true, 90]);

    const first = await materialIds();
    await east.send(new RotateKeyOnDemandCommand({ KeyId: primary.KeyId }));
    const second = await materialIds();
    assert.notEqual(second, first);
    assert.equal((await rotations()).length, 1);
    await encryptIn(eu, 'after the on-demand rotation');

    await advance(server, 91 * DAY_S);
    const third = await materialIds();
    assert.notEqual(third, second, 'automatic rotation happened on every related key');
    assert.deepEqual((await rotations()).map((r) => r[1]), ['ON_DEMAND', 'AUTOMATIC']);
    await status();
    await encryptIn(east, 'after the automatic rotation');

    // A change of primary; the new primary rotates every related key.
    await east.send(new UpdatePrimaryRegionCommand({ KeyId: primary.KeyId, PrimaryRegion: 'us-west-2' }));
    await settle();
    assert.equal((await failure(east.send(new RotateKeyOnDemandCommand({ KeyId: primary.KeyId })))).name, 'UnsupportedOperationException');
    await west.send(new RotateKeyOnDemandCommand({ KeyId: primary.KeyId }));
    assert.notEqual(await materialIds(), third);
    assert.equal((await rotations()).length, 3);
    await encryptIn(west, 'after the change of primary');
    await west.send(new DisableKeyRotationCommand({ KeyId: primary.KeyId }));
    assert.deepEqual(await status(), [false, undefined, undefined]);

    const texts = ['before any rotation', 'after the on-demand rotation', 'after the automatic rotation', 'after the change of primary'];
    for (const c of clients) {
      for (const [i, blob] of blobs.entries()) {
        assert.equal(Buffer.from((await c.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }))).Plaintext!).toString(), texts[i]);
      }
    }
  });

  it('imported material: the replica starts PendingImport and takes only the primary\'s material; new material rotates every related key', async () => {
    const importInto = async (c: KMSClient, KeyId: string, material: Buffer, ImportType?: 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL') => {
      const p = await c.send(new GetParametersForImportCommand({ KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
      const publicKey = createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' });
      return c.send(new ImportKeyMaterialCommand({
        KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapForImport(publicKey, 'RSAES_OAEP_SHA_256', material, randomBytes(32)),
        ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ...(ImportType && { ImportType }),
      }));
    };
    const states = async (c: KMSClient, keyId: string) =>
      (await c.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations!.map((r) => [r.KeyMaterialId, r.KeyMaterialState]);
    const first = randomBytes(32);
    const primary = (await east.send(new CreateKeyCommand({ MultiRegion: true, Origin: 'EXTERNAL' }))).KeyMetadata!;
    const m1 = (await importInto(east, primary.KeyId!, first)).KeyMaterialId!;
    assert.equal((await metadata(east, primary.KeyId!)).KeyState, 'Enabled');
    const replica = (await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }))).ReplicaKeyMetadata!;
    assert.deepEqual([replica.KeyState, replica.Origin, replica.CurrentKeyMaterialId], ['Creating', 'EXTERNAL', undefined]);
    await settle();
    assert.equal((await metadata(west, primary.KeyId!)).KeyState, 'PendingImport');
    // Other material is refused; the same material makes the replica Enabled, with the primary's material id.
    assert.equal((await failure(importInto(west, primary.KeyId!, randomBytes(32)))).name, 'IncorrectKeyMaterialException');
    assert.equal((await failure(importInto(west, primary.KeyId!, randomBytes(32), 'NEW_KEY_MATERIAL'))).name, 'UnsupportedOperationException');
    assert.equal((await importInto(west, primary.KeyId!, first)).KeyMaterialId, m1);
    const md = await metadata(west, primary.KeyId!);
    assert.deepEqual([md.KeyState, md.CurrentKeyMaterialId], ['Enabled', m1]);
    const blob = (await east.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('imported') }))).CiphertextBlob!;
    assert.equal(Buffer.from((await west.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'imported');

    // New material for rotation: imported into the primary, then into the replica, then RotateKeyOnDemand on the primary.
    const second = randomBytes(32);
    const m2 = (await importInto(east, primary.KeyId!, second, 'NEW_KEY_MATERIAL')).KeyMaterialId!;
    assert.deepEqual(await states(east, primary.KeyId!), [[m1, 'CURRENT'], [m2, 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION']]);
    assert.deepEqual(await failure(east.send(new RotateKeyOnDemandCommand({ KeyId: primary.KeyId }))), {
      name: 'KMSInvalidStateException',
      message: `The new key material ${m2} of ${primary.Arn} is not yet imported into the replica key ${arnIn('us-west-2', primary.KeyId!)}: import the same key material into every replica key first.`,
    });
    assert.equal((await importInto(west, primary.KeyId!, second)).KeyMaterialId, m2);
    assert.deepEqual(await states(east, primary.KeyId!), [[m1, 'CURRENT'], [m2, 'PENDING_ROTATION']]);
    assert.deepEqual(await states(west, primary.KeyId!), [[m1, 'CURRENT'], [m2, 'PENDING_ROTATION']]);
    assert.equal((await failure(west.send(new RotateKeyOnDemandCommand({ KeyId: primary.KeyId })))).name, 'UnsupportedOperationException');
    await east.send(new RotateKeyOnDemandCommand({ KeyId: primary.KeyId }));
    assert.deepEqual(await states(east, primary.KeyId!), [[m1, 'NON_CURRENT'], [m2, 'CURRENT']]);
    assert.deepEqual(await states(west, primary.KeyId!), [[m1, 'NON_CURRENT'], [m2, 'CURRENT']]);
    assert.equal((await metadata(west, primary.KeyId!)).CurrentKeyMaterialId, m2);
    const after = (await west.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('rotated') }))).CiphertextBlob!;
    assert.equal(Buffer.from((await east.send(new DecryptCommand({ CiphertextBlob: after }))).Plaintext!).toString(), 'rotated');
    assert.equal(Buffer.from((await west.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'imported');
  });
});

const metadata = async (c: KMSClient, keyId: string) => (await c.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;

describe('multi-Region transitions complete on their own', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ args: ['--request-log', 'off', '--multi-region-transition-ms', '200'] });
  });
  after(async () => {
    await server.stop();
  });

  it('a replica becomes Enabled a moment after ReplicateKey, without any clock move', async () => {
    const east = devClient(server.url, { region: 'us-east-1' });
    const west = devClient(server.url, { region: 'us-west-2' });
    try {
      const primary = (await east.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!;
      assert.equal((await east.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }))).ReplicaKeyMetadata!.KeyState, 'Creating');
      await within(10_000, 'the replica becomes Enabled', async () =>
        (await west.send(new DescribeKeyCommand({ KeyId: primary.KeyId }))).KeyMetadata!.KeyState === 'Enabled');
      await west.send(new EncryptCommand({ KeyId: primary.KeyId, Plaintext: Buffer.from('usable') }));
    } finally {
      east.destroy();
      west.destroy();
    }
  });
});
