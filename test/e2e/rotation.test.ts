// Key rotation and the dev clock, end to end: a real Trent process (SQLite), @aws-sdk/client-kms, the `trent` and
// `aws` CLIs. Time is moved with POST /_trent/dev/clock, which runs the due jobs (rotation, deletion) at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, DisableKeyRotationCommand,
  EnableKeyCommand, EnableKeyRotationCommand, EncryptCommand, GetKeyRotationStatusCommand, KMSClient, ListKeyRotationsCommand,
  RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, CancelKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { devClient, repoRoot, startServer, type TestServer } from '../helpers/server.js';
import { errorName } from '../helpers/poll.js';

const DAY_S = 86_400;
const DAY_MS = DAY_S * 1000;

async function advance(server: TestServer, seconds: number): Promise<{ now: string; offsetSeconds: number }> {
  const res = await fetch(new URL('/_trent/dev/clock', server.url), { method: 'POST', body: JSON.stringify({ advanceSeconds: seconds }) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { now: string; offsetSeconds: number };
}

async function serverNow(server: TestServer): Promise<number> {
  const res = await fetch(new URL('/_trent/dev/clock', server.url));
  return Date.parse(((await res.json()) as { now: string }).now);
}

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });

describe('key rotation with the moved clock', () => {
  let server: TestServer;
  let kms: KMSClient;
  const encrypt = async (keyId: string, text: string) =>
    (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text), EncryptionContext: { period: text } }))).CiphertextBlob!;
  const decrypt = async (blob: Uint8Array, text: string) =>
    Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { period: text } }))).Plaintext!).toString();
  const describeKey = async (keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
  const symmetricKey = async () => (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;

  before(async () => {
    server = await startServer({ args: ['--request-log', 'off'] });
    kms = devClient(server.url);
  });
  after(async () => {
    kms.destroy();
    await server.stop();
  });

  it('rotates automatically three times (365 days apart); data from every period decrypts; id, ARN and alias stay', async () => {
    const key = await symmetricKey();
    const alias = `alias/rotating-${key.KeyId!.slice(0, 8)}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyId }));
    assert.deepEqual(await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId })).then((r) => [r.KeyRotationEnabled, r.RotationPeriodInDays]), [false, undefined]);
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }));
    const enabledAt = await serverNow(server);
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    assert.equal(status.KeyRotationEnabled, true);
    assert.equal(status.RotationPeriodInDays, 365, 'the default period');
    assert.equal(status.KeyId, key.Arn);
    assert.ok(Math.abs(status.NextRotationDate!.getTime() - (enabledAt + 365 * DAY_MS)) < 60_000, 'the first rotation is 365 days after enabling');
    assert.equal(status.OnDemandRotationStartDate, undefined);

    const blobs = [await encrypt(alias, 'period 0')];
    const materials = [(await describeKey(key.KeyId!)).CurrentKeyMaterialId!];
    assert.match(materials[0]!, /^[a-f0-9]{64}$/);
    for (let period = 1; period <= 3; period++) {
      await advance(server, 365 * DAY_S);
      const now = await describeKey(alias);
      assert.equal(now.Arn, key.Arn, 'the key id and ARN do not change');
      assert.notEqual(now.CurrentKeyMaterialId, materials[materials.length - 1], `rotation ${period} made new material current`);
      materials.push(now.CurrentKeyMaterialId!);
      blobs.push(await encrypt(alias, `period ${period}`));
    }
    assert.equal(new Set(materials).size, 4);
    for (let period = 0; period <= 3; period++) assert.equal(await decrypt(blobs[period]!, `period ${period}`), `period ${period}`);
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: blobs[0], EncryptionContext: { period: 'period 0' } }));
    assert.equal(decrypted.KeyId, key.Arn);

    const rotations = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }))).Rotations!;
    assert.deepEqual(rotations.map((r) => [r.RotationType, r.KeyMaterialId, r.KeyMaterialState]), [
      ['AUTOMATIC', materials[1], 'NON_CURRENT'],
      ['AUTOMATIC', materials[2], 'NON_CURRENT'],
      ['AUTOMATIC', materials[3], 'CURRENT'],
    ]);
    const dates = rotations.map((r) => r.RotationDate!.getTime());
    for (let i = 0; i < 3; i++) {
      const expected = enabledAt + (i + 1) * 365 * DAY_MS;
      assert.ok(dates[i]! >= expected && dates[i]! < expected + 10 * 60_000, `rotation ${i + 1} happened when due (${new Date(dates[i]!).toISOString()})`);
    }
    const next = (await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).NextRotationDate!.getTime();
    assert.equal(next, dates[2]! + 365 * DAY_MS, 'the next rotation is one period after the last one');

    const all = await kms.send(new ListKeyRotationsCommand({ KeyId: key.Arn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 3 }));
    assert.equal(all.Truncated, true);
    assert.deepEqual(all.Rotations!.map((r) => r.KeyMaterialId), materials.slice(0, 3));
    assert.equal(all.Rotations![0]!.RotationType, undefined, 'the first material was not made by a rotation');
    const rest = await kms.send(new ListKeyRotationsCommand({ KeyId: key.Arn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 3, Marker: all.NextMarker }));
    assert.equal(rest.Truncated, false);
    assert.deepEqual(rest.Rotations!.map((r) => r.KeyMaterialId), [materials[3]]);
    assert.equal(await errorName(kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId, Marker: 'bm90LW91cnM' }))), 'InvalidMarkerException');
  });

  it('changes the period, disables and re-enables; does not rotate a disabled key until it is enabled again', async () => {
    const key = await symmetricKey();
    assert.equal(await errorName(kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 89 }))), 'ValidationException');
    assert.equal(await errorName(kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 2561 }))), 'ValidationException');
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 180 }));
    const first = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    assert.equal(first.RotationPeriodInDays, 180);
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
    const shorter = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    assert.equal(shorter.RotationPeriodInDays, 90);
    assert.equal(shorter.NextRotationDate!.getTime(), first.NextRotationDate!.getTime() - 90 * DAY_MS, 'the period counts from enabling');

    await kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId }));
    assert.deepEqual(await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId })).then((r) => [r.KeyRotationEnabled, r.NextRotationDate]), [false, undefined]);
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));

    // A disabled key is not rotated, and its rotation settings cannot change; enabled again, it rotates at once.
    const before = (await describeKey(key.KeyId!)).CurrentKeyMaterialId;
    const blob = await encrypt(key.KeyId!, 'before');
    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    assert.equal(await errorName(kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }))), 'DisabledException');
    assert.equal(await errorName(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }))), 'DisabledException');
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).KeyRotationEnabled, true);
    await advance(server, 100 * DAY_S);
    assert.equal((await describeKey(key.KeyId!)).CurrentKeyMaterialId, before, 'not rotated while disabled');
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
    await advance(server, 0); // runs the due jobs now rather than at the next scheduler tick
    const after = await describeKey(key.KeyId!);
    assert.notEqual(after.CurrentKeyMaterialId, before, 'rotated as soon as it was enabled again');
    assert.equal(await decrypt(blob, 'before'), 'before');
  });

  it('rotates on demand: at once, up to 25 times, ConflictException near an automatic rotation', async () => {
    const key = await symmetricKey();
    const blob = await encrypt(key.KeyId!, 'old');
    const old = (await describeKey(key.KeyId!)).CurrentKeyMaterialId;
    assert.deepEqual(await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId })).then((r) => r.KeyId), key.Arn);
    const now = (await describeKey(key.KeyId!)).CurrentKeyMaterialId;
    assert.notEqual(now, old, 'the new material is current as soon as the call returns');
    const fresh = await encrypt(key.KeyId!, 'new');
    assert.equal(await decrypt(blob, 'old'), 'old');
    assert.equal(await decrypt(fresh, 'new'), 'new');
    const listed = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }))).Rotations!;
    assert.deepEqual(listed.map((r) => [r.RotationType, r.KeyMaterialId]), [['ON_DEMAND', now]]);
    assert.ok(Math.abs(listed[0]!.RotationDate!.getTime() - (await serverNow(server))) < 60_000);
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).KeyRotationEnabled, false, 'on-demand rotation does not enable automatic rotation');

    for (let i = 2; i <= 25; i++) await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
    assert.equal(await errorName(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }))), 'LimitExceededException');
    assert.equal((await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId, Limit: 1000 }))).Rotations!.length, 25);
    assert.equal(await decrypt(blob, 'old'), 'old', 'the first material still decrypts after 25 rotations');

    // An automatic rotation due within 20 minutes: ConflictException; the automatic schedule is not moved by on-demand ones.
    const other = await symmetricKey();
    await kms.send(new EnableKeyRotationCommand({ KeyId: other.KeyId, RotationPeriodInDays: 90 }));
    const scheduled = (await kms.send(new GetKeyRotationStatusCommand({ KeyId: other.KeyId }))).NextRotationDate!.getTime();
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: other.KeyId }));
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: other.KeyId }))).NextRotationDate!.getTime(), scheduled);
    await advance(server, Math.ceil((scheduled - (await serverNow(server))) / 1000) - 10 * 60);
    assert.equal(await errorName(kms.send(new RotateKeyOnDemandCommand({ KeyId: other.KeyId }))), 'ConflictException');
  });

  it('answers UnsupportedOperationException for keys AWS cannot rotate (RSA, HMAC)', async () => {
    const rsa = (await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!;
    const hmac = (await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!;
    for (const key of [rsa, hmac]) {
      for (const command of [
        new EnableKeyRotationCommand({ KeyId: key.KeyId }),
        new DisableKeyRotationCommand({ KeyId: key.KeyId }),
        new GetKeyRotationStatusCommand({ KeyId: key.KeyId }),
        new RotateKeyOnDemandCommand({ KeyId: key.KeyId }),
        new ListKeyRotationsCommand({ KeyId: key.KeyId }),
      ]) {
        assert.equal(await errorName(kms.send(command as never)), 'UnsupportedOperationException', `${command.constructor.name} on ${key.KeySpec}`);
      }
    }
  });

  it('deletes a key when its moved deletion window ends; rotation status reads false while deletion is pending', async () => {
    const key = await symmetricKey();
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).KeyRotationEnabled, false);
    await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).KeyRotationEnabled, true, 'restored when the deletion is cancelled');

    const { DeletionDate } = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    assert.ok(Math.abs(DeletionDate!.getTime() - ((await serverNow(server)) + 7 * DAY_MS)) < 60_000, 'the window counts on the moved clock');
    await advance(server, 6 * DAY_S);
    assert.equal((await describeKey(key.KeyId!)).KeyState, 'PendingDeletion');
    await advance(server, 2 * DAY_S);
    assert.equal(await errorName(describeKey(key.KeyId!)), 'NotFoundException', 'the sweeper deleted the key as soon as the clock passed its deletion date');
  });

  it('refuses bad clock moves; `trent dev advance-clock` moves the clock', async () => {
    for (const body of ['{"advanceSeconds": -1}', '{"advanceSeconds": 1.5}', '{"advanceSeconds": "10"}', '{}', 'not json']) {
      const res = await fetch(new URL('/_trent/dev/clock', server.url), { method: 'POST', body });
      assert.equal(res.status, 400, body);
      assert.equal(((await res.json()) as { __type: string }).__type, 'ValidationException');
    }
    const before = await serverNow(server);
    const cli = await run(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'dev', 'advance-clock', '1d12h', '--endpoint', server.url]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /now reads \S+ \(\d+ s ahead of real time\)/);
    const moved = (await serverNow(server)) - before;
    assert.ok(moved >= 36 * 3600_000 && moved < 36 * 3600_000 + 60_000, `moved ${moved} ms`);
    const bad = await run(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'dev', 'advance-clock', '10 days', '--endpoint', server.url]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /DURATION like 400d/);
  });

  it('works through the aws CLI: enable, rotate on demand, status and list', async () => {
    const key = await symmetricKey();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
    Object.assign(env, {
      AWS_ACCESS_KEY_ID: 'AKIACLITEST', AWS_SECRET_ACCESS_KEY: 'cli-test-secret', AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_DEFAULT_OUTPUT: 'json', AWS_PAGER: '', AWS_EC2_METADATA_DISABLED: 'true',
    });
    const aws = async (...args: string[]) => {
      const r = await run('aws', ['kms', ...args, '--endpoint-url', server.url, '--region', 'us-east-1', '--cli-connect-timeout', '5', '--cli-read-timeout', '10'], env);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout ? JSON.parse(r.stdout) : undefined;
    };
    await aws('enable-key-rotation', '--key-id', key.KeyId!, '--rotation-period-in-days', '120');
    await aws('rotate-key-on-demand', '--key-id', key.KeyId!);
    const status = await aws('get-key-rotation-status', '--key-id', key.KeyId!);
    assert.equal(status.KeyRotationEnabled, true);
    assert.equal(status.RotationPeriodInDays, 120);
    const list = await aws('list-key-rotations', '--key-id', key.KeyId!, '--include-key-material', 'ALL_KEY_MATERIAL');
    assert.deepEqual(list.Rotations.map((r: { KeyMaterialState: string }) => r.KeyMaterialState), ['NON_CURRENT', 'CURRENT']);
    assert.equal(list.Rotations[1].RotationType, 'ON_DEMAND');
  });
});

describe('the dev clock outside dev mode', () => {
  it('is not there (404), and the time does not move', async () => {
    const server = await startServer({ dev: false, args: ['--request-log', 'off'] });
    try {
      for (const method of ['GET', 'POST']) {
        const res = await fetch(new URL('/_trent/dev/clock', server.url), { method, ...(method === 'POST' && { body: '{"advanceSeconds": 86400}' }) });
        assert.equal(res.status, 404, method);
      }
      const cli = await run(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'dev', 'advance-clock', '400d', '--endpoint', server.url]);
      assert.equal(cli.code, 2);
      assert.match(cli.stderr, /not running with --dev/);
    } finally {
      await server.stop();
    }
  });
});
