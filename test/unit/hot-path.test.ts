import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KeyPolicyAuthorizer } from '../../src/domain/authorizer.js';
import { GrantRepository } from '../../src/domain/grant-repository.js';
import { GrantTokens } from '../../src/domain/grants.js';
import { KeyRepository } from '../../src/domain/key-repository.js';
import { LocalKeyStore } from '../../src/keystores/local/local-keystore.js';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { systemClock, systemRandom } from '../../src/main.js';
import type { RequestContext, Services } from '../../src/operations/operation.js';
import { OperationRegistry } from '../../src/operations/registry.js';
import { parseInput } from '../../src/protocol/shapes.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { counting } from '../helpers/counting-storage.js';


describe('hot path', () => {
  it('serves Encrypt, Decrypt and GenerateDataKey of a warm key without touching storage', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trent-hot-'));
    const sqlite = new SqliteStorage(path.join(dir, 'db'));
    await sqlite.migrate();
    const { storage, calls } = counting(sqlite);
    const { rootKey } = await RootKey.fromFile(path.join(dir, 'root-key'), systemRandom);
    const keys = new KeyRepository(storage, systemClock);
    const grants = new GrantRepository(storage, systemClock, new GrantTokens(rootKey));
    const svc: Services = {
      keys, grants, storage, keystore: new LocalKeyStore(rootKey, systemRandom, systemClock), authorizer: new KeyPolicyAuthorizer(systemClock, grants),
      clock: systemClock, random: systemRandom,
    };
    const registry = new OperationRegistry();
    const ctx: RequestContext = {
      requestId: 'r', caller: { account: '111122223333', principalArn: 'arn:aws:iam::111122223333:root', accessKeyId: 'AKIA' },
      region: 'us-east-1', scope: { account: '111122223333', region: 'us-east-1' }, sourceIp: '127.0.0.1', userAgent: 't',
    };
    const run = (op: string, body: object) =>
      registry.byTarget(`TrentService.${op}`)!.handle(parseInput(`${op}Request`, body), { ...ctx }, svc) as Promise<Record<string, unknown>>;

    const created = (await run('CreateKey', {})) as { KeyMetadata: { KeyId: string } };
    const keyId = created.KeyMetadata.KeyId;
    const warm = (await run('Encrypt', { KeyId: keyId, Plaintext: 'aGVsbG8=' })) as { CiphertextBlob: Buffer };
    await run('Decrypt', { CiphertextBlob: warm.CiphertextBlob.toString('base64') });

    calls.length = 0;
    for (let i = 0; i < 50; i++) {
      const enc = (await run('Encrypt', { KeyId: keyId, Plaintext: 'aGVsbG8=' })) as { CiphertextBlob: Buffer };
      await run('Decrypt', { CiphertextBlob: enc.CiphertextBlob.toString('base64') });
      await run('GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256' });
    }
    assert.deepEqual(calls, []);

    // A change made through the repository is seen at once: disable, and Encrypt refuses.
    await keys.updateKey(ctx.scope, keyId, (k) => ({ ...k, keyState: 'Disabled' }));
    await assert.rejects(run('Encrypt', { KeyId: keyId, Plaintext: 'aGVsbG8=' }), { name: 'DisabledException' });

    // A policy that tests the key's tags and aliases: looked up once, then warm too; a tag change is seen at once.
    const root = 'arn:aws:iam::111122223333:root';
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: root }, Action: ['kms:PutKeyPolicy', 'kms:TagResource', 'kms:UntagResource', 'kms:CreateAlias', 'kms:DescribeKey'], Resource: '*' },
        {
          Effect: 'Allow', Principal: { AWS: root }, Action: 'kms:Encrypt', Resource: '*',
          Condition: { StringEquals: { 'aws:ResourceTag/Project': 'Alpha' }, 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/alpha-*' } },
        },
      ],
    });
    const abac = ((await run('CreateKey', { Policy: policy, Tags: [{ TagKey: 'Project', TagValue: 'Alpha' }] })) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
    await run('CreateAlias', { AliasName: 'alias/alpha-1', TargetKeyId: abac });
    await run('Encrypt', { KeyId: abac, Plaintext: 'aGVsbG8=' });
    calls.length = 0;
    for (let i = 0; i < 20; i++) await run('Encrypt', { KeyId: abac, Plaintext: 'aGVsbG8=' });
    assert.deepEqual(calls, []);
    await run('UntagResource', { KeyId: abac, TagKeys: ['Project'] });
    await assert.rejects(run('Encrypt', { KeyId: abac, Plaintext: 'aGVsbG8=' }), { name: 'AccessDeniedException' });
    await sqlite.close();
  });
});
