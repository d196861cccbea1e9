// `trent backup` / `trent restore` end to end, with real Trent processes on real stores: SQLite → PostgreSQL (root key
// file) and PostgreSQL → SQLite (passphrase). Every earlier ciphertext decrypts on the restored store; aliases, tags and
// key states are the same; the wrong root key, a damaged or truncated file, and a non-empty target are refused without
// writing anything; the backup file holds no plaintext, data key, unwrapped material or root key.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  CancelKeyDeletionCommand, CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EnableKeyCommand,
  EncryptCommand, GenerateDataKeyCommand, KMSClient, ListAliasesCommand, ListKeysCommand, ListResourceTagsCommand, ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { materialWrapContext } from '../../src/keystores/local/local-keystore.js';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { ROOT } from '../helpers/paths.js';
import { devClient, startServer } from '../helpers/server.js';

const skip = postgresSkipReason();

function trent(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), ...args], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, TRENT_ROOT_KEY_PASSPHRASE: '', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Made {
  readonly plaintext: Buffer;
  readonly dataKeys: Buffer[];
  readonly ciphertexts: { keyId: string; blob: Uint8Array; context: Record<string, string>; plaintext: Buffer }[];
  readonly keyIds: { live: string; tagged: string; disabled: string; pending: string };
}

/** Keys in every state the tests care about, aliases, tags, ciphertexts and data keys, through the SDK. */
async function populate(kms: KMSClient): Promise<Made> {
  const plaintext = Buffer.from(`TRENT-BACKUP-CANARY-${randomBytes(12).toString('hex')}`);
  const create = async (description: string, tags: { TagKey: string; TagValue: string }[] = []) =>
    (await kms.send(new CreateKeyCommand({ Description: description, Tags: tags }))).KeyMetadata!.KeyId!;
  const keyIds = {
    live: await create('live'),
    tagged: await create('tagged', [{ TagKey: 'team', TagValue: 'storage' }, { TagKey: 'empty', TagValue: '' }]),
    disabled: await create('disabled'),
    pending: await create('pending deletion', [{ TagKey: 'going', TagValue: 'away' }]),
  };
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: keyIds.tagged }));
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/app-old', TargetKeyId: keyIds.tagged }));
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/leaving', TargetKeyId: keyIds.pending }));
  const ciphertexts: Made['ciphertexts'] = [];
  for (const [i, keyId] of Object.values(keyIds).entries()) {
    const context = { n: String(i) };
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: context }));
    ciphertexts.push({ keyId, blob: enc.CiphertextBlob!, context, plaintext });
  }
  const dataKeys: Buffer[] = [];
  for (const keyId of ['alias/app', keyIds.live]) {
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    dataKeys.push(Buffer.from(dk.Plaintext!));
    ciphertexts.push({ keyId: dk.KeyId!, blob: dk.CiphertextBlob!, context: {}, plaintext: Buffer.from(dk.Plaintext!) });
  }
  await kms.send(new DisableKeyCommand({ KeyId: keyIds.disabled }));
  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyIds.pending, PendingWindowInDays: 7 }));
  return { plaintext, dataKeys, ciphertexts, keyIds };
}

/** Everything a client can see of the keys: metadata, aliases, tags. */
async function observe(kms: KMSClient) {
  const keys = (await kms.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId!).sort();
  const metadata = [];
  const tags: Record<string, unknown> = {};
  for (const keyId of keys) {
    metadata.push((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata);
    tags[keyId] = (await kms.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags;
  }
  const aliases = (await kms.send(new ListAliasesCommand({}))).Aliases!.map((a) => ({ ...a }));
  return { keys, metadata, tags, aliases };
}

/** Every ciphertext decrypts; keys that are disabled or pending deletion are brought back first, then it must. */
async function decryptAll(kms: KMSClient, made: Made): Promise<void> {
  await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: made.ciphertexts[2]!.blob, EncryptionContext: made.ciphertexts[2]!.context })), /DisabledException|is disabled/);
  await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: made.ciphertexts[3]!.blob, EncryptionContext: made.ciphertexts[3]!.context })), /KMSInvalidStateException|pending deletion/i);
  await kms.send(new EnableKeyCommand({ KeyId: made.keyIds.disabled }));
  await kms.send(new CancelKeyDeletionCommand({ KeyId: made.keyIds.pending }));
  await kms.send(new EnableKeyCommand({ KeyId: made.keyIds.pending }));
  for (const c of made.ciphertexts) {
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: c.blob, EncryptionContext: c.context }));
    assert.ok(Buffer.from(dec.Plaintext!).equals(c.plaintext), `a ciphertext of ${c.keyId} decrypts to what was encrypted`);
    assert.match(dec.KeyId!, new RegExp(c.keyId.replace(/^.*\//, '')));
  }
}

/** The forms a secret could leak in (as test/e2e/no-plaintext-at-rest.test.ts). */
function leaks(haystack: Buffer, secret: Buffer): string[] {
  const hex = secret.toString('hex');
  const forms = { raw: secret, hex: Buffer.from(hex), HEX: Buffer.from(hex.toUpperCase()), base64: Buffer.from(secret.toString('base64')), base64url: Buffer.from(secret.toString('base64url')) };
  return Object.entries(forms).filter(([, bytes]) => haystack.includes(bytes)).map(([form]) => form);
}

/** Checks the backup file: mode 0600, header, and no secret in the clear (materials unwrapped to know what to grep). */
function checkBackupFile(file: string, made: Made, rootKey: RootKey, rootKeyBytes?: Buffer): void {
  assert.equal(statSync(file).mode & 0o777, 0o600, 'the backup file is for its owner only');
  const bytes = readFileSync(file);
  const lines = bytes.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines[0]!.format, 'trent-backup');
  assert.match(String(lines[0]!.notice), /root key, which is NOT in this file/);
  assert.equal(lines.at(-1)!.type, 'end');
  const materials = lines.filter((l) => l.type === 'material');
  assert.equal(materials.length, 4, 'one material per key');
  assert.deepEqual(leaks(bytes, made.plaintext), [], 'the plaintext');
  for (const dk of made.dataKeys) assert.deepEqual(leaks(bytes, dk), [], 'a data key');
  for (const m of materials) {
    const wrapped = Buffer.from(String(m.wrapped), 'base64');
    const material = rootKey.unwrap(materialWrapContext(String(m.keyArn), String(m.materialId)), wrapped);
    assert.ok(material && material.length === 32, 'the material in the backup is wrapped under the root key');
    assert.deepEqual(leaks(bytes, material), [], `unwrapped material of ${String(m.keyArn)}`);
    assert.ok(leaks(bytes, wrapped).includes('base64'), 'sanity: the search finds what is there');
  }
  if (rootKeyBytes) assert.deepEqual(leaks(bytes, rootKeyBytes), [], 'the root key');
}

const readCredentials = (dataDir: string) => {
  const text = readFileSync(path.join(dataDir, 'credentials'), 'utf8');
  return { accessKeyId: /aws_access_key_id = (\S+)/.exec(text)![1]!, secretAccessKey: /aws_secret_access_key = (\S+)/.exec(text)![1]! };
};

async function tableExists(url: string, table: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [table])).rows[0]!.t !== null;
  } finally {
    await c.end();
  }
}

describe('trent backup / trent restore', { skip }, () => {
  it('moves a running SQLite deployment to PostgreSQL: every ciphertext decrypts, states, aliases and tags are the same', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'trent-backup-'));
    try {
      const sourceDir = path.join(work, 'sqlite');
      const source = await startServer({ dataDir: sourceDir });
      const kms = devClient(source.url);
      const made = await populate(kms);
      const before = await observe(kms);

      // A backup of the running server.
      const file = path.join(work, 'trent.backup');
      const b = trent(['backup', '--data-dir', sourceDir, '--out', file]);
      assert.equal(b.status, 0, b.stderr);
      // Settings: the root key check, the administrator key id, the IAM generation.
      assert.match(b.stdout, /4 keys, 4 key materials, 3 aliases, 3 tags, 1 access keys, 3 settings, 0 users and roles, 0 identity policies/);
      assert.match(b.stdout, /THE ROOT KEY IS NOT IN THIS BACKUP/);
      assert.match(b.stdout, new RegExp(`Back up the root key file ${path.join(sourceDir, 'root-key')} separately`));
      const again = trent(['backup', '--data-dir', sourceDir, '--out', file]);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /already exists/, 'an existing backup is never overwritten');
      const rootKeyBytes = Buffer.from(readFileSync(path.join(sourceDir, 'root-key'), 'utf8').trim(), 'base64');
      checkBackupFile(file, made, RootKey.fromBytes(rootKeyBytes), rootKeyBytes);
      kms.destroy();
      assert.equal(await source.stop({ keepData: true }), 0);

      const url = await (await postgresCluster()).createDatabase();
      // The wrong root key: refused before the database is touched (not even a table is created).
      const strangerDir = path.join(work, 'stranger');
      mkdirSync(strangerDir, { mode: 0o700 });
      writeFileSync(path.join(strangerDir, 'root-key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
      const wrong = trent(['restore', '--store', url, '--data-dir', strangerDir, '--in', file]);
      assert.equal(wrong.status, 1);
      assert.match(wrong.stderr, /the root key does not match this backup .*nothing restored/);
      // No root key file at all: refused, and none is created.
      const emptyDir = path.join(work, 'empty');
      const none = trent(['restore', '--store', url, '--data-dir', emptyDir, '--in', file]);
      assert.equal(none.status, 1);
      assert.match(none.stderr, /there is no root key file .*copy the root key file/);
      assert.equal(existsSync(path.join(emptyDir, 'root-key')), false);

      // A damaged and a truncated backup: refused, nothing written.
      const targetDir = path.join(work, 'pg');
      mkdirSync(targetDir, { mode: 0o700 });
      copyFileSync(path.join(sourceDir, 'root-key'), path.join(targetDir, 'root-key'));
      const text = readFileSync(file, 'utf8');
      const damaged = path.join(work, 'damaged.backup');
      writeFileSync(damaged, text.replace('"description":"tagged"', '"description":"tampered"'));
      const truncated = path.join(work, 'truncated.backup');
      writeFileSync(truncated, text.slice(0, Math.floor(text.length * 0.6)));
      const cut = path.join(work, 'cut.backup');
      writeFileSync(cut, text.split('\n').slice(0, -2).join('\n') + '\n');
      for (const [bad, why] of [[damaged, /SHA-256 .* does not match/], [truncated, /truncated/], [cut, /no trailer line/]] as const) {
        const r = trent(['restore', '--store', url, '--data-dir', targetDir, '--in', bad]);
        assert.equal(r.status, 1, r.stdout);
        assert.match(r.stderr, why);
        assert.match(r.stderr, /nothing restored/);
      }
      assert.equal(await tableExists(url, 'keys'), false, 'nothing was written to the database');

      const r = trent(['restore', '--store', url, '--data-dir', targetDir, '--in', file]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /into PostgreSQL postgres:\/\/.*: 4 keys, 4 key materials, 3 aliases, 3 tags, 1 access keys, 3 settings/);
      assert.match(r.stdout, /The configured root key matches the backup/);
      const twice = trent(['restore', '--store', url, '--data-dir', targetDir, '--in', file]);
      assert.equal(twice.status, 1);
      assert.match(twice.stderr, /not empty .*Nothing restored/);

      // Trent on the restored database, with SigV4 (not dev mode) and the old administrator credentials: the access
      // key and its wrapped secret came across too.
      copyFileSync(path.join(sourceDir, 'credentials'), path.join(targetDir, 'credentials'));
      const restored = await startServer({ dataDir: targetDir, dev: false, args: ['--store', url] });
      assert.doesNotMatch(restored.stderr(), /Created a new root key|Created administrator credentials/);
      const admin = new KMSClient({ endpoint: restored.url, region: 'us-east-1', credentials: readCredentials(sourceDir), maxAttempts: 1 });
      try {
        assert.deepEqual(await observe(admin), before, 'keys, states, deletion dates, aliases and tags are the same');
        await decryptAll(admin, made);
      } finally {
        admin.destroy();
        await restored.stop({ keepData: true });
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('moves a PostgreSQL deployment with a passphrase root key to SQLite', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'trent-backup-pg-'));
    const passphrase = { TRENT_ROOT_KEY_PASSPHRASE: 'correct horse battery staple' };
    try {
      const url = await (await postgresCluster()).createDatabase();
      const sourceDir = path.join(work, 'pg');
      const source = await startServer({ dataDir: sourceDir, args: ['--store', url], env: passphrase });
      const kms = devClient(source.url);
      const made = await populate(kms);
      const before = await observe(kms);
      const file = path.join(work, 'pg.backup');
      const b = trent(['backup', '--store', url, '--data-dir', sourceDir, '--out', file], passphrase);
      assert.equal(b.status, 0, b.stderr);
      assert.match(b.stdout, /Back up the root key passphrase \(TRENT_ROOT_KEY_PASSPHRASE\) separately/);
      assert.match(b.stdout, /4 settings/, 'root key check, scrypt salt, administrator key id, IAM generation');
      kms.destroy();
      assert.equal(await source.stop({ keepData: true }), 0);
      const salt = (JSON.parse(readFileSync(file, 'utf8').split('\n').find((l) => l.includes('"root.scrypt.salt"'))!) as { value: string }).value;
      checkBackupFile(file, made, await RootKey.fromPassphraseAndSalt(passphrase.TRENT_ROOT_KEY_PASSPHRASE, salt));

      const targetDir = path.join(work, 'sqlite');
      const wrong = trent(['restore', '--data-dir', targetDir, '--in', file], { TRENT_ROOT_KEY_PASSPHRASE: 'not the right passphrase' });
      assert.equal(wrong.status, 1);
      assert.match(wrong.stderr, /the root key does not match this backup/);
      assert.equal(existsSync(path.join(targetDir, 'trent.db')), false, 'no store was created');
      const noPassphrase = trent(['restore', '--data-dir', targetDir, '--in', file]);
      assert.equal(noPassphrase.status, 1, 'without the passphrase, the root key file is looked for, and there is none');
      assert.match(noPassphrase.stderr, /there is no root key file/);

      // A material that is not the root key's (a forged or moved wrapped blob, with the SHA-256 made to fit): found while
      // the records go in, so the transaction rolls back and the SQLite file the restore created is removed.
      const forged = path.join(work, 'forged.backup');
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      const trailer = JSON.parse(lines.pop()!) as { sha256: string };
      const m = lines.findIndex((l) => l.includes('"type":"material"'));
      const material = JSON.parse(lines[m]!) as { wrapped: string };
      const wrapped = Buffer.from(material.wrapped, 'base64');
      wrapped[wrapped.length - 1]! ^= 1;
      lines[m] = JSON.stringify({ ...material, wrapped: wrapped.toString('base64') });
      const body = lines.map((l) => `${l}\n`).join('');
      trailer.sha256 = createHash('sha256').update(body).digest('hex');
      writeFileSync(forged, `${body}${JSON.stringify(trailer)}\n`);
      const refused = trent(['restore', '--data-dir', targetDir, '--in', forged], passphrase);
      assert.equal(refused.status, 1, refused.stdout);
      assert.match(refused.stderr, /key material .* does not unwrap under the configured root key: nothing restored/);
      assert.equal(existsSync(path.join(targetDir, 'trent.db')), false, 'the failed restore left no store behind');

      const r = trent(['restore', '--data-dir', targetDir, '--in', file], passphrase);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /made .* from PostgreSQL .* into SQLite .*trent\.db: 4 keys/);
      for (const f of ['trent.db']) assert.equal(statSync(path.join(targetDir, f)).mode & 0o077, 0, `${f} is for its owner only`);

      const restored = await startServer({ dataDir: targetDir, env: passphrase });
      const client = devClient(restored.url);
      try {
        assert.deepEqual(await observe(client), before);
        await decryptAll(client, made);
      } finally {
        client.destroy();
        await restored.stop({ keepData: true });
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
