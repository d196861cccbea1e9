// Retention of the audit trail end to end (docs/audit.md "Retention"): `trent audit archive` on a running server's
// SQLite store writes the events before a time to an archive file and prunes them in one transaction; the store then
// verifies from its anchor, the archive verifies on its own and together with the store, a tampered or cut archive
// is found, events removed by hand past the anchor are found, and a backup restored elsewhere still verifies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, EncryptCommand, GetKeyLastUsageCommand, type KMSClient } from '@aws-sdk/client-kms';
import { ROOT } from '../helpers/paths.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { sqliteDriver } from '../../src/storage/sqlite/driver.js';

function trent(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TRENT_ROOT_KEY_PASSPHRASE: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lookup = (dataDir: string) => trent('audit', 'lookup', '--data-dir', dataDir, '--max-results', '10000').stdout.trim().split('\n').map((l) => JSON.parse(l));

describe('trent audit archive (retention), SQLite', () => {
  let server: TestServer;
  let kms: KMSClient;
  const dir = mkdtempSync(path.join(tmpdir(), 'trent-archive-'));
  const dataDir = path.join(dir, 'data');
  const archive = path.join(dir, 'audit-1.jsonl');
  let boundary = '';
  let keyId = '';
  before(async () => {
    server = await startServer({ dataDir, args: ['--request-log', 'off'] });
    kms = devClient(server.url, { accessKeyId: '111122223333' });
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('archives the events before a time and prunes them while the server runs; the store verifies from its anchor', async () => {
    keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (let i = 0; i < 5; i++) await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('old') }));
    // A day later (dev clock): these events stay.
    const moved = trent('dev', 'advance-clock', '1d', '--endpoint', server.url);
    assert.equal(moved.status, 0, moved.stderr);
    for (let i = 0; i < 3; i++) await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('new') }));
    const events = lookup(dataDir);
    const oldOnes = events.filter((e) => Date.parse(e.eventTime) < Date.now() + 12 * 3600_000);
    assert.ok(oldOnes.length >= 6, 'CreateKey and five Encrypts');
    boundary = new Date(Date.now() + 12 * 3600_000).toISOString();

    const r = trent('audit', 'archive', '--data-dir', dataDir, '--before', boundary, '--out', archive);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`Archived events 1 to ${oldOnes.length} \\(${oldOnes.length}, before `));
    const lines = readFileSync(archive, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, oldOnes.length + 1, 'one line per event and the trailer');
    assert.ok(lines.slice(0, -1).every((l) => l.event.eventTime < boundary && /^[0-9a-f]{64}$/.test(l.hash)));
    assert.equal(lines.at(-1).trentAuditArchive.lastSeq, oldOnes.length);

    // The server goes on appending after the prune; the pruned events are gone from the store.
    await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') }));
    const usage = await kms.send(new GetKeyLastUsageCommand({ KeyId: keyId }));
    assert.ok(usage.TrackingStartDate!.getTime() >= Date.parse(boundary) - 1000, 'GetKeyLastUsage tracks from the boundary');
    await server.stop({ keepData: true });
    const left = lookup(dataDir);
    assert.ok(left.every((e) => e.eventTime >= boundary || e.eventName === 'AuditEventsArchived'), 'no archived event is left');
    const pruned = left.find((e) => e.eventName === 'AuditEventsArchived');
    assert.equal(pruned.eventType, 'AwsServiceEvent');
    assert.equal(pruned.serviceEventDetails.archivedThroughSeq, oldOnes.length);
    assert.equal(pruned.serviceEventDetails.archivedThroughHash, lines.at(-2).hash);

    const v = trent('audit', 'verify', '--data-dir', dataDir);
    assert.equal(v.status, 0, v.stdout);
    assert.match(v.stdout, new RegExp(`OK: ${left.length} audit events .* verify from the anchor, event ${oldOnes.length} `));
    const both = trent('audit', 'verify', '--data-dir', dataDir, '--archive', archive);
    assert.equal(both.status, 0, both.stdout);
    assert.match(both.stdout, /OK: archive audit-1\.jsonl: events 1 to \d+/);
    const alone = trent('audit', 'verify-archive', archive);
    assert.equal(alone.status, 0, alone.stdout);
    assert.match(alone.stdout, /from the first event of the trail/);
    assert.match(trent('audit', 'archive', '--data-dir', dataDir, '--before', boundary, '--out', path.join(dir, 'again.jsonl')).stdout, /Nothing to archive/);
    assert.equal(existsSync(path.join(dir, 'again.jsonl')), false);
  });

  it('finds a tampered or cut archive, and events removed from the store past its anchor', () => {
    const text = readFileSync(archive, 'utf8');
    const tampered = path.join(dir, 'tampered.jsonl');
    writeFileSync(tampered, text.replace('"eventName":"Encrypt"', '"eventName":"Decrypt"'));
    const t = trent('audit', 'verify-archive', tampered);
    assert.equal(t.status, 1);
    assert.match(t.stdout, /BROKEN: archive .*tampered\.jsonl: event \d+ \(modified\)/);
    const cut = path.join(dir, 'cut.jsonl');
    writeFileSync(cut, text.split('\n').slice(0, 3).join('\n'));
    assert.match(trent('audit', 'verify-archive', cut).stdout, /not a whole Trent audit archive/);

    // Events deleted by hand, with the anchor moved to hide it: the prune's own event no longer names the anchor.
    const copy = path.join(dir, 'copy');
    mkdirSync(copy);
    copyFileSync(path.join(dataDir, 'trent.db'), path.join(copy, 'trent.db'));
    const { Database } = sqliteDriver();
    const db = new Database(path.join(copy, 'trent.db'));
    const next = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq LIMIT 1').get() as { seq: number; hash: string };
    db.prepare('DELETE FROM audit_events WHERE seq = ?').run(next.seq);
    db.prepare("UPDATE settings SET value = ? WHERE name = 'audit.anchor'").run(JSON.stringify({ hash: next.hash, seq: next.seq }));
    db.close();
    const r = trent('audit', 'verify', '--data-dir', copy);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /no AuditEventsArchived event records that anchor/);
    assert.match(trent('audit', 'verify', '--data-dir', copy, '--archive', archive).stdout, /the archives end at event \d+ .* continues from event/);
  });

  it('a backup of the pruned store restores with its anchor and verifies', () => {
    const backup = path.join(dir, 'backup.trent');
    assert.equal(trent('backup', '--data-dir', dataDir, '--out', backup).status, 0);
    const restored = path.join(dir, 'restored');
    mkdirSync(restored);
    copyFileSync(path.join(dataDir, 'root-key'), path.join(restored, 'root-key'));
    const r = trent('restore', '--data-dir', restored, '--in', backup);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const v = trent('audit', 'verify', '--data-dir', restored, '--archive', archive);
    assert.equal(v.status, 0, v.stdout);
  });
});
