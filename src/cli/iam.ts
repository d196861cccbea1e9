// `trent iam ...`: accounts, users, roles, inline identity policies and access keys, written straight into the store
// (SQLite or PostgreSQL, as `trent backup`). A running server sees every change within IAM_REFRESH_MS.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readCredentialsProfiles, writeCredentialsProfile } from '../auth/admin-credentials.js';
import { IAM_REFRESH_MS } from '../auth/caller-directory.js';
import { ConfigError, loadConfig, type TrentConfig } from '../config/config.js';
import type { Storage } from '../domain/ports.js';
import { PrincipalError, type PrincipalKind } from '../domain/principals.js';
import { Pkcs11Modules } from '../keystores/pkcs11/pkcs11-token.js';
import { bindRootKey, openConfiguredRootKey, type StoreRoot } from '../keystores/root-of-trust.js';
import { openStore } from './backup.js';
import { PrincipalAdmin } from './iam-admin.js';
import { applyPrincipals, parsePrincipalsFile, PrincipalsFileError } from './iam-file.js';
import { randomBytes, randomUUID } from 'node:crypto';

export const IAM_USAGE = `  trent iam COMMAND [--store sqlite|postgres://…] [--data-dir DIR] [--config FILE] [--credentials-file FILE]
                    [--root-key-file FILE | --root-key pkcs11:…]
      Principals (docs/access-control.md): accounts, users and roles with access keys and inline identity (IAM)
      policies. Output is JSON. Generated secrets are written to the credentials file (default <data-dir>/credentials,
      AWS shared-credentials format, mode 0600), never printed. A running server applies changes within ${IAM_REFRESH_MS / 1000} s.
    create-account [--account ID] [--profile NAME]       a new account: its root access key (profile account-<id>)
    create-user|create-role --account ID --name NAME [--path /p/]
    delete-user|delete-role --account ID --name NAME     also deletes its policies and access keys
    put-policy --account ID (--user NAME|--role NAME) --policy-name NAME --document JSON|file://PATH
    delete-policy --account ID (--user NAME|--role NAME) --policy-name NAME
    create-access-key --account ID [--user NAME|--role NAME] [--profile NAME]   (neither: the account root)
    delete-access-key --access-key-id ID
    list [--account ID]
    apply --file principals.json [--dry-run]             make the accounts the file lists match it
`;

const OPTIONS = {
  store: { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, 'root-key-file': { type: 'string' }, 'root-key': { type: 'string' },
  'credentials-file': { type: 'string' }, account: { type: 'string' }, name: { type: 'string' }, path: { type: 'string' },
  user: { type: 'string' }, role: { type: 'string' }, 'policy-name': { type: 'string' }, document: { type: 'string' },
  profile: { type: 'string' }, 'access-key-id': { type: 'string' }, file: { type: 'string' }, 'dry-run': { type: 'boolean' },
} as const;

const random = { bytes: (n: number) => randomBytes(n), uuid: () => randomUUID() };

/**
 * The store's root key, as the server opens it (a key file, TRENT_ROOT_KEY_PASSPHRASE, or --root-key pkcs11:…). A store
 * no server has used yet gets its key file made here, as the server would.
 */
async function openRootKey(cfg: TrentConfig, storage: Storage): Promise<StoreRoot> {
  const served = (await storage.getSetting('root.check')) !== undefined;
  const opened = await openConfiguredRootKey({ ...cfg, rootKeyCreate: false }, storage, random, new Pkcs11Modules(), { createFile: !served });
  try {
    return await bindRootKey(storage, opened, random);
  } catch (err) {
    if (opened.kind === 'hsm') opened.key.close();
    throw err;
  }
}

function need(values: Record<string, unknown>, name: string, command: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new ConfigError(`trent iam ${command} needs --${name}`);
  return v;
}

function principalOf(values: Record<string, unknown>, command: string): { kind: PrincipalKind; name: string } | undefined {
  const user = values.user as string | undefined;
  const role = values.role as string | undefined;
  if (user !== undefined && role !== undefined) throw new ConfigError(`trent iam ${command}: give --user or --role, not both`);
  return user !== undefined ? { kind: 'user', name: user } : role !== undefined ? { kind: 'role', name: role } : undefined;
}

export async function iamCommand(argv: string[], out: NodeJS.WritableStream = process.stdout, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help') {
    out.write(IAM_USAGE);
    return;
  }
  const { values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false });
  const flags: Record<string, string> = {};
  for (const name of ['store', 'data-dir', 'config', 'root-key-file', 'root-key'] as const) if (typeof values[name] === 'string') flags[name] = values[name];
  const cfg = loadConfig(flags, env);
  process.umask(0o077);
  const credentialsFile = values['credentials-file'] ?? path.join(cfg.dataDir, 'credentials');
  await mkdir(cfg.dataDir, { recursive: true, mode: 0o700 });
  const storage = openStore(cfg.store);
  let rootKey: StoreRoot | undefined;
  const print = (result: unknown) => out.write(`${JSON.stringify(result, null, 2)}\n`);
  try {
    await storage.migrate();
    rootKey = await openRootKey(cfg, storage);
    const admin = new PrincipalAdmin(storage, rootKey, random);
    const writeProfile = (profile: string, accessKeyId: string, secret: string) => writeCredentialsProfile(credentialsFile, profile, { accessKeyId, secret, region: cfg.region });
    switch (command) {
      case 'create-account': {
        const made = await admin.createAccount(values.account);
        const profile = values.profile ?? `account-${made.account}`;
        await writeProfile(profile, made.accessKeyId, made.secret);
        print({ account: made.account, rootArn: `arn:aws:iam::${made.account}:root`, accessKeyId: made.accessKeyId, credentialsFile, profile });
        return;
      }
      case 'create-user':
      case 'create-role': {
        const kind = command === 'create-user' ? 'user' : 'role';
        const p = await admin.createPrincipal(need(values, 'account', command), kind, need(values, 'name', command), values.path ?? '/');
        print({ account: p.account, kind: p.kind, name: p.name, path: p.path, arn: p.arn, createdAt: p.createdAt.toISOString() });
        return;
      }
      case 'delete-user':
      case 'delete-role': {
        const kind = command === 'delete-user' ? 'user' : 'role';
        const p = await admin.requirePrincipal(need(values, 'account', command), kind, need(values, 'name', command));
        await admin.deletePrincipal(p);
        print({ deleted: p.arn });
        return;
      }
      case 'put-policy':
      case 'delete-policy': {
        const who = principalOf(values, command);
        if (!who) throw new ConfigError(`trent iam ${command} needs --user NAME or --role NAME`);
        const p = await admin.requirePrincipal(need(values, 'account', command), who.kind, who.name);
        const policyName = need(values, 'policy-name', command);
        if (command === 'delete-policy') {
          await admin.deletePolicy(p, policyName);
          print({ arn: p.arn, deletedPolicy: policyName });
          return;
        }
        const given = need(values, 'document', command);
        const document = given.startsWith('file://') ? await readFile(given.slice('file://'.length), 'utf8') : given;
        await admin.putPolicy(p, policyName, document);
        print({ arn: p.arn, policyName });
        return;
      }
      case 'create-access-key': {
        const account = need(values, 'account', command);
        const who = principalOf(values, command);
        const principal = who ? await admin.requirePrincipal(account, who.kind, who.name) : undefined;
        if (!principal) await admin.requireAccount(account);
        const made = await admin.createAccessKey(principal ? { principal } : { account, root: true });
        const profile = values.profile ?? (who ? `${account}-${who.kind}-${who.name}` : `account-${account}`);
        await writeProfile(profile, made.accessKeyId, made.secret);
        print({ arn: principal?.arn ?? `arn:aws:iam::${account}:root`, accessKeyId: made.accessKeyId, credentialsFile, profile });
        return;
      }
      case 'delete-access-key': {
        const record = await admin.deleteAccessKey(need(values, 'access-key-id', command));
        print({ deletedAccessKey: record.accessKeyId, arn: record.principalArn });
        return;
      }
      case 'list':
        print({ accounts: await admin.list(values.account) });
        return;
      case 'apply': {
        const file = need(values, 'file', command);
        if (!existsSync(file)) throw new ConfigError(`there is no file ${file}`);
        const desired = parsePrincipalsFile(await readFile(file, 'utf8'), env);
        const profiles = new Map(await readCredentialsProfiles(credentialsFile));
        const changes = await applyPrincipals(desired, {
          admin, profiles,
          writeProfile: async (profile, accessKeyId, secret) => {
            await writeProfile(profile, accessKeyId, secret);
            profiles.set(profile, accessKeyId);
          },
        }, values['dry-run'] === true);
        print({ dryRun: values['dry-run'] === true, credentialsFile, changes });
        return;
      }
      default:
        throw new ConfigError(`unknown iam command "${command}"\n${IAM_USAGE}`);
    }
  } catch (err) {
    if (err instanceof PrincipalError) throw new IamCommandError(`${err.code}: ${err.message}`);
    if (err instanceof PrincipalsFileError) throw new IamCommandError(`invalid principals file: ${err.message} (nothing was changed)`);
    throw err;
  } finally {
    rootKey?.close();
    await storage.close();
  }
}

/** A refused `trent iam` request (exit status 1, message on stderr). */
export class IamCommandError extends Error {
  override name = 'IamCommandError';
}
