// `trent aws-managed-key create`: the AWS managed key of an integrated service (alias/aws/<service>), written into the
// store like `trent backup` reads it; a server running on the same store sees it at once (docs/access-control.md).
import { existsSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError, describeStore } from '../config/config.js';
import { ensureAwsManagedKey, knownManagedKeyServices, managedKeyService } from '../domain/aws-managed-keys.js';
import { KmsError } from '../domain/errors.js';
import { KeyRepository } from '../domain/key-repository.js';
import type { ChangeFeed, Clock, RandomSource } from '../domain/ports.js';
import { LocalKeyStore } from '../keystores/local/local-keystore.js';
import { RootKey } from '../keystores/local/root-key.js';
import { PostgresChangeFeed } from '../storage/postgres/postgres-coordination.js';
import { config, openStore, STORE_FLAGS } from './backup.js';

export const AWS_MANAGED_KEY_USAGE = `  trent aws-managed-key create --service NAME [--account ID] [--region REGION]
                             [--store sqlite|postgres://…] [--data-dir DIR] [--root-key-file FILE] [--config FILE]
      Creates the AWS managed key of an integrated service (KeyManager AWS, alias alias/aws/NAME, AWS's key policy,
      rotated every 365 days), or shows the one that exists. --account and --region default to the configured
      default account and region. The key is usable only by requests signed with an access key declared for the
      service (--service-access-keys ACCESS_KEY_ID=VIA, where VIA is ec2 for ebs and NAME otherwise). Known services
      with AWS's exact policy: ${knownManagedKeyServices().join(', ')}.
`;

const clock: Clock = { now: () => new Date() };
const random: RandomSource = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

export async function awsManagedKeyCommand(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'create') throw new ConfigError(`unknown aws-managed-key command "${sub ?? ''}" (create)\n${AWS_MANAGED_KEY_USAGE}`);
  const { values } = parseArgs({
    args: rest,
    options: { ...STORE_FLAGS, 'root-key-file': { type: 'string' }, service: { type: 'string' }, account: { type: 'string' }, region: { type: 'string' } },
    strict: true, allowPositionals: false,
  });
  if (!values.service) throw new ConfigError('trent aws-managed-key create needs --service NAME (s3, ebs, rds, lambda, ...)');
  const cfg = config(values);
  const account = values.account ?? cfg.defaultAccount;
  const region = values.region ?? cfg.region;
  if (!/^\d{12}$/.test(account)) throw new ConfigError('--account must be a 12-digit account id');
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new ConfigError('--region must be an AWS region name such as us-east-1');
  if (cfg.store.kind === 'sqlite' && !existsSync(cfg.store.file)) throw new ConfigError(`there is no SQLite store at ${cfg.store.file}: start Trent on it once first (check --data-dir and --store)`);
  process.umask(0o077);

  const storage = openStore(cfg.store);
  let feed: ChangeFeed | undefined;
  try {
    await storage.migrate();
    const rootKey = cfg.rootKeyPassphrase ? await RootKey.fromPassphrase(cfg.rootKeyPassphrase, storage, random) : await RootKey.fromExistingFile(cfg.rootKeyFile);
    await rootKey.verifyAgainst(storage);
    // PostgreSQL: every running node hears of the new alias. SQLite: the server does not cache a missing alias/aws/*.
    if (cfg.store.kind === 'postgres') feed = await PostgresChangeFeed.open(cfg.store.url, { timeoutMs: cfg.storeTimeoutSeconds * 1000 });
    const keys = new KeyRepository(storage, clock, feed ? { feed } : {});
    const keystore = new LocalKeyStore(rootKey, random, clock);
    const { key, aliasName, created } = await ensureAwsManagedKey({ keys, keystore, random, clock }, { account, region }, values.service);
    const via = `${managedKeyService(values.service).via}.${region}.amazonaws.com`;
    out.write(
      `${created ? 'Created' : 'Already present:'} AWS managed key ${key.arn} (${aliasName}) in ${describeStore(cfg.store)}.\n` +
        `It is used through ${aliasName} by requests that carry kms:ViaService ${via}: declare the access key(s) of the ` +
        `${values.service} integration with --service-access-keys ACCESS_KEY_ID=${via.split('.')[0]} (docs/access-control.md).\n`,
    );
  } catch (err) {
    if (err instanceof KmsError) throw new ConfigError(err.message);
    throw err;
  } finally {
    await feed?.close().catch(() => {});
    await storage.close();
  }
}
