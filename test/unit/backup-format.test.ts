import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { BackupFormatError, readBackup, writeBackup } from '../../src/cli/backup-format.js';
import type { SnapshotRecord } from '../../src/domain/ports.js';
import { keyRecord } from '../contract/storage-contract.js';
import { testEvent } from '../contract/audit-contract.js';
import { chainHash, GENESIS_HASH } from '../../src/domain/audit-chain.js';

const scope = { account: '111122223333', region: 'us-east-1' };
const key = keyRecord(scope, 1, { deletionDate: new Date(1_900_000_000_000), keyState: 'PendingDeletion' });
/** A key with automatic rotation enabled, rotated once on demand: its rotation fields and its second material's type. */
const rotated = keyRecord(scope, 2, { currentMaterialId: 'm2', rotationPeriodDays: 180, nextRotationDate: new Date(1_800_000_000_000), onDemandRotations: 1, deletionDate: undefined });
/** A key in an AWS_CLOUDHSM custom key store, and its store (password wrapped). */
const inHsm = keyRecord(scope, 3, { origin: 'AWS_CLOUDHSM', customKeyStoreId: 'cks-0123456789abcdef0', deletionDate: undefined });
/** A key in an EXTERNAL_KEY_STORE, and its store (proxy secret wrapped). */
const inXks = keyRecord(scope, 4, { origin: 'EXTERNAL_KEY_STORE', customKeyStoreId: 'cks-0123456789abcdef1', xksKeyId: 'foo.1', deletionDate: undefined });
const RECORDS: SnapshotRecord[] = [
  { type: 'setting', name: 'root.check', value: 'abc=' },
  {
    type: 'customKeyStore',
    customKeyStore: {
      ...scope, customKeyStoreId: 'cks-0123456789abcdef0', name: 'hsm ✓', type: 'AWS_CLOUDHSM', cloudHsmClusterId: 'cluster-abcdefghijk',
      trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n', passwordWrapped: Buffer.of(1, 2, 3),
      connectionState: 'FAILED', connectionErrorCode: 'INVALID_CREDENTIALS', creationDate: new Date(7), version: 3,
    },
  },
  {
    type: 'customKeyStore',
    customKeyStore: {
      ...scope, customKeyStoreId: 'cks-0123456789abcdef1', name: 'xks', type: 'EXTERNAL_KEY_STORE',
      xks: { uriEndpoint: 'https://xks.example.com', uriPath: '/a/kms/xks/v1', connectivity: 'PUBLIC_ENDPOINT', accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretWrapped: Buffer.of(4, 5, 6) },
      connectionState: 'CONNECTED', creationDate: new Date(8), version: 2,
    },
  },
  { type: 'principal', principal: { account: '111122223333', kind: 'role', name: 'App', path: '/svc/', arn: 'arn:aws:iam::111122223333:role/svc/App', createdAt: new Date(7) } },
  { type: 'identityPolicy', policy: { principalArn: 'arn:aws:iam::111122223333:role/svc/App', policyName: 'p', document: '{"Statement":[]}' } },
  { type: 'key', key },
  { type: 'key', key: inHsm },
  { type: 'key', key: inXks },
  { type: 'key', key: rotated },
  { type: 'material', material: { keyArn: key.arn, materialId: 'm1', wrapped: Buffer.of(1, 0, 255, 7), createdAt: new Date(5) } },
  { type: 'material', material: { keyArn: rotated.arn, materialId: 'm2', wrapped: Buffer.of(9), createdAt: new Date(6), rotationType: 'ON_DEMAND' } },
  { type: 'tag', keyArn: key.arn, tag: { key: 'k', value: '' } },
  {
    type: 'grant',
    grant: {
      keyArn: key.arn, account: key.account, region: key.region, grantId: 'ab'.repeat(32), name: 'g', granteePrincipal: 'arn:aws:iam::444455556666:root',
      retiringPrincipal: 'arn:aws:iam::444455556666:role/r', issuingAccount: 'arn:aws:iam::111122223333:root', operations: ['Encrypt', 'CreateGrant'],
      constraints: { encryptionContextSubset: { a: 'b' } }, creationDate: new Date(7),
    },
  },
  {
    type: 'grant',
    grant: {
      keyArn: key.arn, account: key.account, region: key.region, grantId: 'cd'.repeat(32), granteePrincipal: 'arn:aws:iam::444455556666:root',
      issuingAccount: 'arn:aws:iam::111122223333:root', operations: ['DescribeKey'], creationDate: new Date(8),
    },
  },
];
const event = testEvent({ keyArn: key.arn, user: 'ünïcode' });
RECORDS.push({ type: 'auditEvent', event: { ...event, seq: 1, prevHash: GENESIS_HASH, hash: chainHash(GENESIS_HASH, 1, event.json) } });

async function* from(records: SnapshotRecord[]) {
  yield* records;
}

async function readAll(file: string) {
  const out: SnapshotRecord[] = [];
  const it = readBackup(file);
  for (;;) {
    const r = await it.next();
    if (r.done) return { records: out, summary: r.value };
    out.push(r.value);
  }
}

/** Rewrites a backup's records (as JSON lines) and recomputes a valid trailer, so only the change is under test. */
function rewrite(file: string, edit: (lines: string[]) => string[]): void {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  const trailer = JSON.parse(lines.pop()!) as Record<string, unknown>;
  const body = edit(lines).map((l) => `${l}\n`).join('');
  trailer.sha256 = createHash('sha256').update(body).digest('hex');
  writeFileSync(file, `${body}${JSON.stringify(trailer)}\n`);
}

describe('backup file format', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trent-backup-format-'));
  let n = 0;
  const write = async () => {
    const file = path.join(dir, `b${n++}`);
    await writeBackup(file, { trentVersion: '9.9.9', createdAt: '2025-01-01T00:00:00.000Z', source: 'sqlite' }, from(RECORDS));
    return file;
  };

  it('round-trips every record exactly, with a header, counts and the SHA-256', async () => {
    const file = await write();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const { records, summary } = await readAll(file);
    assert.deepEqual(records, RECORDS);
    assert.equal(summary.header.trentVersion, '9.9.9');
    assert.deepEqual(summary.counts, { setting: 1, accessKey: 0, principal: 1, identityPolicy: 1, customKeyStore: 2, key: 4, material: 2, alias: 0, tag: 1, grant: 2, auditEvent: 1 });
    const text = readFileSync(file, 'utf8');
    const body = text.slice(0, text.lastIndexOf('{"type":"end"'));
    assert.equal(summary.sha256, createHash('sha256').update(body).digest('hex'));
    await assert.rejects(writeBackup(file, { trentVersion: 'x', createdAt: 'x', source: 'sqlite' }, from([])), /already exists/);
    assert.deepEqual((await readAll(file)).records, RECORDS, 'the existing file is untouched');
  });

  it('leaves no file behind when the records fail', async () => {
    const file = path.join(dir, 'failed');
    async function* failing() {
      yield RECORDS[0]!;
      throw new Error('store went away');
    }
    await assert.rejects(writeBackup(file, { trentVersion: 'x', createdAt: 'x', source: 'postgres' }, failing()), /store went away/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('failed')), [], 'neither the file nor its temporary file');
  });

  const refusals: [string, (lines: string[]) => string[], RegExp][] = [
    ['an unknown format version', (l) => [l[0]!.replace('"formatVersion":1', '"formatVersion":2'), ...l.slice(1)], /format version 2; this Trent reads version 1/],
    ['not a Trent backup', (l) => [l[0]!.replace('trent-backup', 'other'), ...l.slice(1)], /is not a Trent backup/],
    ['an unknown field', (l) => l.map((x) => x.replace('"type":"tag",', '"type":"tag","extra":1,')), /unknown field "extra"/],
    ['an unknown record type', (l) => l.map((x) => x.replace('"type":"tag"', '"type":"widget"')), /unknown record type "widget"/],
    ['a key state outside the model', (l) => l.map((x) => x.replace('"PendingDeletion"', '"Gone"')), /"keyState" must be one of/],
    ['bytes that are not base64', (l) => l.map((x) => x.replace(/"wrapped":"[^"]*"/, '"wrapped":"not base64!"')), /"wrapped" must be base64/],
    ['a missing field', (l) => l.map((x) => x.replace(',"value":""', '')), /missing "value"/],
    ['a date that is not an integer', (l) => l.map((x) => x.replace('"createdAt":5', '"createdAt":"yesterday"')), /"createdAt" must be a non-negative integer/],
    ['a rotation type outside the model', (l) => l.map((x) => x.replace('"ON_DEMAND"', '"SOMETIMES"')), /"rotationType" must be one of/],
    ['a rotation period that is not an integer', (l) => l.map((x) => x.replace('"rotationPeriodDays":180', '"rotationPeriodDays":"180"')), /"rotationPeriodDays" must be a non-negative integer/],
    ['a line that is not JSON', (l) => [...l.slice(0, 2), '{"type":', ...l.slice(2)], /not JSON/],
  ];
  for (const [what, edit, why] of refusals) {
    it(`refuses ${what}`, async () => {
      const file = await write();
      rewrite(file, edit);
      await assert.rejects(readAll(file), (err: Error) => err instanceof BackupFormatError && why.test(err.message));
    });
  }

  it('reads a backup made before principals existed (its trailer counts no principals or identity policies)', async () => {
    const file = path.join(dir, `b${n++}`);
    await writeBackup(file, { trentVersion: '0.1.0', createdAt: '2025-01-01T00:00:00.000Z', source: 'sqlite' }, from(RECORDS.filter((r) => r.type !== 'principal' && r.type !== 'identityPolicy')));
    writeFileSync(file, readFileSync(file, 'utf8').replace('"principal":0,"identityPolicy":0,', ''));
    assert.doesNotMatch(readFileSync(file, "utf8"), /"(principal|identityPolicy)"/);
    assert.equal((await readAll(file)).records.length, RECORDS.length - 2);
  });

  it('reads a key and a material written before rotation existed (no rotation fields) as not rotated', async () => {
    const file = await write();
    const text = readFileSync(file, 'utf8');
    assert.match(text, /"keyId":"[^"]*1","arn[^\n]*"version":1\}/, 'a key without rotation is written without rotation fields');
    const { records } = await readAll(file);
    const first = records.find((r) => r.type === 'key')!;
    assert.ok(first.type === 'key' && !('rotationPeriodDays' in first.key) && !('onDemandRotations' in first.key));
  });

  it('reads a backup made before the audit trail existed (no auditEvent count) as having no events', async () => {
    const file = path.join(dir, 'pre-audit');
    await writeBackup(file, { trentVersion: '0.0.1', createdAt: '2025-01-01T00:00:00.000Z', source: 'sqlite' }, from(RECORDS.filter((r) => r.type !== 'auditEvent')));
    const text = readFileSync(file, 'utf8');
    assert.ok(text.includes(',"auditEvent":0}'));
    writeFileSync(file, text.replace(',"auditEvent":0}', '}'));
    const { summary } = await readAll(file);
    assert.equal(summary.counts.auditEvent, 0);
  });

  it('refuses damage, truncation, a wrong count, data after the trailer and CRLF line ends', async () => {
    const cases: [(text: string) => string, RegExp][] = [
      [(t) => t.replace('"value":"abc="', '"value":"abd="'), /SHA-256 .* does not match/],
      [(t) => t.slice(0, t.length - 10), /middle of a line/],
      [(t) => t.slice(0, t.lastIndexOf('{"type":"end"')), /no trailer line/],
      [(t) => t.replace('"tag":1', '"tag":2'), /trailer counts 2 tag records, the file holds 1/],
      [(t) => `${t}{"type":"setting","name":"late","value":""}\n`, /data after the trailer/],
      [(t) => t.replaceAll('\n', '\r\n'), /SHA-256 .* does not match/],
      [() => '', /is empty/],
    ];
    for (const [edit, why] of cases) {
      const file = await write();
      writeFileSync(file, edit(readFileSync(file, 'utf8')));
      await assert.rejects(readAll(file), (err: Error) => err instanceof BackupFormatError && why.test(err.message), String(why));
    }
  });

  it('cleans up', () => rmSync(dir, { recursive: true, force: true }));
});
