import { readFileSync } from 'node:fs';
import path from 'node:path';
import { QUOTA_NAMES, type QuotaName, type QuotaOverrides } from '../domain/request-quotas.js';

/** Where durable state lives: the embedded SQLite file, or a PostgreSQL database shared by many nodes. */
export type StoreConfig =
  | { readonly kind: 'sqlite'; readonly file: string }
  | { readonly kind: 'postgres'; readonly url: string };

/**
 * An HSM "cluster" for AWS_CLOUDHSM custom key stores: a PKCS#11 module and one token in it, named by an id in AWS's
 * cluster-id form. CreateCustomKeyStore refers to it by CloudHsmClusterId; the user PIN is the key store password.
 */
export interface HsmClusterConfig {
  /** `cluster-` and 11 to 16 characters of [2-7a-zA-Z] (the model's CloudHsmClusterIdType). */
  readonly clusterId: string;
  /** Path of the PKCS#11 module (a shared library), e.g. /usr/lib/softhsm/libsofthsm2.so. */
  readonly modulePath: string;
  /** The token: by label (CK_TOKEN_INFO.label) or by slot id; exactly one of the two. */
  readonly tokenLabel?: string | undefined;
  readonly slot?: number | undefined;
  /**
   * The cluster's trust anchor (PEM file). When set, CreateCustomKeyStore's TrustAnchorCertificate must be this
   * certificate (IncorrectTrustAnchorException otherwise); when absent, any well-formed X.509 certificate is accepted.
   */
  readonly trustAnchorCertificateFile?: string | undefined;
  /** Most PKCS#11 sessions open at once for one store (default 8). */
  readonly maxSessions?: number | undefined;
}

/** The one typed configuration object. Sources, later ones winning: defaults, config file, TRENT_* env, flags. */
export interface TrentConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** `sqlite` (default: <dataDir>/trent.db) or a postgres:// URL. The root key and credentials files stay in dataDir. */
  readonly store: StoreConfig;
  readonly region: string;
  readonly dev: boolean;
  readonly defaultAccount: string;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** Allows plain HTTP on a non-loopback address (otherwise refused). */
  readonly allowInsecureHttp: boolean;
  /** Root key file; default <dataDir>/root-key. Ignored when rootKeyPassphrase is set. */
  readonly rootKeyFile: string;
  /** Derive the root key from this passphrase (scrypt) instead of a key file. From env or config file only. */
  readonly rootKeyPassphrase?: string | undefined;
  /**
   * The root key in a PKCS#11 token: an RFC 7512 URI such as pkcs11:token=trent;object=trent-root (docs/root-key.md).
   * When set, there is no root key file and the passphrase is not used.
   */
  readonly rootKey?: string | undefined;
  /** Make the token's root key (AES-256, non-extractable) when it has none with the URI's label. */
  readonly rootKeyCreate?: boolean | undefined;
  /** The PKCS#11 module of the root key token, unless the URI has module-path=. */
  readonly pkcs11Module?: string | undefined;
  /** The root key token's user PIN (env TRENT_PKCS11_PIN or config file only), unless the URI has pin-source=. */
  readonly pkcs11Pin?: string | undefined;
  /** Where the one-line-per-request log goes: stdout, stderr, off, or a file path. */
  readonly requestLog: string;
  /** Also stream every audit event, as one CloudTrail JSON line, once stored: a file path, or `-` for stdout. */
  readonly auditLog?: string | undefined;
  /** How long an audit event of a read-only or failed request may wait in memory before it is stored (batching). */
  readonly auditFlushMs: number;
  readonly maxBodyBytes: number;
  /** SigV4: how far a request's X-Amz-Date may be from the server clock (AWS: 5 minutes). */
  readonly clockSkewSeconds: number;
  /** How often the scheduler looks for keys past their deletion date. */
  readonly schedulerIntervalSeconds: number;
  /** Multi-Region keys: how long a new replica stays Creating, and related keys Updating after UpdatePrimaryRegion (ms). */
  readonly multiRegionTransitionMs: number;
  /**
   * How long a node uses a cached key, material or alias before reading it from the store again, even without a
   * change notification: the bound on a missed notification. Default: 30 on PostgreSQL; on SQLite (one node, every
   * write through this process) no expiry.
   */
  readonly cacheTtlSeconds?: number | undefined;
  /** How long a clean shutdown waits for in-flight requests. */
  readonly shutdownGraceSeconds: number;
  /**
   * PostgreSQL: how long a request waits for a pooled connection, and for each statement, before it fails with
   * DependencyTimeoutException (the database down or not answering).
   */
  readonly storeTimeoutSeconds: number;
  /** HSM clusters for AWS_CLOUDHSM custom key stores (config file, or TRENT_HSM_CLUSTERS as JSON); default none. */
  readonly hsmClusters: readonly HsmClusterConfig[];
  /** External key stores: PEM file of the CAs Trent trusts for XKS proxies' TLS certificates (default: Node's public CAs). */
  readonly xksProxyTrustedCaFile?: string | undefined;
  /** External key stores: the TCP port of every XKS proxy endpoint (XksProxyUriEndpoint has no port in AWS's model); default 443. */
  readonly xksProxyPort: number;
  /** External key stores: how long Trent waits for each XKS proxy call (AWS: 250 ms); raise it on a slow test machine. */
  readonly xksProxyTimeoutMs: number;
  /**
   * Access keys whose callers act for an AWS integrated service: access key id → the service's endpoint name as
   * kms:ViaService names it ("s3", "ec2" for EBS, "rds", ...). Their requests carry kms:ViaService
   * <service>.<region>.amazonaws.com, which AWS-managed keys require (docs/access-control.md). Flag/env form:
   * "AKID1=s3,AKID2=ec2"; config file: an object.
   */
  readonly serviceAccessKeys?: Readonly<Record<string, string>> | undefined;
  /**
   * AWS KMS request quotas (docs/deployment.md#request-quotas): `off`, `aws` (AWS's default rates, per account and
   * Region), or an object of quota name → requests per second replacing AWS's rate for those quotas (0 lifts one).
   * Default: `aws`, and `off` in dev mode unless set. Resolved here: `aws` is an empty set of overrides.
   */
  readonly requestQuotas: 'off' | QuotaOverrides;
  /**
   * Most requests in flight on this node (body received, answer not yet written); a request over it is answered
   * ThrottlingException at once, before its body is read or parsed. 0: no bound.
   */
  readonly maxInFlight: number;
  /** How long a client may take to send a request's headers; then Trent answers 408 and closes the connection. */
  readonly headersTimeoutMs: number;
  /** How long a client may take to send a whole request, headers and body; then 408 and the connection is closed. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept open after a response. */
  readonly keepAliveTimeoutMs: number;
  /** Most open connections; new ones over it are closed at once. */
  readonly maxConnections: number;
  /** Most open connections from one client address; new ones over it are closed at once. 0: no limit. */
  readonly maxConnectionsPerClient: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Raw = Record<string, unknown>;

/** Every setting: its flag name, env var, parser. Flags and env vars are derived from one list. */
const FIELDS = {
  host: { flag: 'host', parse: str },
  port: { flag: 'port', parse: int(0, 65535) },
  dataDir: { flag: 'data-dir', parse: str },
  store: { flag: 'store', parse: store },
  region: { flag: 'region', parse: match(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region name such as us-east-1') },
  dev: { flag: 'dev', parse: bool },
  defaultAccount: { flag: 'default-account', parse: match(/^\d{12}$/, 'a 12-digit account id') },
  tlsCert: { flag: 'tls-cert', parse: str },
  tlsKey: { flag: 'tls-key', parse: str },
  allowInsecureHttp: { flag: 'allow-insecure-http', parse: bool },
  rootKeyFile: { flag: 'root-key-file', parse: str },
  rootKeyPassphrase: { flag: null, parse: str },
  rootKey: { flag: 'root-key', parse: pkcs11Uri },
  rootKeyCreate: { flag: 'root-key-create', parse: bool },
  pkcs11Module: { flag: 'pkcs11-module', parse: str },
  pkcs11Pin: { flag: null, parse: str },
  requestLog: { flag: 'request-log', parse: str },
  auditLog: { flag: 'audit-log', parse: str },
  auditFlushMs: { flag: 'audit-flush-ms', parse: int(1, 10_000) },
  maxBodyBytes: { flag: 'max-body-bytes', parse: int(1024, 64 * 1024 * 1024) },
  clockSkewSeconds: { flag: 'clock-skew-seconds', parse: int(1, 24 * 3600) },
  schedulerIntervalSeconds: { flag: 'scheduler-interval-seconds', parse: int(1, 24 * 3600) },
  multiRegionTransitionMs: { flag: 'multi-region-transition-ms', parse: int(0, 60_000) },
  cacheTtlSeconds: { flag: 'cache-ttl-seconds', parse: int(1, 24 * 3600) },
  shutdownGraceSeconds: { flag: 'shutdown-grace-seconds', parse: int(0, 3600) },
  storeTimeoutSeconds: { flag: 'store-timeout-seconds', parse: int(1, 300) },
  hsmClusters: { flag: null, parse: hsmClusters },
  xksProxyTrustedCaFile: { flag: 'xks-proxy-trusted-ca-file', parse: str },
  xksProxyPort: { flag: 'xks-proxy-port', parse: int(1, 65535) },
  xksProxyTimeoutMs: { flag: 'xks-proxy-timeout-ms', parse: int(10, 60_000) },
  serviceAccessKeys: { flag: 'service-access-keys', parse: serviceAccessKeys },
  requestQuotas: { flag: 'request-quotas', parse: requestQuotas },
  maxInFlight: { flag: 'max-in-flight', parse: int(0, 1_000_000) },
  headersTimeoutMs: { flag: 'headers-timeout-ms', parse: int(100, 3_600_000) },
  requestTimeoutMs: { flag: 'request-timeout-ms', parse: int(100, 3_600_000) },
  keepAliveTimeoutMs: { flag: 'keep-alive-timeout-ms', parse: int(100, 3_600_000) },
  maxConnections: { flag: 'max-connections', parse: int(1, 1_000_000) },
  maxConnectionsPerClient: { flag: 'max-connections-per-client', parse: int(0, 1_000_000) },
} satisfies Record<keyof TrentConfig, { flag: string | null; parse: (v: unknown, name: string) => unknown }>;

type Field = keyof typeof FIELDS;

export const CONFIG_FLAGS: readonly { name: string; type: 'string' | 'boolean' }[] = Object.values(FIELDS)
  .filter((f) => f.flag !== null)
  .map((f) => ({ name: f.flag!, type: f.parse === bool ? 'boolean' : 'string' }));

export const envName = (field: Field): string => `TRENT_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

const DEFAULTS: Omit<TrentConfig, 'rootKeyFile' | 'store' | 'requestQuotas'> & { rootKeyFile?: string; store: string } = {
  host: '127.0.0.1',
  port: 4599,
  dataDir: './data',
  store: 'sqlite',
  region: 'us-east-1',
  dev: false,
  defaultAccount: '111122223333',
  allowInsecureHttp: false,
  requestLog: 'stdout',
  auditFlushMs: 50,
  maxBodyBytes: 1024 * 1024,
  clockSkewSeconds: 300,
  schedulerIntervalSeconds: 60,
  multiRegionTransitionMs: 1500,
  shutdownGraceSeconds: 10,
  storeTimeoutSeconds: 5,
  hsmClusters: [],
  xksProxyPort: 443,
  xksProxyTimeoutMs: 250,
  // Overload protection and connection limits (docs/deployment.md#limits), sized for a small host (2 cores).
  maxInFlight: 128,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 8_192,
  maxConnectionsPerClient: 512,
};

/**
 * Builds the configuration. `flags` are parsed command-line values (keyed by flag name), `env` is usually
 * process.env; `TRENT_CONFIG` or the `config` flag names an optional JSON file keyed by field name.
 */
export function loadConfig(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): TrentConfig {
  const merged: Raw = { ...DEFAULTS };
  const file = (flags.config as string | undefined) ?? env.TRENT_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must hold a JSON object`);
    for (const [k, v] of Object.entries(parsed)) {
      if (!Object.hasOwn(FIELDS, k)) throw new ConfigError(`config file ${file}: unknown setting "${k}"`);
      merged[k] = v;
    }
  }
  for (const field of Object.keys(FIELDS) as Field[]) {
    const v = env[envName(field)];
    if (v !== undefined && v !== '') merged[field] = v;
  }
  for (const [field, def] of Object.entries(FIELDS) as [Field, (typeof FIELDS)[Field]][]) {
    if (def.flag && flags[def.flag] !== undefined) merged[field] = flags[def.flag];
  }
  const out: Raw = {};
  for (const [field, def] of Object.entries(FIELDS) as [Field, (typeof FIELDS)[Field]][]) {
    const v = merged[field];
    if (v !== undefined) out[field] = def.parse(v, def.flag ? `--${def.flag}` : envName(field));
  }
  out.dataDir = path.resolve(out.dataDir as string);
  if ((out.store as StoreConfig).kind === 'sqlite') out.store = { kind: 'sqlite', file: path.join(out.dataDir as string, 'trent.db') };
  out.rootKeyFile = path.resolve((out.rootKeyFile as string | undefined) ?? path.join(out.dataDir as string, 'root-key'));
  // AWS's quotas unless dev mode (where they are off unless asked for).
  const quotas = out.requestQuotas as 'off' | 'aws' | QuotaOverrides | undefined;
  out.requestQuotas = quotas === 'aws' || (quotas === undefined && !out.dev) ? {} : (quotas ?? 'off');
  const config = out as unknown as TrentConfig;
  if (config.headersTimeoutMs > config.requestTimeoutMs) throw new ConfigError('--headers-timeout-ms must not be longer than --request-timeout-ms');
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) throw new ConfigError('--tls-cert and --tls-key go together');
  if (!config.tlsCert && !isLoopback(config.host) && !config.allowInsecureHttp) {
    throw new ConfigError(`refusing plain HTTP on ${config.host}: give --tls-cert/--tls-key, or --allow-insecure-http to accept the risk`);
  }
  return config;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function pkcs11Uri(v: unknown, name: string): string {
  if (typeof v !== 'string' || !/^pkcs11:/i.test(v)) throw new ConfigError(`${name} must be a pkcs11: URI (RFC 7512), e.g. pkcs11:token=trent;object=trent-root`);
  return v;
}

function store(v: unknown, name: string): StoreConfig {
  if (v === 'sqlite') return { kind: 'sqlite', file: '' }; // the file is placed in dataDir once that is known
  const what = `${name} must be sqlite or a postgres://user@host:port/database URL`;
  // Parts left out of the URL come from the PG* environment variables (PGHOST, PGPASSWORD, ...) as in libpq.
  if (typeof v !== 'string') throw new ConfigError(what);
  const url = parseUrl(v);
  if (!url) throw new ConfigError(what); // never echo the value: it may hold a password
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new ConfigError(what);
  return { kind: 'postgres', url: v };
}

/** A URL such as postgres://user@/db?host=/run/postgresql (no host: a Unix socket) is valid for libpq too. */
function parseUrl(v: string): URL | undefined {
  for (const candidate of [v, v.replace('@/', '@localhost/')]) {
    try {
      return new URL(candidate);
    } catch {
      // try the next form
    }
  }
  return undefined;
}

/** The store for messages and logs: a PostgreSQL URL without its password. */
export function describeStore(s: StoreConfig): string {
  if (s.kind === 'sqlite') return `SQLite ${s.file}`;
  const url = parseUrl(s.url);
  if (!url) return 'PostgreSQL';
  if (url.password) url.password = '***';
  url.searchParams.delete('password');
  return `PostgreSQL ${url.toString()}`;
}

const CLUSTER_ID = /^cluster-[2-7a-zA-Z]{11,16}$/;
const CLUSTER_FIELDS = new Set(['clusterId', 'modulePath', 'tokenLabel', 'slot', 'trustAnchorCertificateFile', 'maxSessions']);

/** A JSON array (or its text, from the environment) of HSM clusters; each checked, ids unique. */
function hsmClusters(v: unknown, name: string): HsmClusterConfig[] {
  let list = v;
  if (typeof v === 'string') {
    try {
      list = JSON.parse(v);
    } catch {
      throw new ConfigError(`${name} must be a JSON array of HSM clusters`);
    }
  }
  if (!Array.isArray(list)) throw new ConfigError(`${name} must be an array of HSM clusters`);
  const seen = new Set<string>();
  return list.map((c: unknown, i) => {
    const at = `${name}[${i}]`;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new ConfigError(`${at} must be an object`);
    const o = c as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!CLUSTER_FIELDS.has(k)) throw new ConfigError(`${at}: unknown setting "${k}"`);
    const clusterId = match(CLUSTER_ID, 'an AWS CloudHSM cluster id: cluster- and 11 to 16 characters of 2-7, a-z, A-Z')(o.clusterId, `${at}.clusterId`);
    if (seen.has(clusterId)) throw new ConfigError(`${at}: cluster id ${clusterId} is configured twice`);
    seen.add(clusterId);
    const modulePath = str(o.modulePath, `${at}.modulePath`);
    if ((o.tokenLabel === undefined) === (o.slot === undefined)) throw new ConfigError(`${at} needs exactly one of tokenLabel and slot`);
    return {
      clusterId,
      modulePath: path.resolve(modulePath),
      ...(o.tokenLabel !== undefined && { tokenLabel: str(o.tokenLabel, `${at}.tokenLabel`) }),
      ...(o.slot !== undefined && { slot: int(0, 2 ** 32 - 1)(o.slot, `${at}.slot`) }),
      ...(o.trustAnchorCertificateFile !== undefined && { trustAnchorCertificateFile: path.resolve(str(o.trustAnchorCertificateFile, `${at}.trustAnchorCertificateFile`)) }),
      ...(o.maxSessions !== undefined && { maxSessions: int(1, 1024)(o.maxSessions, `${at}.maxSessions`) }),
    };
  });
}

/** `serviceAccessKeys`: "AKID=service,AKID2=service2", or (config file) {"AKID": "service"}. */
function serviceAccessKeys(v: unknown, name: string): Record<string, string> {
  const what = `${name} must map access key ids to service names, as AKID=s3,AKID2=ec2 (a config file may give an object)`;
  let entries: [string, unknown][];
  if (typeof v === 'string') {
    entries = v.split(',').filter((p) => p.trim() !== '').map((p) => {
      const at = p.indexOf('=');
      if (at < 1) throw new ConfigError(what);
      return [p.slice(0, at).trim(), p.slice(at + 1).trim()];
    });
  } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    entries = Object.entries(v);
  } else {
    throw new ConfigError(what);
  }
  for (const [id, service] of entries) {
    if (typeof service !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(service) || !/^[\w+=,.@-]+$/.test(id)) throw new ConfigError(what);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** `requestQuotas`: off, aws, or quota name → requests per second (an object in a config file, JSON text elsewhere). */
function requestQuotas(v: unknown, name: string): 'off' | 'aws' | QuotaOverrides {
  if (v === 'off' || v === 'aws') return v;
  let o = v;
  if (typeof v === 'string') {
    try {
      o = JSON.parse(v);
    } catch {
      o = undefined;
    }
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new ConfigError(`${name} must be off, aws, or an object of quota name → requests per second, such as {"CreateKey": 10}`);
  }
  const out: Partial<Record<QuotaName, number>> = {};
  for (const [quota, rate] of Object.entries(o)) {
    if (!(QUOTA_NAMES as readonly string[]).includes(quota)) throw new ConfigError(`${name}: unknown quota "${quota}" (one of: ${QUOTA_NAMES.join(', ')})`);
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 10_000_000) {
      throw new ConfigError(`${name}: the rate of "${quota}" must be a number of requests per second from 0 (no quota) to 10000000`);
    }
    out[quota as QuotaName] = rate;
  }
  return out;
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${name} must be a non-empty string`);
  return v;
}
function bool(v: unknown, name: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigError(`${name} must be true or false`);
}
function int(min: number, max: number) {
  return (v: unknown, name: string): number => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}
function match(re: RegExp, what: string) {
  return (v: unknown, name: string): string => {
    if (typeof v !== 'string' || !re.test(v)) throw new ConfigError(`${name} must be ${what}`);
    return v;
  };
}
