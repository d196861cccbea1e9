import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HsmClusterConfig } from '../../config/config.js';
import type { ConnectionErrorCodeType } from '../../model/kms-model.generated.js';
import { SecretBytes } from '../../crypto/secret-bytes.js';
import { parseKeyReference } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import type { Clock, CustomKeyStoreRecord, HsmBackend, MaterialRecord, RandomSource, Scope, SecretWrapper } from '../../domain/ports.js';
import { Pkcs11TokenError } from './pkcs11-errors.js';
import { Pkcs11Modules, Pkcs11Token, type TokenSelector } from './pkcs11-token.js';

/**
 * What an HSM key's MaterialRecord holds instead of wrapped material: a reference to the key object in the token.
 *   u8 0xC1 (never the root key's wrap version, 1) || u8 n || custom key store id (n bytes, ASCII) || u8 m || CKA_ID (m bytes)
 * The CKA_ID is the material id's 32 bytes. Nothing in it is secret.
 */
const REF_MARK = 0xc1;

export function hsmMaterialRef(customKeyStoreId: string, ckaId: Buffer): Buffer {
  const id = Buffer.from(customKeyStoreId, 'ascii');
  return Buffer.concat([Buffer.of(REF_MARK, id.length), id, Buffer.of(ckaId.length), ckaId]);
}

export function parseHsmMaterialRef(wrapped: Buffer): { customKeyStoreId: string; ckaId: Buffer } | undefined {
  if (wrapped.length < 3 || wrapped[0] !== REF_MARK) return undefined;
  const n = wrapped[1]!;
  if (wrapped.length < 2 + n + 1) return undefined;
  const m = wrapped[2 + n]!;
  if (wrapped.length !== 3 + n + m) return undefined;
  return { customKeyStoreId: wrapped.subarray(2, 2 + n).toString('ascii'), ckaId: Buffer.from(wrapped.subarray(3 + n)) };
}

export const isHsmMaterial = (m: MaterialRecord): boolean => m.wrapped[0] === REF_MARK && parseHsmMaterialRef(m.wrapped) !== undefined;

export const passwordContext = (customKeyStoreId: string): string[] => ['custom-key-store-password', customKeyStoreId];

interface OpenToken {
  readonly token: Pkcs11Token;
  readonly stores: Set<string>;
}

export interface HsmKeyStoreOptions {
  readonly clusters: readonly HsmClusterConfig[];
  readonly modules: Pkcs11Modules;
  readonly root: SecretWrapper;
  readonly random: RandomSource;
  readonly clock: Clock;
  /** The stored record of a custom key store (for a node that must open a connected store's token on first use). */
  readonly lookup: (scope: Scope, customKeyStoreId: string) => Promise<CustomKeyStoreRecord | undefined>;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * AWS_CLOUDHSM custom key stores over PKCS#11. One open token per (module, token) on this node, shared by the stores
 * that use it (two accounts may name the same cluster): the token is logged in once, so a second store's password is
 * checked against the first's (PKCS#11 would not check it again). Encrypt and decrypt of an HSM key's material go to
 * its store's token; a node that has not opened the token of a store that is CONNECTED opens it on first use.
 */
export class HsmKeyStore implements HsmBackend {
  readonly #clusters: ReadonlyMap<string, HsmClusterConfig>;
  readonly #tokens = new Map<string, OpenToken>();
  /** Custom key store id -> the token key it uses. */
  readonly #stores = new Map<string, string>();
  readonly #opening = new Map<string, Promise<ConnectionErrorCodeType | undefined>>();

  constructor(private readonly opts: HsmKeyStoreOptions) {
    this.#clusters = new Map(opts.clusters.map((c) => [c.clusterId, c]));
  }

  hasCluster(clusterId: string): boolean {
    return this.#clusters.has(clusterId);
  }

  checkTrustAnchor(clusterId: string, pem: string): string | undefined {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      return 'The trust anchor certificate is not a PEM-encoded X.509 certificate.';
    }
    const file = this.#clusters.get(clusterId)?.trustAnchorCertificateFile;
    if (!file) return undefined;
    let expected: X509Certificate;
    try {
      expected = new X509Certificate(readFileSync(file));
    } catch (err) {
      this.opts.log?.('cannot read the trust anchor of an HSM cluster', { clusterId, file, error: (err as Error).message });
      return `The trust anchor of cluster ${clusterId} cannot be read by Trent.`;
    }
    return cert.fingerprint256 === expected.fingerprint256 ? undefined : `The trust anchor certificate is not the trust anchor of cluster ${clusterId}.`;
  }

  related(clusterA: string, clusterB: string): boolean {
    const a = this.#clusters.get(clusterA);
    const b = this.#clusters.get(clusterB);
    return !!a && !!b && a.tokenLabel !== undefined && a.tokenLabel === b.tokenLabel;
  }

  wrapPassword(customKeyStoreId: string, password: Buffer): Buffer {
    return this.opts.root.wrap(passwordContext(customKeyStoreId), password);
  }

  async connect(store: CustomKeyStoreRecord): Promise<ConnectionErrorCodeType | undefined> {
    // One opening at a time per store on this node (a second request waits for the first's answer).
    const pending = this.#opening.get(store.customKeyStoreId);
    if (pending) return pending;
    const p = this.#connect(store).finally(() => this.#opening.delete(store.customKeyStoreId));
    this.#opening.set(store.customKeyStoreId, p);
    return p;
  }

  async #connect(store: CustomKeyStoreRecord): Promise<ConnectionErrorCodeType | undefined> {
    const cluster = store.cloudHsmClusterId === undefined ? undefined : this.#clusters.get(store.cloudHsmClusterId);
    if (!cluster) return 'CLUSTER_NOT_FOUND';
    const pinBytes = store.passwordWrapped && this.opts.root.unwrap(passwordContext(store.customKeyStoreId), store.passwordWrapped);
    if (!pinBytes) return 'INTERNAL_ERROR';
    const pin = pinBytes.toString('utf8');
    pinBytes.fill(0);
    const selector: TokenSelector = cluster.tokenLabel !== undefined ? { label: cluster.tokenLabel } : { slot: cluster.slot! };
    const tokenKey = `${cluster.modulePath}\u0000${JSON.stringify(selector)}`;
    this.disconnect(store.customKeyStoreId);
    let open = this.#tokens.get(tokenKey);
    if (open) {
      if (!open.token.pinMatches(pin)) return 'INVALID_CREDENTIALS';
    } else {
      try {
        const token = Pkcs11Token.open(this.opts.modules, {
          modulePath: cluster.modulePath, token: selector, pin, maxSessions: cluster.maxSessions, randomBytes: (n) => this.opts.random.bytes(n),
        });
        open = { token, stores: new Set() };
        this.#tokens.set(tokenKey, open);
      } catch (err) {
        const code = connectionErrorCode(err);
        this.opts.log?.('could not connect a custom key store to its HSM', {
          customKeyStoreId: store.customKeyStoreId, clusterId: cluster.clusterId, connectionErrorCode: code, error: (err as Error).message,
        });
        return code;
      }
    }
    open.stores.add(store.customKeyStoreId);
    this.#stores.set(store.customKeyStoreId, tokenKey);
    return undefined;
  }

  /**
   * At start: opens the tokens of the stores that are CONNECTED, so that their keys answer at once and a key deleted
   * by the scheduler has its object destroyed. A store whose token does not open stays CONNECTED in storage (another
   * node may reach it); its keys answer KMSInvalidStateException on this node until it does. Never throws.
   */
  async openConnected(stores: readonly CustomKeyStoreRecord[]): Promise<void> {
    for (const store of stores) {
      if (store.type !== 'AWS_CLOUDHSM') continue;
      await this.connect(store).catch((err: unknown) =>
        this.opts.log?.('could not open the HSM of a connected custom key store', { customKeyStoreId: store.customKeyStoreId, error: String(err) }),
      );
    }
  }

  disconnect(customKeyStoreId: string): void {
    const tokenKey = this.#stores.get(customKeyStoreId);
    if (tokenKey === undefined) return;
    this.#stores.delete(customKeyStoreId);
    const open = this.#tokens.get(tokenKey);
    if (!open) return;
    open.stores.delete(customKeyStoreId);
    if (open.stores.size === 0) {
      this.#tokens.delete(tokenKey);
      open.token.close();
    }
  }

  /** Closes every token (shutdown). */
  close(): void {
    for (const id of [...this.#stores.keys()]) this.disconnect(id);
  }

  /** Whether this node has the store's token open. */
  isOpen(customKeyStoreId: string): boolean {
    return this.#stores.has(customKeyStoreId);
  }

  /** The token of a store the caller has checked is CONNECTED (opened now if this node has not yet). */
  async #token(store: CustomKeyStoreRecord): Promise<Pkcs11Token> {
    const have = this.#tokenOf(store.customKeyStoreId);
    if (have) return have;
    if (store.connectionState !== 'CONNECTED') throw notConnected(store.customKeyStoreId);
    const failed = await this.connect(store);
    const token = this.#tokenOf(store.customKeyStoreId);
    if (failed || !token) {
      throw new KmsError('KMSInvalidStateException', `Custom key store ${store.customKeyStoreId} is not usable on this node: its HSM refused the connection (${failed ?? 'INTERNAL_ERROR'}).`);
    }
    return token;
  }

  #tokenOf(customKeyStoreId: string): Pkcs11Token | undefined {
    const tokenKey = this.#stores.get(customKeyStoreId);
    return tokenKey === undefined ? undefined : this.#tokens.get(tokenKey)?.token;
  }

  /** The token of the store an HSM material names (looked up by the material's key ARN scope). */
  async #tokenForMaterial(material: MaterialRecord): Promise<{ token: Pkcs11Token; ckaId: Buffer; customKeyStoreId: string }> {
    const ref = parseHsmMaterialRef(material.wrapped);
    if (!ref) throw new Error('not an HSM material reference');
    const have = this.#tokenOf(ref.customKeyStoreId);
    if (have) return { token: have, ...ref };
    const arn = parseKeyReference(material.keyArn);
    if (!arn || arn.kind !== 'keyArn') throw new Error('an HSM material with a malformed key ARN');
    const store = await this.opts.lookup(arn.scope, ref.customKeyStoreId);
    if (!store) throw notConnected(ref.customKeyStoreId);
    return { token: await this.#token(store), ...ref };
  }

  async createMaterial(store: CustomKeyStoreRecord, keyArn: string, materialId: string): Promise<MaterialRecord> {
    const token = await this.#token(store);
    const ckaId = Buffer.from(materialId, 'hex');
    await hsmCall(store.customKeyStoreId, () => token.generateAesKey(ckaId, `trent:${keyArn}`));
    return { keyArn, materialId, wrapped: hsmMaterialRef(store.customKeyStoreId, ckaId), createdAt: this.opts.clock.now() };
  }

  /**
   * A key was deleted: its objects go from every token this node has open (found by their label, `trent:<key ARN>`).
   * As on AWS, a key deleted while its store is disconnected leaves its object in the token. Never throws.
   */
  async destroyKeyObjects(keyArn: string): Promise<void> {
    for (const [tokenKey, open] of this.#tokens) {
      try {
        const n = await open.token.destroyByLabel(`trent:${keyArn}`);
        if (n > 0) this.opts.log?.('deleted key: its key object was destroyed in the HSM', { arn: keyArn, objects: n });
      } catch (err) {
        this.opts.log?.('deleted key: could not destroy its key object in the HSM', { arn: keyArn, token: tokenKey.split('\u0000')[1], error: (err as Error).message });
      }
    }
  }

  async random(store: CustomKeyStoreRecord, n: number): Promise<Buffer> {
    const token = await this.#token(store);
    return hsmCall(store.customKeyStoreId, () => token.random(n));
  }

  async encrypt(material: MaterialRecord, plaintext: Buffer, aad: Buffer): Promise<{ iv: Buffer; ciphertext: Buffer; tag: Buffer }> {
    const { token, ckaId, customKeyStoreId } = await this.#tokenForMaterial(material);
    return hsmCall(customKeyStoreId, () => token.encrypt(ckaId, plaintext, aad));
  }

  async decrypt(material: MaterialRecord, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Promise<SecretBytes | undefined> {
    const { token, ckaId, customKeyStoreId } = await this.#tokenForMaterial(material);
    try {
      return SecretBytes.adopt(await hsmCall(customKeyStoreId, () => token.decrypt(ckaId, iv, ciphertext, tag, aad)));
    } catch (err) {
      if (err instanceof Pkcs11TokenError && err.kind === 'authentication-failed') return undefined;
      throw err;
    }
  }
}

const notConnected = (customKeyStoreId: string) =>
  new KmsError('KMSInvalidStateException', `The custom key store ${customKeyStoreId} is not connected: connect it with ConnectCustomKeyStore.`);

/** Runs a token call; its failures become AWS exceptions, except a failed tag check, which the caller handles. */
async function hsmCall<T>(customKeyStoreId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof Pkcs11TokenError)) throw err;
    switch (err.kind) {
      case 'authentication-failed':
        throw err;
      case 'key-not-found':
        throw new KmsError('KMSInvalidStateException', `The key material of this key is not in the HSM of custom key store ${customKeyStoreId}.`);
      case 'invalid-credentials':
      case 'token-not-found':
      case 'module-not-found':
      case 'session':
      case 'capacity':
      case 'device':
        throw new KmsError('KMSInternalException', `The HSM of custom key store ${customKeyStoreId} failed (${err.ckr ?? err.kind}).`);
      default:
        return err.kind satisfies never;
    }
  }
}

/** AWS's ConnectionErrorCode for a failure to open a token. */
function connectionErrorCode(err: unknown): ConnectionErrorCodeType {
  if (!(err instanceof Pkcs11TokenError)) return 'INTERNAL_ERROR';
  switch (err.kind) {
    case 'invalid-credentials':
      return err.ckr === 'CKR_PIN_LOCKED' ? 'USER_LOCKED_OUT' : 'INVALID_CREDENTIALS';
    case 'module-not-found':
    case 'token-not-found':
      return 'CLUSTER_NOT_FOUND';
    case 'session':
    case 'device':
      return 'NETWORK_ERRORS';
    case 'capacity':
      return 'INSUFFICIENT_CLOUDHSM_HSMS';
    case 'authentication-failed':
    case 'key-not-found':
      return 'INTERNAL_ERROR';
    default:
      return err.kind satisfies never;
  }
}

