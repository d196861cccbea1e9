import { parseArgs } from 'node:util';
import { CONFIG_FLAGS, ConfigError, loadConfig } from '../config/config.js';
import { startTrent, type RunningTrent } from '../main.js';
import { AWS_MANAGED_KEY_USAGE, awsManagedKeyCommand } from './aws-managed-key.js';
import { AUDIT_USAGE, auditCommand } from './audit.js';
import { BACKUP_USAGE, backupCommand, restoreCommand } from './backup.js';
import { parseDuration } from './duration.js';
import { XKS_PROXY_USAGE, xksProxyCommand } from './xks-proxy.js';
import { ROOT_KEY_USAGE, rootKeyCommand } from './root-key.js';
import { XksConfigError } from '../xks-proxy/config.js';
import { IAM_USAGE, iamCommand } from './iam.js';

const USAGE = `Usage:
  trent serve [--host 127.0.0.1] [--port 4599] [--data-dir ./data] [--region us-east-1] [--dev]
              [--default-account 111122223333] [--tls-cert FILE --tls-key FILE] [--allow-insecure-http]
              [--root-key-file FILE | --root-key pkcs11:token=…;object=… [--root-key-create] [--pkcs11-module PATH]]
              [--request-log stdout|stderr|off|FILE] [--config FILE]
              [--store sqlite|postgres://USER@HOST:PORT/DATABASE] [--service-access-keys AKID=s3,AKID2=ec2]
              [--audit-log FILE|-] [--audit-flush-ms 50]
      Every flag is also an environment variable (TRENT_PORT, TRENT_DATA_DIR, ...) and a key of the JSON
      config file (port, dataDir, ...). TRENT_ROOT_KEY_PASSPHRASE derives the root key from a passphrase.
      --root-key: the root key is an AES-256 key in a PKCS#11 token (RFC 7512 URI; PIN from TRENT_PKCS11_PIN or
      the URI's pin-source); no root key file is used (docs/root-key.md).
      --store: SQLite in <data-dir>/trent.db (default), or PostgreSQL for many nodes (docs/postgresql.md);
      the root key file and credentials stay in --data-dir either way. One process per data dir: a second trent serve
      on it is refused (a lock on <data-dir>/trent.lock, released by the kernel when the process ends).
  trent dev reset --endpoint URL
      Wipes all keys, aliases and tags of a server running with --dev.
  trent dev advance-clock DURATION --endpoint URL
      Moves the clock of a server running with --dev forward by DURATION (400d, 36h, 90m, 30s, 1d12h) and runs
      the jobs that are then due (automatic rotation, scheduled deletion) at once. Only that node's clock moves.
${BACKUP_USAGE}${ROOT_KEY_USAGE}${AWS_MANAGED_KEY_USAGE}${IAM_USAGE}${AUDIT_USAGE}${XKS_PROXY_USAGE}`;

async function serve(argv: string[]): Promise<void> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' } };
  for (const f of CONFIG_FLAGS) options[f.name] = { type: f.type };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  const config = loadConfig(values as Record<string, string | boolean>, process.env);
  // Everything Trent writes (database, WAL, logs, key and credential files) is for its owner only.
  process.umask(0o077);
  // The handlers are in place before the start: a SIGTERM that comes as the server announces itself stops it cleanly
  // (a signal with no handler would kill the process, and leave the marker of an unclean stop).
  let trent: RunningTrent | undefined;
  let pending: string | undefined;
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(1);
    if (trent === undefined) {
      pending = signal; // stopped as soon as it is started
      return;
    }
    process.stderr.write(`${signal}: finishing in-flight requests and stopping\n`);
    trent.stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  trent = await startTrent(config);
  if (pending !== undefined) {
    signals--;
    shutdown(pending);
  }
}

async function devCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, options: { endpoint: { type: 'string' } }, strict: true, allowPositionals: sub === 'advance-clock' });
  const endpoint = values.endpoint ?? process.env.TRENT_ENDPOINT ?? 'http://127.0.0.1:4599';
  switch (sub) {
    case 'reset': {
      const res = await fetch(new URL('/_trent/dev/reset', endpoint), { method: 'POST' });
      if (res.status === 404) throw new ConfigError(`${endpoint} refused the reset: it is not running with --dev`);
      if (!res.ok) throw new Error(`reset failed: HTTP ${res.status} ${await res.text()}`);
      process.stdout.write(`reset ${endpoint}\n`);
      return;
    }
    case 'advance-clock': {
      const advanceSeconds = positionals.length === 1 ? parseDuration(positionals[0]!) : undefined;
      if (advanceSeconds === undefined) throw new ConfigError('usage: trent dev advance-clock DURATION --endpoint URL (DURATION like 400d, 36h, 90m, 30s, 1d12h)');
      const res = await fetch(new URL('/_trent/dev/clock', endpoint), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ advanceSeconds }),
      });
      if (res.status === 404) throw new ConfigError(`${endpoint} refused to move its clock: it is not running with --dev`);
      if (!res.ok) throw new Error(`advance-clock failed: HTTP ${res.status} ${await res.text()}`);
      const { now, offsetSeconds } = (await res.json()) as { now: string; offsetSeconds: number };
      process.stdout.write(`${endpoint} now reads ${now} (${offsetSeconds} s ahead of real time)\n`);
      return;
    }
    default:
      throw new ConfigError(`unknown dev command "${sub ?? ''}" (reset, advance-clock)`);
  }
}

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'dev':
      return devCommand(rest);
    case 'backup':
      return backupCommand(rest);
    case 'restore':
      return restoreCommand(rest);
    case 'aws-managed-key':
      return awsManagedKeyCommand(rest);
    case 'audit': {
      const code = await auditCommand(rest);
      if (code !== 0) process.exitCode = code;
      return;
    }
    case 'xks-proxy':
      return xksProxyCommand(rest);
    case 'root-key':
      return rootKeyCommand(rest);
    case 'iam':
      return iamCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      throw new ConfigError(`unknown command "${command}"\n${USAGE}`);
  }
}

run(process.argv.slice(2)).catch((err: unknown) => {
  const usage = err instanceof ConfigError || err instanceof XksConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`trent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(usage ? 2 : 1);
});
