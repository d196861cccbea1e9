// Scheduled deletion for real: ScheduleKeyDeletion, then the DeletionSweeper with a moved clock, against SQLite.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SecretBytes } from '../../src/crypto/secret-bytes.js';
import { KeyPolicyAuthorizer } from '../../src/domain/authorizer.js';
import { KmsError } from '../../src/domain/errors.js';
import { GrantRepository } from '../../src/domain/grant-repository.js';
import { GrantTokens } from '../../src/domain/grants.js';
import { KeyRepository } from '../../src/domain/key-repository.js';
import type { Clock } from '../../src/domain/ports.js';
import { LocalKeyStore } from '../../src/keystores/local/local-keystore.js';
import { RootKey } from '../../src/keystores/local/root-key.js';
import type { RequestContext, Services } from '../../src/operations/operation.js';
import { OperationRegistry } from '../../src/operations/registry.js';
import { DeletionSweeper } from '../../src/scheduler/deletion-sweeper.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';

const DAY = 24 * 60 * 60 * 1000;

describe('DeletionSweeper with an injected clock and SQLite', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trent-sweeper-'));
  let now = new Date('2030-01-01T00:00:00Z');
  const clock: Clock = { now: () => now };
  const storage = new SqliteStorage(path.join(dir, 'trent.db'));
  const random = { bytes: (n: number) => randomBytes(n), uuid: () => randomUUID() };
  const keystore = new LocalKeyStore(RootKey.fromBytes(randomBytes(32)), random, clock);
  const keys = new KeyRepository(storage, clock);
  const rootKey = RootKey.fromBytes(randomBytes(32));
  const grants = new GrantRepository(storage, clock, new GrantTokens(rootKey));
  const svc: Services = { keys, grants, storage, keystore, authorizer: new KeyPolicyAuthorizer(clock, grants), clock, random };
  const registry = new OperationRegistry();
  const sweeper = new DeletionSweeper(keys, keystore);
  const ctx = (): RequestContext => ({
    requestId: randomUUID(), caller: { account: '111122223333', principalArn: 'arn:aws:iam::111122223333:root' } as RequestContext['caller'],
    region: 'us-east-1', scope: { account: '111122223333', region: 'us-east-1' }, sourceIp: '127.0.0.1', userAgent: 'test',
  });
  const call = <T = any>(op: string, input: unknown): Promise<T> => registry.byTarget(`TrentService.${op}`)!.handle(input, ctx(), svc) as Promise<T>;

  before(() => storage.migrate());
  after(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deletes a key past its deletion date with material, aliases and tags; it then answers NotFoundException', async () => {
    const { KeyMetadata } = await call('CreateKey', { Tags: [{ TagKey: 'team', TagValue: 'a' }] });
    const keyId: string = KeyMetadata.KeyId;
    const arn: string = KeyMetadata.Arn;
    const other = (await call('CreateKey', {})).KeyMetadata.KeyId as string;
    await call('CreateAlias', { AliasName: 'alias/doomed', TargetKeyId: keyId });
    await call('Encrypt', { KeyId: 'alias/doomed', Plaintext: new SecretBytes(Buffer.from('x')) });

    const scheduled = await call('ScheduleKeyDeletion', { KeyId: keyId, PendingWindowInDays: 7 });
    assert.equal(scheduled.DeletionDate.getTime(), now.getTime() + 7 * DAY);
    assert.equal(scheduled.KeyState, 'PendingDeletion');

    now = new Date(now.getTime() + 7 * DAY - 1);
    assert.deepEqual(await sweeper.sweep(), [], 'not yet due');
    assert.equal((await call('DescribeKey', { KeyId: keyId })).KeyMetadata.KeyState, 'PendingDeletion');

    now = new Date(now.getTime() + 1);
    assert.deepEqual(await sweeper.sweep(), [arn]);
    await assert.rejects(call('DescribeKey', { KeyId: keyId }), (e: unknown) => e instanceof KmsError && e.type === 'NotFoundException' && e.message === `Key '${arn}' does not exist`);
    await assert.rejects(call('Encrypt', { KeyId: 'alias/doomed', Plaintext: new SecretBytes(Buffer.from('x')) }), (e: unknown) => e instanceof KmsError && e.type === 'NotFoundException');
    assert.deepEqual(await storage.getMaterials(arn), []);
    assert.deepEqual(await storage.getTags(arn), []);
    assert.equal(await storage.getAlias({ account: '111122223333', region: 'us-east-1' }, 'alias/doomed'), undefined);
    assert.equal((await call('DescribeKey', { KeyId: other })).KeyMetadata.KeyState, 'Enabled', 'other keys stay');
  });

  it('leaves a key whose deletion was cancelled', async () => {
    const keyId = (await call('CreateKey', {})).KeyMetadata.KeyId as string;
    await call('ScheduleKeyDeletion', { KeyId: keyId });
    await call('CancelKeyDeletion', { KeyId: keyId });
    now = new Date(now.getTime() + 31 * DAY);
    assert.deepEqual(await sweeper.sweep(), []);
    assert.equal((await call('DescribeKey', { KeyId: keyId })).KeyMetadata.KeyState, 'Disabled');
  });

  it('does not delete a key that was cancelled after the sweeper listed it (compare-and-delete)', async () => {
    const keyId = (await call('CreateKey', {})).KeyMetadata.KeyId as string;
    await call('ScheduleKeyDeletion', { KeyId: keyId, PendingWindowInDays: 7 });
    now = new Date(now.getTime() + 8 * DAY);
    const [listed] = await storage.listKeysDueForDeletion(now, 10);
    assert.equal(listed!.keyId, keyId);
    await call('CancelKeyDeletion', { KeyId: keyId });
    assert.equal(await keys.deleteKey(listed!), false);
    assert.equal((await call('DescribeKey', { KeyId: keyId })).KeyMetadata.KeyState, 'Disabled');
  });
});
