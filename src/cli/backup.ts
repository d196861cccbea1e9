// `trent backup` and `trent restore` (docs/backup.md): a consistent, still-encrypted copy of a store, restorable into
// either backend.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, describeStore, loadConfig, type StoreConfig, type TrentConfig } from '../config/config.js';
import {
  StorageNotEmptyError, type AuditStore, type RootKeyStorage, type SecretWrapper, type SnapshotCounts, type SnapshotRecord, type SnapshotStorage, type Storage, type WrappedSecretRecord,
} from '../domain/ports.js';
import { HSM_CHECK_PREFIX, RootKey } from '../keystores/local/root-key.js';
import { Pkcs11Modules } from '../keystores/pkcs11/pkcs11-token.js';
import { checkValueMatches, openHsmRootKey, ROOT_CHECK_SETTING, ROOT_FINGERPRINT_SETTING, type OpenedRootKey } from '../keystores/root-of-trust.js';
import { PostgresStorage } from '../storage/postgres/postgres-storage.js';
import { SqliteStorage } from '../storage/sqlite/sqlite-storage.js';
import { DataDirInUseError, DataDirLock } from '../storage/data-dir-lock.js';
import { describeSecret, rootWrappedPart, wrappedSecretsOf } from './root-wrapped.js';
import { BACKUP_NOTICE, BackupFormatError, readBackup, writeBackup, type BackupHeader, type BackupSummary } from './backup-format.js';

export const BACKUP_USAGE = `  trent backup --out FILE [--store sqlite|postgres://…] [--data-dir DIR] [--config FILE]
      Writes a consistent backup of the store (taken in one read transaction; the server may keep running) to
      FILE (mode 0600; never overwritten). Key material and secrets stay wrapped under the root key, which is
      NOT in the backup: back up the root key file (or passphrase) separately. docs/backup.md
  trent restore --in FILE [--store sqlite|postgres://…] [--data-dir DIR] [--root-key-file FILE | --root-key pkcs11:…] [--config FILE]
      Restores a backup into a new, empty store of either backend, in one transaction. The configured root key
      (--root-key-file, default <data-dir>/root-key, TRENT_ROOT_KEY_PASSPHRASE, or --root-key pkcs11:…) must be the backed-up
      store's: it is checked before anything is written.
`;

type SnapshotStore = Storage & SnapshotStorage & AuditStore & RootKeyStorage;

export const STORE_FLAGS = { store: { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' } } as const;
/** How the commands that need the root key are told which: a file, or a key in a PKCS#11 token (docs/root-key.md). */
export const ROOT_KEY_FLAGS = { 'root-key-file': { type: 'string' }, 'root-key': { type: 'string' }, 'pkcs11-module': { type: 'string' } } as const;

export function config(values: Record<string, unknown>): TrentConfig {
  const flags: Record<string, string> = {};
  for (const name of ['store', 'data-dir', 'config', 'root-key-file', 'root-key', 'pkcs11-module']) if (typeof values[name] === 'string') flags[name] = values[name] as string;
  return loadConfig(flags, process.env);
}

export function openStore(store: StoreConfig): SnapshotStore {
  switch (store.kind) {
    case 'sqlite':
      return new SqliteStorage(store.file);
    case 'postgres':
      return new PostgresStorage(store.url, { maxConnections: 2 });
    default:
      return store satisfies never;
  }
}

/**
 * The data dir's lock for a command that must run offline (docs/deployment.md "One server per data dir"): held until
 * the command ends, so that no server starts under it; refused while a server (or another such command) holds it.
 */
export function lockOffline(dataDir: string, command: string, nothing: string): DataDirLock {
  try {
    return DataDirLock.acquire(dataDir, command);
  } catch (err) {
    if (err instanceof DataDirInUseError) throw new Error(`${err.holderText}: stop it first; ${nothing}`);
    throw err;
  }
}

function trentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const describeCounts = (c: SnapshotCounts): string =>
  `${c.key} keys, ${c.material} key materials, ${c.alias} aliases, ${c.tag} tags, ${c.customKeyStore > 0 ? `${c.customKeyStore} custom key stores, ` : ''}${c.accessKey} access keys, ${c.setting} settings, ${c.principal} users and roles, ${c.identityPolicy} identity policies, ${c.auditEvent} audit events`;

export async function backupCommand(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...STORE_FLAGS, out: { type: 'string' } }, strict: true, allowPositionals: false });
  if (!values.out) throw new ConfigError('trent backup needs --out FILE');
  const cfg = config(values);
  process.umask(0o077);
  if (cfg.store.kind === 'sqlite' && !existsSync(cfg.store.file)) throw new ConfigError(`there is no SQLite store at ${cfg.store.file} (check --data-dir and --store)`);
  const storage = openStore(cfg.store);
  let summary: BackupSummary;
  let hsmRoot = false;
  try {
    await storage.migrate();
    hsmRoot = (await storage.getSetting(ROOT_CHECK_SETTING))?.startsWith(HSM_CHECK_PREFIX) === true;
    summary = await writeBackup(values.out, { trentVersion: trentVersion(), createdAt: new Date().toISOString(), source: cfg.store.kind }, storage.exportSnapshot());
  } finally {
    await storage.close();
  }
  const rootKey = hsmRoot
    ? 'the root key in the PKCS#11 token (non-extractable: with the HSM\'s own backup means; restore needs that same token key, docs/root-key.md)'
    : cfg.rootKeyPassphrase ? 'the root key passphrase (TRENT_ROOT_KEY_PASSPHRASE)' : `the root key file ${cfg.rootKeyFile}`;
  out.write(
    `Backed up ${describeStore(cfg.store)} to ${path.resolve(values.out)}: ${describeCounts(summary.counts)}.\n` +
      `SHA-256 of the content: ${summary.sha256}\n\n` +
      `WARNING: THE ROOT KEY IS NOT IN THIS BACKUP. ${BACKUP_NOTICE}\n` +
      `Back up ${rootKey} separately, and keep it apart from this file.\n` +
      `The administrator credentials file (${path.join(cfg.dataDir, 'credentials')}) is not in the backup either.\n`,
  );
}

interface Prepared {
  readonly summary: BackupSummary;
  readonly settings: ReadonlyMap<string, string>;
}

/** Reads the whole backup once: intact, complete, and its settings (root key check value, passphrase salt). */
async function prepare(file: string): Promise<Prepared> {
  if (!existsSync(file)) throw new ConfigError(`there is no backup file ${file}`);
  const settings = new Map<string, string>();
  const it = readBackup(file);
  for (;;) {
    const r = await it.next();
    if (r.done) return { summary: r.value, settings };
    if (r.value.type === 'setting') settings.set(r.value.name, r.value.value);
  }
}

async function rootKeyFor(cfg: TrentConfig, settings: ReadonlyMap<string, string>): Promise<OpenedRootKey> {
  if (cfg.rootKey) {
    // Backups stay wrapped under the HSM root key: restore needs the same token key (docs/root-key.md).
    const key = await openHsmRootKey(cfg.rootKey, { ...cfg, rootKeyCreate: false }, new Pkcs11Modules(), { bytes: (n) => randomBytes(n), uuid: () => randomUUID() });
    return { kind: 'hsm', key };
  }
  if (cfg.rootKeyPassphrase) {
    const salt = settings.get('root.scrypt.salt');
    if (!salt) throw new Error('TRENT_ROOT_KEY_PASSPHRASE is set, but the backed-up store did not use a passphrase (it has no scrypt salt): restore with its root key file instead; nothing restored');
    return { kind: 'passphrase', key: await RootKey.fromPassphraseAndSalt(cfg.rootKeyPassphrase, salt) };
  }
  try {
    return { kind: 'file', key: await RootKey.fromExistingFile(cfg.rootKeyFile) };
  } catch (err) {
    throw new Error(`${(err as Error).message}: copy the root key file of the backed-up deployment there (or give --root-key-file, --root-key pkcs11:..., or TRENT_ROOT_KEY_PASSPHRASE); nothing restored`);
  }
}

const rootKeyName = (cfg: TrentConfig): string => (cfg.rootKey ? `--root-key ${cfg.rootKey.split('?')[0]}` : cfg.rootKeyPassphrase ? 'TRENT_ROOT_KEY_PASSPHRASE' : cfg.rootKeyFile);

/**
 * Passes the records on, refusing any wrapped material or secret that does not unwrap under `rootKey` (erased
 * material, empty, and HSM key references, which hold nothing of the root key, pass as they are).
 */
async function* unwrappable(records: AsyncIterable<SnapshotRecord>, rootKey: SecretWrapper): AsyncIterable<SnapshotRecord> {
  const check = (s: WrappedSecretRecord) => {
    const part = rootWrappedPart(s);
    if (!part) return;
    const plain = rootKey.unwrap(part.context, part.wrapped);
    if (!plain) throw new BackupFormatError(`${describeSecret(s)} does not unwrap under the configured root key`);
    plain.fill(0);
  };
  for await (const r of records) {
    for (const secret of wrappedSecretsOf(r)) check(secret);
    yield r;
  }
}

export async function restoreCommand(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { values } = parseArgs({
    args: argv, options: { ...STORE_FLAGS, ...ROOT_KEY_FLAGS, in: { type: 'string' } }, strict: true, allowPositionals: false,
  });
  if (!values.in) throw new ConfigError('trent restore needs --in FILE');
  const file = values.in;
  const cfg = config(values);
  process.umask(0o077);

  // 1. The backup is whole and intact, and 2. the root key is the backed-up store's, before the target is touched.
  const { summary, settings } = await prepare(file).catch((err: unknown) => {
    throw err instanceof BackupFormatError ? new Error(`${err.message}: nothing restored`) : err;
  });
  const opened = await rootKeyFor(cfg, settings);
  const rootKey = opened.key;
  const check = settings.get('root.check');
  try {
    if (check !== undefined && !checkValueMatches(opened, check)) {
      throw new Error(
        `the root key does not match this backup (wrong key file, passphrase or token key): nothing restored. ` +
          `Use the root key of the deployment the backup was made from (${rootKeyName(cfg)}).`,
      );
    }
    const fp = settings.get(ROOT_FINGERPRINT_SETTING);
    if (fp !== undefined && !rootKey.unwrap(['root-fingerprint-key'], Buffer.from(fp, 'base64'))?.fill(0)) {
      throw new Error('the backup\'s fingerprint key does not unwrap under the configured root key: nothing restored');
    }
  } catch (err) {
    if (opened.kind === 'hsm') opened.key.close();
    throw err;
  }

  // 3. One transaction into an empty store. Records are read (and checked) again as they are written: a file that
  // changed since step 1 fails the trailer check before the commit, and nothing is written. A SQLite store is
  // restored under its data dir's lock: not while a server runs on it, and no server starts on it meanwhile.
  let lock: DataDirLock | undefined;
  if (cfg.store.kind === 'sqlite') {
    await mkdir(cfg.dataDir, { recursive: true, mode: 0o700 });
    try {
      lock = lockOffline(cfg.dataDir, 'trent restore', 'nothing restored');
    } catch (err) {
      if (opened.kind === 'hsm') opened.key.close();
      throw err;
    }
  }
  let restored = false;
  try {
    await restoreInto(cfg, file, summary, settings, opened, out);
    restored = true;
  } finally {
    // A failed restore leaves no trace: not the lock file either, if it made it.
    lock?.release({ removeFile: !restored && lock.madeFile });
  }
}

async function restoreInto(cfg: TrentConfig, file: string, summary: BackupSummary, settings: ReadonlyMap<string, string>, opened: OpenedRootKey, out: NodeJS.WritableStream): Promise<void> {
  const rootKey = opened.key;
  const check = settings.get('root.check');
  if (cfg.store.kind === 'postgres') await mkdir(cfg.dataDir, { recursive: true, mode: 0o700 });
  const created = cfg.store.kind === 'sqlite' && !existsSync(cfg.store.file);
  const storage = openStore(cfg.store);
  let counts: SnapshotCounts;
  let header: BackupHeader | undefined;
  try {
    await storage.migrate();
    counts = await storage.importSnapshot(unwrappable(readBackup(file, (h) => (header = h)), rootKey));
  } catch (err) {
    if (opened.kind === 'hsm') opened.key.close();
    await storage.close().catch(() => {});
    // A SQLite file this command created holds nothing: remove it, so that a failed restore leaves no trace.
    if (created && cfg.store.kind === 'sqlite') for (const f of ['', '-wal', '-shm']) rmSync(`${cfg.store.file}${f}`, { force: true });
    if (err instanceof StorageNotEmptyError) {
      const hint = cfg.store.kind === 'sqlite' ? `move ${cfg.store.file} away, or restore into another --data-dir` : 'create a new database for the restore';
      throw new Error(`${err.message}; ${hint}. Nothing restored.`);
    }
    if (err instanceof BackupFormatError) throw new Error(`${err.message}: nothing restored`);
    throw err;
  }
  if (opened.kind === 'hsm') opened.key.close();
  await storage.close();
  const from = header ?? summary.header;
  out.write(
    `Restored ${file} (made ${from.createdAt} from ${from.source === 'sqlite' ? 'SQLite' : 'PostgreSQL'} by Trent ${from.trentVersion}) ` +
      `into ${describeStore(cfg.store)}: ${describeCounts(counts)}.\n` +
      (check === undefined ? 'The backup held no root key check value: the store had never been served.\n' : 'The configured root key matches the backup.\n') +
      `Start Trent on it with the same root key (${rootKeyName(cfg)}). ` +
      `Administrator credentials are not in the backup: copy the old credentials file to ${path.join(cfg.dataDir, 'credentials')}.\n`,
  );
}
