// `trent xks-proxy --config FILE`: one JSON file, validated here into a typed XksProxyConfig. Secrets (SigV4 secret
// access keys, the token PIN) may come from environment variables named in the file, so the file need not hold them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SecretBytes } from '../crypto/secret-bytes.js';

export interface XksCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: SecretBytes;
}

export interface XksKeyMapping {
  /** The externalKeyId KMS uses in the URI (spec: 1-128 of A-Z a-z 0-9 - . _). */
  readonly keyId: string;
  /** CKA_LABEL of the AES key in the token (default: the key id). */
  readonly label: string;
  /** false: GetKeyMetadata answers DISABLED and Encrypt/Decrypt InvalidStateException. */
  readonly enabled: boolean;
}

/** One logical key store: a URI path (XksProxyUriPath) with its credentials and keys. */
export interface XksKeystoreConfig {
  readonly uriPath: string;
  readonly credentials: readonly XksCredential[];
  readonly keys: ReadonlyMap<string, XksKeyMapping>;
}

export interface XksTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  /** mTLS: client certificates must chain to this CA bundle. */
  readonly clientCaFile?: string | undefined;
  /** mTLS: accepted subject common names of the client certificate (spec: cks.kms.<region>.amazonaws.com). */
  readonly clientSubjectNames?: readonly string[] | undefined;
}

export interface XksPkcs11Config {
  readonly module: string;
  readonly token: { readonly label: string } | { readonly slot: number };
  readonly pin: string;
  readonly maxSessions: number;
}

export interface XksProxyConfig {
  readonly host: string;
  readonly port: number;
  /** Absent only with allowInsecureHttp on a loopback host. */
  readonly tls?: XksTlsConfig | undefined;
  readonly allowInsecureHttp: boolean;
  /** The region KMS signs with (the SigV4 credential scope). */
  readonly region: string;
  readonly pkcs11: XksPkcs11Config;
  /** The token key GetHealthStatus encrypts and decrypts with (made at start if missing); never exposed to KMS. */
  readonly healthKeyLabel: string;
  readonly fleetSize: number;
  readonly keystores: readonly XksKeystoreConfig[];
  /** SigV4: how far X-Amz-Date may be from the proxy's clock, either way (spec: 5 minutes). */
  readonly clockSkewSeconds: number;
  /** A key-manager call slower than this answers DependencyTimeoutException. */
  readonly backendTimeoutMs: number;
  /** One JSON line per request: stdout, stderr, off, or a file. */
  readonly requestLog: string;
  /** Unauthenticated GET path for load balancers (spec: "Load balancer health checks"). */
  readonly loadBalancerHealthPath: string;
}

export class XksConfigError extends Error {
  override name = 'XksConfigError';
}

// Spec, "API operations": XksProxyUriPath is [/<prefix>]/kms/xks/v1, at most 128 of a-z A-Z 0-9 / - _.
const URI_PATH = /^(\/[A-Za-z0-9_-]+)*\/kms\/xks\/v1$/;
// Spec, "API operations": externalKeyId is at most 128 of A-Z a-z 0-9 - . _.
export const KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;
// Spec, Appendix A: access key ids are 20-30 of A-Z 2-7; secrets are A-Z a-z 0-9 + / = (the KMS console file: 43-64).
const ACCESS_KEY_ID = /^[A-Z2-7]{20,30}$/;
const SECRET = /^[A-Za-z0-9+/=]{43,64}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

type Raw = Record<string, unknown>;

function obj(v: unknown, where: string): Raw {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new XksConfigError(`${where} must be a JSON object`);
  return v as Raw;
}
function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new XksConfigError(`${where} must be a non-empty string`);
  return v;
}
function optStr(v: unknown, where: string): string | undefined {
  return v === undefined ? undefined : str(v, where);
}
function int(v: unknown, where: string, min: number, max: number, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new XksConfigError(`${where} must be an integer from ${min} to ${max}`);
  return v;
}
function bool(v: unknown, where: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new XksConfigError(`${where} must be true or false`);
  return v;
}
function known(o: Raw, where: string, names: readonly string[]): void {
  const extra = Object.keys(o).filter((k) => !names.includes(k));
  if (extra.length > 0) throw new XksConfigError(`${where}: unknown setting(s) ${extra.join(', ')} (known: ${names.join(', ')})`);
}
/** A value given inline or through an environment variable (`<name>Env`), never both. */
function fromEnv(o: Raw, name: string, env: NodeJS.ProcessEnv, where: string): string | undefined {
  const envName = optStr(o[`${name}Env`], `${where}.${name}Env`);
  if (o[name] !== undefined && envName !== undefined) throw new XksConfigError(`${where}: give ${name} or ${name}Env, not both`);
  if (envName === undefined) return optStr(o[name], `${where}.${name}`);
  const value = env[envName];
  if (value === undefined || value === '') throw new XksConfigError(`${where}.${name}Env: environment variable ${envName} is not set`);
  return value;
}

export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

/** Validates a parsed config file. `baseDir` resolves relative file names (the config file's directory). */
export function parseXksProxyConfig(raw: unknown, env: NodeJS.ProcessEnv, baseDir: string): XksProxyConfig {
  const c = obj(raw, 'the config');
  known(c, 'config', [
    'host', 'port', 'tls', 'allowInsecureHttp', 'region', 'pkcs11', 'healthKeyLabel', 'fleetSize', 'keystores',
    'clockSkewSeconds', 'backendTimeoutMs', 'requestLog', 'loadBalancerHealthPath',
  ]);
  const file = (v: unknown, where: string) => path.resolve(baseDir, str(v, where));
  const host = c.host === undefined ? '127.0.0.1' : str(c.host, 'host');
  const allowInsecureHttp = bool(c.allowInsecureHttp, 'allowInsecureHttp', false);
  let tls: XksTlsConfig | undefined;
  if (c.tls !== undefined) {
    const t = obj(c.tls, 'tls');
    known(t, 'tls', ['cert', 'key', 'clientCa', 'clientSubjectNames']);
    const names = t.clientSubjectNames;
    if (names !== undefined && (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || n === ''))) {
      throw new XksConfigError('tls.clientSubjectNames must be a non-empty list of subject common names');
    }
    if (names !== undefined && t.clientCa === undefined) throw new XksConfigError('tls.clientSubjectNames needs tls.clientCa (mTLS)');
    tls = {
      certFile: file(t.cert, 'tls.cert'),
      keyFile: file(t.key, 'tls.key'),
      clientCaFile: t.clientCa === undefined ? undefined : file(t.clientCa, 'tls.clientCa'),
      clientSubjectNames: names as string[] | undefined,
    };
  } else if (!allowInsecureHttp) {
    throw new XksConfigError('tls.cert and tls.key are required: the XKS Proxy API is HTTPS only (plain HTTP needs allowInsecureHttp and a loopback host)');
  } else if (!isLoopback(host)) {
    throw new XksConfigError(`allowInsecureHttp: plain HTTP is allowed on a loopback host only, not ${host}`);
  }

  const region = str(c.region, 'region');
  if (!REGION.test(region)) throw new XksConfigError(`region must be an AWS region name such as us-east-1, not "${region}"`);

  const p = obj(c.pkcs11, 'pkcs11');
  known(p, 'pkcs11', ['module', 'tokenLabel', 'slot', 'pin', 'pinEnv', 'maxSessions']);
  if ((p.tokenLabel === undefined) === (p.slot === undefined)) throw new XksConfigError('pkcs11: give tokenLabel or slot (one of them)');
  const pin = fromEnv(p, 'pin', env, 'pkcs11') ?? env.TRENT_XKS_PIN;
  if (!pin) throw new XksConfigError('pkcs11: the token user PIN is missing (pkcs11.pinEnv names a variable; default TRENT_XKS_PIN)');
  const pkcs11: XksPkcs11Config = {
    module: str(p.module, 'pkcs11.module'),
    token: p.tokenLabel !== undefined ? { label: str(p.tokenLabel, 'pkcs11.tokenLabel') } : { slot: int(p.slot, 'pkcs11.slot', 0, 2 ** 32 - 1) },
    pin,
    maxSessions: int(p.maxSessions, 'pkcs11.maxSessions', 1, 256, 8),
  };
  const healthKeyLabel = c.healthKeyLabel === undefined ? 'trent-xks-health' : str(c.healthKeyLabel, 'healthKeyLabel');

  if (!Array.isArray(c.keystores) || c.keystores.length === 0) throw new XksConfigError('keystores must be a non-empty list');
  const uriPaths = new Set<string>();
  const keystores = c.keystores.map((k, i) => {
    const where = `keystores[${i}]`;
    const ks = obj(k, where);
    known(ks, where, ['uriPath', 'credentials', 'keys']);
    const uriPath = str(ks.uriPath, `${where}.uriPath`);
    if (uriPath.length > 128 || !URI_PATH.test(uriPath)) {
      throw new XksConfigError(`${where}.uriPath must be [/<prefix>]/kms/xks/v1, at most 128 of a-z A-Z 0-9 / - _, not "${uriPath}"`);
    }
    if (uriPaths.has(uriPath)) throw new XksConfigError(`${where}.uriPath ${uriPath} is used twice`);
    uriPaths.add(uriPath);
    if (!Array.isArray(ks.credentials) || ks.credentials.length === 0) throw new XksConfigError(`${where}.credentials must be a non-empty list`);
    const ids = new Set<string>();
    const credentials = ks.credentials.map((cr, j) => {
      const cw = `${where}.credentials[${j}]`;
      const co = obj(cr, cw);
      known(co, cw, ['accessKeyId', 'secretAccessKey', 'secretAccessKeyEnv']);
      const accessKeyId = str(co.accessKeyId, `${cw}.accessKeyId`);
      if (!ACCESS_KEY_ID.test(accessKeyId)) throw new XksConfigError(`${cw}.accessKeyId must be 20 to 30 of A-Z and 2-7 (spec, Appendix A)`);
      if (ids.has(accessKeyId)) throw new XksConfigError(`${cw}.accessKeyId ${accessKeyId} is listed twice: it must name one secret`);
      ids.add(accessKeyId);
      const secret = fromEnv(co, 'secretAccessKey', env, cw);
      if (secret === undefined) throw new XksConfigError(`${cw}: secretAccessKey or secretAccessKeyEnv is required`);
      if (!SECRET.test(secret)) throw new XksConfigError(`${cw}: the secret access key must be 43 to 64 of A-Z a-z 0-9 + / = (e.g. openssl rand -base64 32)`);
      return { accessKeyId, secretAccessKey: SecretBytes.adopt(Buffer.from(secret, 'utf8')) };
    });
    if (!Array.isArray(ks.keys)) throw new XksConfigError(`${where}.keys must be a list`);
    const keys = new Map<string, XksKeyMapping>();
    ks.keys.forEach((kk, j) => {
      const kw = `${where}.keys[${j}]`;
      const ko = typeof kk === 'string' ? { keyId: kk } : obj(kk, kw);
      known(ko, kw, ['keyId', 'label', 'enabled']);
      const keyId = str(ko.keyId, `${kw}.keyId`);
      if (!KEY_ID.test(keyId)) throw new XksConfigError(`${kw}.keyId must be 1 to 128 of A-Z a-z 0-9 - . _ (spec), not "${keyId}"`);
      if (keys.has(keyId)) throw new XksConfigError(`${kw}.keyId ${keyId} is listed twice`);
      const label = ko.label === undefined ? keyId : str(ko.label, `${kw}.label`);
      if (label === healthKeyLabel) throw new XksConfigError(`${kw}: the health-check key ${healthKeyLabel} cannot be exposed to KMS`);
      keys.set(keyId, { keyId, label, enabled: bool(ko.enabled, `${kw}.enabled`, true) });
    });
    return { uriPath, credentials, keys };
  });

  const requestLog = c.requestLog === undefined ? 'stdout' : str(c.requestLog, 'requestLog');
  const lbPath = c.loadBalancerHealthPath === undefined ? '/ping' : str(c.loadBalancerHealthPath, 'loadBalancerHealthPath');
  if (!/^\/[A-Za-z0-9/_.-]*$/.test(lbPath) || [...uriPaths].some((u) => lbPath.startsWith(`${u}/`) || lbPath === u)) {
    throw new XksConfigError(`loadBalancerHealthPath must be a path outside every keystores[].uriPath, not "${lbPath}"`);
  }
  return {
    host,
    port: int(c.port, 'port', 0, 65535, 8443),
    tls,
    allowInsecureHttp,
    region,
    pkcs11,
    healthKeyLabel,
    fleetSize: int(c.fleetSize, 'fleetSize', 1, 1000, 1),
    keystores,
    clockSkewSeconds: int(c.clockSkewSeconds, 'clockSkewSeconds', 1, 3600, 300),
    backendTimeoutMs: int(c.backendTimeoutMs, 'backendTimeoutMs', 10, 60_000, 5000),
    requestLog,
    loadBalancerHealthPath: lbPath,
  };
}

/** Reads and validates the config file. */
export function loadXksProxyConfig(file: string, env: NodeJS.ProcessEnv): XksProxyConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new XksConfigError(`cannot read the config file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new XksConfigError(`the config file ${file} is not JSON: ${(err as Error).message}`);
  }
  return parseXksProxyConfig(raw, env, path.dirname(path.resolve(file)));
}
