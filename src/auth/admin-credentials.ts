import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import type { RandomSource, SecretWrapper, Storage } from '../domain/ports.js';
import { accountRootArn } from '../domain/arn.js';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Wrapping context of a secret access key at rest. */
export const accessKeyWrapContext = (accessKeyId: string): string[] => ['access-key', accessKeyId];

export function newAccessKeyId(random: RandomSource): string {
  return `AKIA${[...random.bytes(16)].map((b) => BASE32[b % 32]).join('')}`;
}

export function newSecretAccessKey(random: RandomSource): string {
  return random.bytes(30).toString('base64');
}

/**
 * First start: creates the administrator access key of the default account and writes it to `file` in the
 * AWS shared-credentials format (profile "trent", mode 0600). Returns undefined when it already exists.
 */
export async function bootstrapAdminCredentials(opts: {
  storage: Storage;
  rootKey: SecretWrapper;
  random: RandomSource;
  account: string;
  region: string;
  file: string;
  now: Date;
}): Promise<{ accessKeyId: string; file: string } | undefined> {
  if (await opts.storage.getSetting('admin.accessKeyId')) return undefined;
  const accessKeyId = newAccessKeyId(opts.random);
  const secret = newSecretAccessKey(opts.random);
  await opts.storage.insertAccessKey({
    accessKeyId,
    account: opts.account,
    principalArn: accountRootArn(opts.account),
    secretWrapped: opts.rootKey.wrap(accessKeyWrapContext(accessKeyId), Buffer.from(secret, 'utf8')),
    createdAt: opts.now,
  });
  // Other profiles of the file (written by `trent iam` before the first start) stay.
  await writeCredentialsProfile(opts.file, 'trent', { accessKeyId, secret, region: opts.region });
  // Nodes starting at once on a new shared store may each make one: every such key is valid and written to that
  // node's own data dir; the setting records the first, so later starts make no more.
  await opts.storage.putSettingIfAbsent('admin.accessKeyId', accessKeyId);
  return { accessKeyId, file: opts.file };
}

/** The profiles of an AWS shared-credentials file: name → its access key id (profiles without one are left out). */
export async function readCredentialsProfiles(file: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const out = new Map<string, string>();
  let profile: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const section = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (section) profile = section[1]!.trim();
    const id = /^\s*aws_access_key_id\s*=\s*(\S+)\s*$/.exec(line);
    if (id && profile !== undefined) out.set(profile, id[1]!);
  }
  return out;
}

/**
 * Writes (or replaces) one profile of an AWS shared-credentials file, keeping the others; the file is written
 * beside and renamed into place, mode 0600.
 */
export async function writeCredentialsProfile(file: string, profile: string, c: { accessKeyId: string; secret: string; region: string }): Promise<void> {
  if (!/^[\w.@+=,-]+$/.test(profile)) throw new Error(`invalid profile name ${JSON.stringify(profile)}`);
  let lines: string[] = [];
  try {
    lines = (await readFile(file, 'utf8')).split(/\r?\n/);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const kept: string[] = [];
  let skipping = false;
  for (const line of lines) {
    const section = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (section) skipping = section[1]!.trim() === profile;
    if (!skipping) kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  const block = `[${profile}]\naws_access_key_id = ${c.accessKeyId}\naws_secret_access_key = ${c.secret}\nregion = ${c.region}\n`;
  const text = `${kept.length > 0 ? `${kept.join('\n')}\n\n` : ''}${block}`;
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}
