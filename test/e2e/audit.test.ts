// The audit trail end to end (docs/audit.md): real Trent processes, the SDK, the aws CLI, `trent audit`, and the SQLite
// file edited by hand. Every request (allowed, failed, unauthenticated) leaves a CloudTrail-shaped event with no
// plaintext, data key or ciphertext in it; a state change's event survives kill -9; the chain catches an edited and a
// deleted event; GetKeyLastUsage and CloudTrail's LookupEvents answer from the trail.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EncryptCommand, GenerateDataKeyCommand,
  GetKeyLastUsageCommand, KMSClient, ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { awsCli } from '../helpers/aws-cli.js';
import { ROOT } from '../helpers/paths.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { sqliteDriver } from '../../src/storage/sqlite/driver.js';

function trent(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TRENT_ROOT_KEY_PASSPHRASE: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lookup = (dataDir: string, ...args: string[]): any[] => {
  const r = trent('audit', 'lookup', '--data-dir', dataDir, '--max-results', '1000', ...args);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() === '' ? [] : r.stdout.trim().split('\n').map((l) => JSON.parse(l));
};
/** Every way a secret's bytes could show up in text. */
const forms = (b: Buffer | Uint8Array) => {
  const buf = Buffer.from(b);
  return [buf.toString('base64'), buf.toString('hex'), buf.toString('base64url'), ...(/^[\x20-\x7e]+$/.test(buf.toString('latin1')) ? [buf.toString('latin1')] : [])];
};

describe('audit trail (dev server, SQLite)', () => {
  let server: TestServer;
  let kms: KMSClient;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-audit-e2e-'));
  const auditLog = path.join(dataDir, 'audit.jsonl');
  const plaintext = Buffer.from(`AUDIT-CANARY-${randomBytes(12).toString('hex')}`);
  const secrets: Buffer[] = [plaintext];
  let keyId = '';
  let keyArn = '';
  let gdkRequestId = '';
  before(async () => {
    server = await startServer({ dataDir, args: ['--audit-log', auditLog, '--request-log', 'off'] });
    kms = devClient(server.url, { accessKeyId: '111122223333' });
    const created = await kms.send(new CreateKeyCommand({ Description: 'audited', Tags: [{ TagKey: 'team', TagValue: 'audit' }] }));
    keyId = created.KeyMetadata!.KeyId!;
    keyArn = created.KeyMetadata!.Arn!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/audited', TargetKeyId: keyId }));
    const enc = await kms.send(new EncryptCommand({ KeyId: 'alias/audited', Plaintext: plaintext, EncryptionContext: { Department: 'Engineering' } }));
    secrets.push(Buffer.from(enc.CiphertextBlob!));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { Department: 'Engineering' } }));
    assert.deepEqual(Buffer.from(dec.Plaintext!), plaintext);
    const gdk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    secrets.push(Buffer.from(gdk.Plaintext!), Buffer.from(gdk.CiphertextBlob!));
    gdkRequestId = gdk.$metadata.requestId!;
    // Failures: not found, a validation error, and a request that does not authenticate (a malformed signature).
    await assert.rejects(kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })), { name: 'NotFoundException' });
    const invalid = await fetch(server.url, {
      method: 'POST', headers: { 'X-Amz-Target': 'TrentService.GenerateRandom', 'Content-Type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ NumberOfBytes: 5000 }),
    });
    assert.equal(invalid.status, 400);
    const unauthenticated = await fetch(server.url, {
      method: 'POST', body: '{}',
      headers: { 'X-Amz-Target': 'TrentService.ListKeys', 'Content-Type': 'application/x-amz-json-1.1', Authorization: 'AWS4-HMAC-SHA256 Credential=AKIAUNSIGNED/garbage' },
    });
    assert.equal(unauthenticated.status, 400);
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('GetKeyLastUsage answers from the trail: the last successful cryptographic operation', async () => {
    const usage = await kms.send(new GetKeyLastUsageCommand({ KeyId: keyArn }));
    assert.equal(usage.KeyId, keyId);
    assert.equal(usage.KeyLastUsage?.Operation, 'GenerateDataKey');
    assert.equal(usage.KeyLastUsage?.KmsRequestId, gdkRequestId);
    assert.ok(usage.KeyLastUsage?.CloudTrailEventId);
    assert.ok(usage.KeyCreationDate && usage.TrackingStartDate && usage.TrackingStartDate >= new Date(usage.KeyCreationDate.getTime() - 1000));
    // A failed use does not count.
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })), { name: 'DisabledException' });
    assert.equal((await kms.send(new GetKeyLastUsageCommand({ KeyId: keyId }))).KeyLastUsage?.KmsRequestId, gdkRequestId);
    // Key id or key ARN only, of the caller's account.
    await assert.rejects(kms.send(new GetKeyLastUsageCommand({ KeyId: 'alias/audited' })), { name: 'NotFoundException' });
    const other = devClient(server.url, { accessKeyId: '444455556666' });
    await assert.rejects(other.send(new GetKeyLastUsageCommand({ KeyId: keyArn })), { name: 'NotFoundException' });
    other.destroy();
    // The event id is the CloudTrail event of that request.
    const [event] = (await awsCli(server.url, dataDir, { service: 'cloudtrail' })('lookup-events', '--lookup-attributes', `AttributeKey=EventId,AttributeValue=${(await kms.send(new GetKeyLastUsageCommand({ KeyId: keyId }))).KeyLastUsage!.CloudTrailEventId}`)).Events;
    assert.equal(JSON.parse(event.CloudTrailEvent).requestID, gdkRequestId);
  });

  it('records the scheduled deletion of a key as a DeleteKey service event naming the key', async () => {
    const doomed = (await kms.send(new CreateKeyCommand({ Description: 'doomed' }))).KeyMetadata!.Arn!;
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: doomed, PendingWindowInDays: 7 }));
    const moved = await fetch(new URL('/_trent/dev/clock', server.url), { method: 'POST', body: JSON.stringify({ advanceSeconds: 8 * 86400 }) });
    assert.equal(moved.status, 200);
    const cli = awsCli(server.url, dataDir, { service: 'cloudtrail', credentials: { accessKeyId: '111122223333', secretAccessKey: 'x' } });
    const deleted = (await cli('lookup-events', '--lookup-attributes', `AttributeKey=ResourceName,AttributeValue=${doomed}`)).Events.map((e: any) => JSON.parse(e.CloudTrailEvent));
    assert.deepEqual(deleted.map((e: any) => e.eventName), ['DeleteKey', 'ScheduleKeyDeletion', 'CreateKey']);
    assert.equal(deleted[0].eventType, 'AwsServiceEvent');
    assert.equal(deleted[1].readOnly, false);
    assert.deepEqual(deleted[1].requestParameters, { keyId: doomed, pendingWindowInDays: 7 });
  });

  it('aws cloudtrail lookup-events reads the trail: the caller sees its own account, filtered and paged', async () => {
    const cli = awsCli(server.url, dataDir, { service: 'cloudtrail', credentials: { accessKeyId: '111122223333', secretAccessKey: 'x' } });
    const encrypts = await cli('lookup-events', '--lookup-attributes', 'AttributeKey=EventName,AttributeValue=Encrypt');
    assert.ok(encrypts.Events.length >= 1);
    const e = encrypts.Events.find((x: any) => JSON.parse(x.CloudTrailEvent).errorCode === undefined);
    assert.equal(e.EventSource, 'kms.amazonaws.com');
    assert.equal(e.ReadOnly, 'true');
    assert.deepEqual(e.Resources, [{ ResourceType: 'AWS::KMS::Key', ResourceName: keyArn }]);
    const byKey = await cli('lookup-events', '--lookup-attributes', `AttributeKey=ResourceName,AttributeValue=${keyId}`);
    assert.ok(byKey.Events.some((x: any) => x.EventName === 'CreateKey'));
    const page = await cli('lookup-events', '--max-items', '2');
    assert.equal(page.Events.length, 2);
    assert.ok(page.NextToken, 'more to page through');
    const otherAccount = awsCli(server.url, dataDir, { service: 'cloudtrail', credentials: { accessKeyId: '444455556666', secretAccessKey: 'x' } });
    const others = await otherAccount('lookup-events');
    assert.ok(others.Events.every((x: any) => JSON.parse(x.CloudTrailEvent).recipientAccountId === '444455556666'), 'another account sees none of these');
  });

  it('records every request, allowed or not, CloudTrail-shaped, with no plaintext, data key or ciphertext', async () => {
    await server.stop({ keepData: true });
    const events = lookup(dataDir);
    const byName = (n: string) => events.filter((e) => e.eventName === n);
    const create = byName('CreateKey').find((e) => e.requestParameters?.description === 'audited');
    assert.equal(create.eventVersion, '1.08');
    assert.equal(create.eventSource, 'kms.amazonaws.com');
    assert.equal(create.eventType, 'AwsApiCall');
    assert.equal(create.readOnly, false);
    assert.equal(create.managementEvent, true);
    assert.equal(create.awsRegion, 'us-east-1');
    assert.equal(create.recipientAccountId, '111122223333');
    assert.deepEqual(create.userIdentity, { type: 'Root', principalId: '111122223333', arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333', accessKeyId: '111122223333' });
    assert.deepEqual(create.requestParameters, { description: 'audited', tags: [{ tagKey: 'team', tagValue: 'audit' }] });
    assert.deepEqual(create.resources, [{ accountId: '111122223333', type: 'AWS::KMS::Key', ARN: keyArn }]);
    assert.match(create.eventID, /^[0-9a-f-]{36}$/);
    assert.match(create.requestID, /^[0-9a-f-]{36}$/);
    assert.match(create.userAgent, /aws-sdk-js/);
    assert.equal(create.sourceIPAddress, '127.0.0.1');

    const [encrypt] = byName('Encrypt').filter((e) => !e.errorCode);
    assert.deepEqual(encrypt.requestParameters, { keyId: 'alias/audited', encryptionContext: { Department: 'Engineering' } });
    assert.equal(encrypt.responseElements, null);
    assert.equal(encrypt.readOnly, true);
    assert.equal(encrypt.resources[0].ARN, keyArn, 'the key the alias named');
    assert.deepEqual(byName('GenerateDataKey')[0].requestParameters, { keyId, keySpec: 'AES_256' });

    const failed = byName('DescribeKey')[0];
    assert.equal(failed.errorCode, 'NotFoundException');
    assert.match(failed.errorMessage, /does not exist/);
    assert.equal(byName('GenerateRandom')[0].errorCode, 'ValidationException');
    const unauthenticated = byName('ListKeys')[0];
    assert.equal(unauthenticated.errorCode, 'IncompleteSignatureException');
    assert.deepEqual(unauthenticated.userIdentity, { type: 'Unknown', accessKeyId: 'AKIAUNSIGNED' });
    assert.equal(byName('Encrypt').filter((e) => e.errorCode === 'DisabledException').length, 1);
    for (const name of ['CreateAlias', 'Decrypt', 'DisableKey', 'GetKeyLastUsage']) assert.ok(byName(name).length >= 1, name);

    // No secret in any form: in the events, the streamed log, or anywhere in the database files.
    const places = { lookup: JSON.stringify(events), log: readFileSync(auditLog, 'utf8') };
    for (const f of ['trent.db', 'trent.db-wal']) if (existsSync(path.join(dataDir, f))) Object.assign(places, { [f]: readFileSync(path.join(dataDir, f)).toString('latin1') });
    for (const secret of secrets) {
      for (const form of forms(secret)) for (const [where, text] of Object.entries(places)) assert.ok(!text.includes(form), `a secret is in ${where}`);
    }
    // The streamed log holds the same events, one JSON line each.
    const streamed = places.log.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(new Set(streamed.map((e) => e.eventID)), new Set(events.map((e) => e.eventID)));

    const verified = trent('audit', 'verify', '--data-dir', dataDir);
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, new RegExp(`OK: ${events.length} audit events`));
    assert.equal(existsSync(path.join(dataDir, 'audit-session')), false, 'a clean stop removes the session marker');
  });

  it('trent audit lookup filters by event name, key, principal and time', () => {
    assert.ok(lookup(dataDir, '--event-name', 'Encrypt').every((e) => e.eventName === 'Encrypt'));
    const byKey = lookup(dataDir, '--key', keyId);
    assert.ok(byKey.length >= 6 && byKey.every((e) => e.resources[0].ARN === keyArn));
    assert.deepEqual(lookup(dataDir, '--key', keyArn).map((e) => e.eventID), byKey.map((e) => e.eventID));
    assert.equal(lookup(dataDir, '--principal', 'arn:aws:iam::999999999999:root').length, 0);
    assert.equal(lookup(dataDir, '--end-time', '2000-01-01T00:00:00Z').length, 0);
    assert.equal(lookup(dataDir, '--max-results', '3').length, 3);
  });

  it('trent audit verify finds an edited event and a deleted event', () => {
    const db = path.join(dataDir, 'trent.db');
    assert.ok(!existsSync(`${db}-wal`) || readFileSync(`${db}-wal`).length === 0, 'the stopped server left no WAL to copy');
    const { Database } = sqliteDriver();
    const edited = path.join(dataDir, 'edited.db');
    copyFileSync(db, edited);
    let h = new Database(edited);
    // Hide the disabled-key failure: rewrite its error in the JSON (the lookup columns do not cover it).
    const row = h.prepare("SELECT seq, event FROM audit_events WHERE event LIKE '%DisabledException%'").get() as { seq: number; event: string };
    h.prepare('UPDATE audit_events SET event = ? WHERE seq = ?').run(row.event.replace('"errorCode":"DisabledException",', ''), row.seq);
    h.close();
    let r = trent('audit', 'verify', '--data-dir', asDataDir(edited));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`fails at event ${row.seq} \\(modified\\)`));

    const deleted = path.join(dataDir, 'deleted.db');
    copyFileSync(db, deleted);
    h = new Database(deleted);
    h.prepare('DELETE FROM audit_events WHERE seq = 2').run();
    h.close();
    r = trent('audit', 'verify', '--data-dir', asDataDir(deleted));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /fails at event 2 \(missing\)/);

    // The last event deleted: the chain head still counts it.
    const truncated = path.join(dataDir, 'truncated.db');
    copyFileSync(db, truncated);
    h = new Database(truncated);
    const last = (h.prepare('SELECT max(seq) AS n FROM audit_events').get() as { n: number }).n;
    h.prepare('DELETE FROM audit_events WHERE seq = ?').run(last);
    h.close();
    r = trent('audit', 'verify', '--data-dir', asDataDir(truncated));
    assert.equal(r.status, 1);
    assert.match(r.stdout, new RegExp(`fails at event ${last} \\(missing\\)`));
  });

  /** A data dir holding a copy of `file` as its SQLite store. */
  function asDataDir(file: string): string {
    const dir = mkdtempSync(path.join(dataDir, 'copy-'));
    copyFileSync(file, path.join(dir, 'trent.db'));
    return dir;
  }
});

describe('audit trail: a state change and its event commit together', () => {
  it('keeps the event of a CreateKey answered just before kill -9, and notes the unclean stop', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trent-audit-kill-'));
    try {
      let server = await startServer({ dataDir, args: ['--request-log', 'off', '--audit-flush-ms', '10000'] });
      let kms = devClient(server.url);
      const keyArn = (await kms.send(new CreateKeyCommand({ Description: 'before the crash' }))).KeyMetadata!.Arn!;
      server.process.kill('SIGKILL');
      await new Promise((r) => server.process.once('exit', r));
      kms.destroy();
      assert.ok(existsSync(path.join(dataDir, 'audit-session')), 'the crashed run left its marker');

      server = await startServer({ dataDir, args: ['--request-log', 'off'] });
      kms = devClient(server.url);
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata?.Arn, keyArn);
      await server.stop({ keepData: true });
      kms.destroy();
      const events = lookup(dataDir);
      const create = events.find((e) => e.eventName === 'CreateKey');
      assert.ok(create, 'the CreateKey event survived the kill');
      assert.equal(create.resources[0].ARN, keyArn);
      const notice = events.find((e) => e.eventName === 'AuditEventsPossiblyLost');
      assert.ok(notice, 'the restart recorded that queued events may be lost');
      assert.equal(notice.eventType, 'AwsServiceEvent');
      assert.equal(trent('audit', 'verify', '--data-dir', dataDir).status, 0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('audit trail: LookupEvents with SigV4 (non-dev server)', () => {
  it('accepts a request signed for the service cloudtrail with Trent credentials, and refuses one signed for kms', async () => {
    const server = await startServer({ dev: false, args: ['--request-log', 'off'] });
    try {
      const profile = Object.fromEntries(
        readFileSync(path.join(server.dataDir, 'credentials'), 'utf8').split('\n').map((l) => /^\s*(aws_\w+)\s*=\s*(\S+)/.exec(l)).filter((m) => m).map((m) => [m![1], m![2]]),
      );
      const credentials = { accessKeyId: profile.aws_access_key_id!, secretAccessKey: profile.aws_secret_access_key! };
      const kms = new KMSClient({ endpoint: server.url, region: 'us-east-1', credentials, maxAttempts: 1 });
      const keyArn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
      kms.destroy();
      const events = (await awsCli(server.url, server.dataDir, { service: 'cloudtrail', credentials })('lookup-events')).Events;
      const create = events.find((e: any) => e.EventName === 'CreateKey');
      assert.equal(create.AccessKeyId, credentials.accessKeyId);
      assert.equal(create.Username, 'root');
      assert.equal(JSON.parse(create.CloudTrailEvent).resources[0].ARN, keyArn);
      await assert.rejects(
        awsCli(server.url, server.dataDir, { service: 'cloudtrail', credentials: { ...credentials, secretAccessKey: 'wrong' } })('lookup-events'),
        /signature we calculated does not match/,
      );
      // A KMS signature does not open CloudTrail (the credential scope names the service).
      const signedForKms = await fetch(server.url, {
        method: 'POST',
        headers: {
          'X-Amz-Target': 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents', 'Content-Type': 'application/x-amz-json-1.1',
          Authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
          'X-Amz-Date': '20260101T000000Z',
        },
        body: '{}',
      });
      assert.equal(signedForKms.status, 400);
      assert.match(((await signedForKms.json()) as { message: string }).message, /scoped to correct service: 'cloudtrail'/);
    } finally {
      await server.stop();
    }
  });
});
