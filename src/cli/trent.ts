import { parseArgs } from 'node:util';
import { CONFIG_FLAGS, ConfigError, loadConfig } from '../config/config.js';
import { startTrent } from '../main.js';
import { BACKUP_USAGE, backupCommand, restoreCommand } from './backup.js';

const USAGE = `Usage:
  trent serve [--host 127.0.0.1] [--port 4599] [--data-dir ./data] [--region us-east-1] [--dev]
              [--default-account 111122223333] [--tls-cert FILE --tls-key FILE] [--allow-insecure-http]
              [--root-key-file FILE] [--request-log stdout|stderr|off|FILE] [--config FILE]
              [--store sqlite|postgres://USER@HOST:PORT/DATABASE]
      Every flag is also an environment variable (TRENT_PORT, TRENT_DATA_DIR, ...) and a key of the JSON
      config file (port, dataDir, ...). TRENT_ROOT_KEY_PASSPHRASE derives the root key from a passphrase.
      --store: SQLite in <data-dir>/trent.db (default), or PostgreSQL for many nodes (docs/postgresql.md);
      the root key file and credentials stay in --data-dir either way.
  trent dev reset --endpoint URL
      Wipes all keys, aliases and tags of a server running with --dev.
${BACKUP_USAGE}`;

async function serve(argv: string[]): Promise<void> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' } };
  for (const f of CONFIG_FLAGS) options[f.name] = { type: f.type };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  const config = loadConfig(values as Record<string, string | boolean>, process.env);
  // Everything Trent writes (database, WAL, logs, key and credential files) is for its owner only.
  process.umask(0o077);
  const trent = await startTrent(config);
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(1);
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
}

async function devCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { endpoint: { type: 'string' } }, strict: true });
  const endpoint = values.endpoint ?? process.env.TRENT_ENDPOINT ?? 'http://127.0.0.1:4599';
  if (sub !== 'reset') throw new ConfigError(`unknown dev command "${sub ?? ''}"`);
  const res = await fetch(new URL('/_trent/dev/reset', endpoint), { method: 'POST' });
  if (res.status === 404) throw new ConfigError(`${endpoint} refused the reset: it is not running with --dev`);
  if (!res.ok) throw new Error(`reset failed: HTTP ${res.status} ${await res.text()}`);
  process.stdout.write(`reset ${endpoint}\n`);
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
  const usage = err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`trent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(usage ? 2 : 1);
});
