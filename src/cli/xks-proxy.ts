// `trent xks-proxy`: Trent's own XKS proxy (docs/xks-proxy.md), a separate HTTPS server backed by a PKCS#11 token.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pkcs11Modules, Pkcs11Token } from '../keystores/pkcs11/pkcs11-token.js';
import { Pkcs11XksBackend } from '../keystores/pkcs11/xks-backend.js';
import { KEY_ID, loadXksProxyConfig, XksConfigError, type XksProxyConfig } from '../xks-proxy/config.js';
import { XksHandler } from '../xks-proxy/handler.js';
import { requestLogSink, startXksProxyServer } from '../xks-proxy/server.js';

export const XKS_PROXY_USAGE = `  trent xks-proxy --config FILE
      Runs Trent's XKS proxy (AWS XKS Proxy API v1): HTTPS, SigV4 (service kms-xks-proxy), keys in a PKCS#11 token.
      SIGHUP re-reads keystores (URI paths, credentials, keys) without a restart. See docs/xks-proxy.md.
  trent xks-proxy create-key --config FILE --key-id ID [--usage ENCRYPT,DECRYPT]
      Makes an AES-256 key in the token (non-extractable), labelled as the config maps ID (default: ID itself).
  trent xks-proxy new-credential
      Prints a fresh SigV4 credential (access key id and secret access key) for a keystore of the config.
`;

function openBackend(config: XksProxyConfig): Pkcs11XksBackend {
  const token = Pkcs11Token.open(new Pkcs11Modules(), {
    modulePath: config.pkcs11.module,
    token: config.pkcs11.token,
    pin: config.pkcs11.pin,
    maxSessions: config.pkcs11.maxSessions,
    randomBytes,
  });
  return new Pkcs11XksBackend(token, config.healthKeyLabel);
}

async function serve(configFile: string): Promise<void> {
  const config = loadXksProxyConfig(configFile, process.env);
  process.umask(0o077);
  if ((statSync(configFile).mode & 0o077) !== 0) {
    process.stderr.write(`xks-proxy: warning: ${configFile} is readable by others; it may hold secrets (chmod 600, or use secretAccessKeyEnv / pinEnv)\n`);
  }
  const backend = openBackend(config);
  if (await backend.ensureHealthKey()) process.stderr.write(`xks-proxy: made the health-check key "${config.healthKeyLabel}" in the token\n`);
  for (const ks of config.keystores) {
    for (const key of ks.keys.values()) {
      await backend.describeKey(key.label).catch(() => process.stderr.write(`xks-proxy: warning: ${ks.uriPath}: key ${key.keyId} (label "${key.label}") is not in the token\n`));
    }
  }
  const handler = new XksHandler({
    region: config.region,
    keystores: config.keystores,
    backend,
    fleetSize: config.fleetSize,
    clockSkewSeconds: config.clockSkewSeconds,
    backendTimeoutMs: config.backendTimeoutMs,
    onInternalError: (err) => process.stderr.write(`xks-proxy: internal error: ${(err as Error)?.stack ?? String(err)}\n`),
  });
  const server = await startXksProxyServer(config, handler, requestLogSink(config.requestLog));
  process.stderr.write(`Trent XKS proxy listening on ${server.url} (${config.keystores.map((k) => k.uriPath).join(', ')})\n`);

  process.on('SIGHUP', () => {
    try {
      const next = loadXksProxyConfig(configFile, process.env);
      handler.reload(next.keystores);
      process.stderr.write(`xks-proxy: SIGHUP: reloaded keystores (${next.keystores.map((k) => `${k.uriPath}: ${k.credentials.length} credential(s), ${k.keys.size} key(s)`).join('; ')}); other settings need a restart\n`);
    } catch (err) {
      process.stderr.write(`xks-proxy: SIGHUP: the config did not reload, the previous one stays: ${(err as Error).message}\n`);
    }
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`${signal}: stopping the XKS proxy\n`);
    server.close().then(
      () => {
        backend.close();
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function parseUsage(value: string | undefined): { encrypt: boolean; decrypt: boolean } {
  if (value === undefined) return { encrypt: true, decrypt: true };
  const parts = value.split(',').map((p) => p.trim().toUpperCase()).filter((p) => p !== '');
  for (const p of parts) {
    if (p !== 'ENCRYPT' && p !== 'DECRYPT' && p !== 'NONE') throw new XksConfigError(`--usage: ${p} is not ENCRYPT, DECRYPT or NONE`);
  }
  return { encrypt: parts.includes('ENCRYPT'), decrypt: parts.includes('DECRYPT') };
}

async function createKey(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, 'key-id': { type: 'string' }, usage: { type: 'string' } }, strict: true });
  if (!values.config || !values['key-id']) throw new XksConfigError(`create-key needs --config FILE and --key-id ID\n${XKS_PROXY_USAGE}`);
  const keyId = values['key-id'];
  if (!KEY_ID.test(keyId)) throw new XksConfigError('--key-id must be 1 to 128 of A-Z a-z 0-9 - . _ (the XKS spec)');
  const config = loadXksProxyConfig(values.config, process.env);
  const mapped = config.keystores.map((k) => k.keys.get(keyId)).find((k) => k !== undefined);
  const label = mapped?.label ?? keyId;
  if (label === config.healthKeyLabel) throw new XksConfigError(`${label} is the health-check key's label`);
  const backend = openBackend(config);
  try {
    await backend.createKey(label, parseUsage(values.usage));
  } finally {
    backend.close();
  }
  process.stdout.write(`made AES-256 key "${label}" in the token${mapped ? '' : ` (add {"keyId": "${keyId}"} to a keystore's keys to expose it)`}\n`);
}

function newCredential(): void {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const accessKeyId = [...randomBytes(24)].map((b) => alphabet[b & 31]).join('');
  process.stdout.write(`${JSON.stringify({ accessKeyId, secretAccessKey: randomBytes(32).toString('base64') }, null, 2)}\n`);
}

export async function xksProxyCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'create-key') return createKey(rest);
  if (sub === 'new-credential') return newCredential();
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true });
  if (!values.config) throw new XksConfigError(`xks-proxy needs --config FILE\n${XKS_PROXY_USAGE}`);
  return serve(values.config);
}
