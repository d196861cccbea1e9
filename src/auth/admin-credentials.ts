import { chmod, writeFile } from 'node:fs/promises';
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
  const text = `[trent]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secret}\nregion = ${opts.region}\n`;
  await writeFile(opts.file, text, { mode: 0o600 });
  await chmod(opts.file, 0o600);
  // Nodes starting at once on a new shared store may each make one: every such key is valid and written to that
  // node's own data dir; the setting records the first, so later starts make no more.
  await opts.storage.putSettingIfAbsent('admin.accessKeyId', accessKeyId);
  return { accessKeyId, file: opts.file };
}
