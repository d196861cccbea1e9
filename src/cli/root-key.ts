// `trent root-key migrate` and `trent root-key verify` (docs/root-key.md): moving a store from a root key file or
// passphrase to a root key in a PKCS#11 token (or back, or between tokens), re-wrapping every wrapped secret in one
// transaction; and checking that every wrapped secret of a store opens under the configured root key.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { uuidV7 } from '../domain/audit-event.js';
import { serviceEvent } from '../audit/cloudtrail.js';
import { ConfigError, describeStore, type TrentConfig } from '../config/config.js';
import { StorageInUseError, type RandomSource, type SecretWrapper, type WrappedSecretRecord } from '../domain/ports.js';
import { RootKey } from '../keystores/local/root-key.js';
import { Pkcs11Modules } from '../keystores/pkcs11/pkcs11-token.js';
import { parsePkcs11Uri } from '../keystores/pkcs11/pkcs11-uri.js';
import {
  bindRootKey, checkValueMatches, checkValueOf, FINGERPRINT_KEY_CONTEXT, openConfiguredRootKey, openHsmRootKey, ROOT_CHECK_SETTING,
  ROOT_FINGERPRINT_SETTING, ROOT_SALT_SETTING, type OpenedRootKey,
} from '../keystores/root-of-trust.js';
import { config, lockOffline, openStore, ROOT_KEY_FLAGS, STORE_FLAGS } from './backup.js';
import { describeSecret, rootWrappedPart, wrappedSecretsOf } from './root-wrapped.js';

export const ROOT_KEY_USAGE = `  trent root-key migrate (--to pkcs11:token=…;object=… [--root-key-create] | --to-file FILE)
                 [--store sqlite|postgres://…] [--data-dir DIR] [--root-key-file FILE | --root-key pkcs11:…] [--config FILE]
      Re-wraps every key material, access key secret, custom key store password and external key store proxy secret of
      the store under a new root key (keys in HSM key stores keep their material in the HSM),
      in one transaction, checks each one opens under the new key, and records the new key's check value. The current
      root key is given as for trent serve (--root-key-file, TRENT_ROOT_KEY_PASSPHRASE, or --root-key). --to names a
      key in a PKCS#11 token (module and PIN: the URI's module-path / pin-source, or TRENT_PKCS11_MODULE /
      TRENT_PKCS11_PIN); --to-file a root key file (made if missing). Stop every server on the store first: it refuses
      while one runs (SQLite: the data dir's lock; PostgreSQL: a node's scheduler lease). docs/root-key.md
  trent root-key verify [--store …] [--data-dir DIR] [--root-key-file FILE | --root-key pkcs11:…] [--config FILE]
      Checks that the configured root key is the store's and that every wrapped secret of the store opens under it.
`;

const random: RandomSource = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

const describeRoot = (r: OpenedRootKey, cfg: TrentConfig): string =>
  r.kind === 'hsm' ? r.key.description : r.kind === 'passphrase' ? 'the root key passphrase' : `the root key file ${cfg.rootKeyFile}`;

/** What the audit event says of a root key: its kind, and a token key's URI without its PIN. */
const rootKind = (r: OpenedRootKey): string => (r.kind === 'hsm' ? r.key.description : r.kind === 'passphrase' ? 'passphrase' : 'file');

const closeRoot = (r: OpenedRootKey | undefined) => r?.kind === 'hsm' && r.key.close();

export async function rootKeyCommand(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'migrate') return migrate(rest, out);
  if (sub === 'verify') return verify(rest, out);
  throw new ConfigError(`unknown root-key command "${sub ?? ''}" (migrate, verify)\n${ROOT_KEY_USAGE}`);
}

async function migrate(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...STORE_FLAGS, ...ROOT_KEY_FLAGS, to: { type: 'string' }, 'to-file': { type: 'string' }, 'root-key-create': { type: 'boolean' } },
    strict: true, allowPositionals: false,
  });
  if ((values.to === undefined) === (values['to-file'] === undefined)) throw new ConfigError('trent root-key migrate needs one of --to pkcs11:URI and --to-file FILE');
  if (values.to !== undefined) {
    try {
      parsePkcs11Uri(values.to);
    } catch (err) {
      throw new ConfigError(`--to: ${(err as Error).message}`);
    }
  }
  const cfg = config(values);
  process.umask(0o077);
  if (cfg.store.kind === 'sqlite' && !existsSync(cfg.store.file)) throw new ConfigError(`there is no SQLite store at ${cfg.store.file} (check --data-dir and --store)`);
  // A running server keeps its root key in memory and would go on wrapping new secrets under the old key after the
  // migration. SQLite: the data dir's lock, held by a running server, and by this command until it ends (no server
  // starts under it). PostgreSQL: the scheduler leases, checked inside the migration's transaction.
  const lock = cfg.store.kind === 'sqlite' ? lockOffline(cfg.dataDir, 'trent root-key migrate', 'nothing changed') : undefined;
  try {
    await migrateStore(cfg, values, out);
  } finally {
    lock?.release();
  }
}

async function migrateStore(cfg: TrentConfig, values: { to?: string | undefined; 'to-file'?: string | undefined; 'root-key-create'?: boolean | undefined }, out: NodeJS.WritableStream): Promise<void> {
  const storage = openStore(cfg.store);
  const modules = new Pkcs11Modules();
  let source: OpenedRootKey | undefined;
  let target: OpenedRootKey | undefined;
  try {
    await storage.migrate();
    source = await openConfiguredRootKey({ ...cfg, rootKeyCreate: false }, storage, random, modules, { createFile: false });
    await bindRootKey(storage, source, random); // the current key is the store's, or refuse (its token closes in `finally`)
    if (values.to !== undefined) {
      target = { kind: 'hsm', key: await openHsmRootKey(values.to, { ...cfg, rootKeyCreate: values['root-key-create'] === true }, modules, random) };
    } else {
      const file = path.resolve(values['to-file']!);
      const { rootKey, created } = await RootKey.fromFile(file, random);
      if (created) out.write(`Created a new root key in ${file}. Back it up: without it nothing in the store can be decrypted.\n`);
      target = { kind: 'file', key: rootKey };
    }
    const currentCheck = (await storage.getSetting(ROOT_CHECK_SETTING))!;
    if (checkValueMatches(target, currentCheck)) throw new Error(`the store already uses ${describeRoot(target, { ...cfg, rootKeyFile: values['to-file'] ?? '' })} as its root key; nothing changed`);

    // The fingerprint key (ids of imported material) carries over, wrapped under the new key.
    const storedFp = await storage.getSetting(ROOT_FINGERPRINT_SETTING);
    const fp = storedFp !== undefined ? source.key.unwrap(FINGERPRINT_KEY_CONTEXT, Buffer.from(storedFp, 'base64')) : (source.key as RootKey).fingerprintKeyCopy();
    if (!fp) throw new Error(`the store's fingerprint key does not unwrap under the current root key; nothing changed`);
    const to: SecretWrapper = target.key;
    const settings: Record<string, string | null> = {
      [ROOT_CHECK_SETTING]: checkValueOf(target),
      [ROOT_FINGERPRINT_SETTING]: to.wrap(FINGERPRINT_KEY_CONTEXT, fp).toString('base64'),
      // The passphrase's salt means nothing to the new key; without it, a passphrase given by mistake is refused.
      [ROOT_SALT_SETTING]: null,
    };
    fp.fill(0);
    const from: SecretWrapper = source.key;
    let hsmRefs = 0;
    const counts = await storage.rewrapSecrets((secret) => {
      const part = rootWrappedPart(secret);
      if (!part) {
        hsmRefs++; // a reference to a key object in an HSM key store's token: nothing of the root key in it
        return secret.wrapped;
      }
      const plain = from.unwrap(part.context, part.wrapped);
      if (!plain) throw new Error(`${describeSecret(secret)} does not unwrap under the current root key; nothing changed`);
      try {
        const wrapped = to.wrap(part.context, plain);
        const back = to.unwrap(part.context, wrapped);
        const same = back !== undefined && back.length === plain.length && timingSafeEqual(back, plain);
        back?.fill(0);
        if (!same) throw new Error(`${describeSecret(secret)} did not re-wrap verifiably under the new root key; nothing changed`);
        return part.rebuild(wrapped);
      } finally {
        plain.fill(0);
      }
    }, settings, (c) => {
      // The audit trail records the change of root key (names of the keys only: never a PIN or key bytes).
      const now = Date.now();
      return serviceEvent('RootKeyMigrated', now, uuidV7(now, randomBytes(10)), cfg.region, {
        from: rootKind(source!), to: rootKind(target!), keyMaterials: c.material - hsmRefs, accessKeySecrets: c.accessKey, customKeyStorePasswords: c.customKeyStorePassword,
        xksProxySecrets: c.xksProxySecret, hsmKeyReferences: hsmRefs,
      });
    });
    const how = target.kind === 'hsm' ? `--root-key ${target.key.description} (with TRENT_PKCS11_MODULE / TRENT_PKCS11_PIN, or the URI's module-path / pin-source)` : `--root-key-file ${path.resolve(values['to-file']!)}`;
    out.write(
      `Migrated the root key of ${describeStore(cfg.store)} from ${describeRoot(source, cfg)} to ${describeRoot(target, { ...cfg, rootKeyFile: path.resolve(values['to-file'] ?? '') })}: ` +
        `re-wrapped and verified ${counts.material - hsmRefs} key materials, ${counts.accessKey} access key secrets, ${counts.customKeyStorePassword} custom key store passwords, ` +
        `${counts.xksProxySecret} external key store proxy secrets, and the fingerprint key` +
        (hsmRefs > 0 ? ` (${hsmRefs} keys in HSM key stores have their material in the HSM, not under the root key: left as they are)` : '') + '.\n' +
        `Start Trent on this store with ${how} from now on.\n` +
        (source.kind === 'file' ? `The old root key file ${cfg.rootKeyFile} no longer opens this store; it still opens backups made before now: move it to offline storage with those backups, or destroy it with them.\n` : '') +
        `Grant tokens and import tokens (GetParametersForImport) handed out before the migration no longer open.\n`,
    );
  } catch (err) {
    if (err instanceof StorageInUseError) throw new Error(`${err.message}; nothing changed`);
    throw err;
  } finally {
    closeRoot(source);
    closeRoot(target);
    await storage.close();
  }
}

async function verify(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...STORE_FLAGS, ...ROOT_KEY_FLAGS }, strict: true, allowPositionals: false });
  const cfg = config(values);
  if (cfg.store.kind === 'sqlite' && !existsSync(cfg.store.file)) throw new ConfigError(`there is no SQLite store at ${cfg.store.file} (check --data-dir and --store)`);
  const storage = openStore(cfg.store);
  let root: OpenedRootKey | undefined;
  try {
    await storage.migrate();
    root = await openConfiguredRootKey({ ...cfg, rootKeyCreate: false }, storage, random, new Pkcs11Modules(), { createFile: false });
    await bindRootKey(storage, root, random);
    const counts = { material: 0, accessKey: 0, customKeyStorePassword: 0, xksProxySecret: 0 };
    let hsmRefs = 0;
    const failed: string[] = [];
    const check = (s: WrappedSecretRecord) => {
      const part = rootWrappedPart(s);
      if (!part) {
        hsmRefs++;
        return;
      }
      const plain = root!.key.unwrap(part.context, part.wrapped);
      if (plain) {
        plain.fill(0);
        counts[s.kind]++;
      } else failed.push(describeSecret(s));
    };
    for await (const r of storage.exportSnapshot()) {
      for (const secret of wrappedSecretsOf(r)) check(secret);
    }
    if (failed.length > 0) throw new Error(`${failed.length} wrapped secrets do not open under ${describeRoot(root, cfg)}: ${failed.slice(0, 5).join('; ')}${failed.length > 5 ? '; …' : ''}`);
    out.write(
      `${describeStore(cfg.store)}: the root key is ${describeRoot(root, cfg)}; ${counts.material} key materials, ${counts.accessKey} access key secrets` +
        `, ${counts.customKeyStorePassword} custom key store passwords and ${counts.xksProxySecret} external key store proxy secrets all open under it` +
        (hsmRefs > 0 ? ` (${hsmRefs} keys in HSM key stores have their material in the HSM)` : '') + '.\n',
    );
  } finally {
    closeRoot(root);
    await storage.close();
  }
}

