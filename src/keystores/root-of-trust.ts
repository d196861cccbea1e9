// Which root key a store uses (a file, a passphrase, or an AES key in a PKCS#11 token), and binding it to the store:
// the check value that refuses a wrong root key, and the fingerprint key. See docs/root-key.md.
import { timingSafeEqual } from 'node:crypto';
import { SecretBytes } from '../crypto/secret-bytes.js';
import type { RandomSource, RootOfTrust, SecretWrapper, Storage } from '../domain/ports.js';
import { HSM_CHECK_PREFIX, keyedFingerprint, RootKey } from './local/root-key.js';
import { HsmRootKey } from './pkcs11/hsm-root-key.js';
import type { Pkcs11Modules } from './pkcs11/pkcs11-token.js';
import { parsePkcs11Uri, resolvePin } from './pkcs11/pkcs11-uri.js';

/** Settings a store keeps about its root key (never the key). */
export const ROOT_CHECK_SETTING = 'root.check';
/** The store's fingerprint key, wrapped under the root key (HSM root keys and migrated stores; base64). */
export const ROOT_FINGERPRINT_SETTING = 'root.fingerprint';
export const ROOT_SALT_SETTING = 'root.scrypt.salt';
export const FINGERPRINT_KEY_CONTEXT: readonly string[] = ['root-fingerprint-key'];
const CHECK_CONTEXT: readonly string[] = ['root-check'];
const CHECK_PLAINTEXT = Buffer.from('trent root key check v1', 'utf8');

/** How the root key is configured (a subset of TrentConfig). */
export interface RootKeyConfig {
  /** A pkcs11: URI (RFC 7512): the root key is in that token. Otherwise the file or passphrase below. */
  readonly rootKey?: string | undefined;
  readonly rootKeyCreate?: boolean | undefined;
  readonly pkcs11Module?: string | undefined;
  readonly pkcs11Pin?: string | undefined;
  readonly rootKeyFile: string;
  readonly rootKeyPassphrase?: string | undefined;
}

/** An opened root key, not yet checked against a store. */
export type OpenedRootKey = { readonly kind: 'file' | 'passphrase'; readonly key: RootKey } | { readonly kind: 'hsm'; readonly key: HsmRootKey };

/** Opens the HSM root key a `pkcs11:` URI names (module and PIN from the URI, else `pkcs11Module` / `pkcs11Pin`). */
export async function openHsmRootKey(uriText: string, cfg: Omit<RootKeyConfig, 'rootKeyFile'>, modules: Pkcs11Modules, random: RandomSource): Promise<HsmRootKey> {
  const uri = parsePkcs11Uri(uriText);
  const modulePath = uri.modulePath ?? cfg.pkcs11Module;
  if (!modulePath) throw new Error('no PKCS#11 module for the root key: set TRENT_PKCS11_MODULE (--pkcs11-module), or module-path= in the URI');
  return HsmRootKey.open({ uri, modulePath, pin: resolvePin(uri, cfg.pkcs11Pin), create: cfg.rootKeyCreate === true, modules, randomBytes: (n) => random.bytes(n) });
}

/**
 * The configured root key: the HSM key (`rootKey`), or the passphrase's (salt in the store), or the key file, made
 * when `createFile` and it does not exist yet (`onCreated` is told).
 */
export async function openConfiguredRootKey(
  cfg: RootKeyConfig, storage: Storage, random: RandomSource, modules: Pkcs11Modules, opts: { createFile: boolean; onCreated?: (file: string) => void },
): Promise<OpenedRootKey> {
  if (cfg.rootKey) return { kind: 'hsm', key: await openHsmRootKey(cfg.rootKey, cfg, modules, random) };
  // A store whose root key is in a token: say so before making a passphrase salt or a key file it cannot use.
  if ((await storage.getSetting(ROOT_CHECK_SETTING))?.startsWith(HSM_CHECK_PREFIX)) {
    throw new Error('this data store\'s root key is in a PKCS#11 token: give --root-key pkcs11:token=…;object=… (or rootKey in the config file, TRENT_ROOT_KEY), see docs/root-key.md; refusing to start');
  }
  if (cfg.rootKeyPassphrase) return { kind: 'passphrase', key: await RootKey.fromPassphrase(cfg.rootKeyPassphrase, storage, random) };
  if (!opts.createFile) return { kind: 'file', key: await RootKey.fromExistingFile(cfg.rootKeyFile) };
  const { rootKey, created } = await RootKey.fromFile(cfg.rootKeyFile, random);
  if (created) opts.onCreated?.(cfg.rootKeyFile);
  return { kind: 'file', key: rootKey };
}

/** The check value of an HSM root key: a known plaintext wrapped under it (unwrapping proves the key). */
export function hsmCheckValue(key: SecretWrapper): string {
  return `${HSM_CHECK_PREFIX}${key.wrap(CHECK_CONTEXT, CHECK_PLAINTEXT).toString('base64')}`;
}

/** Whether a `root.check` setting was made by this root key (either kind). */
export function checkValueMatches(root: OpenedRootKey, stored: string): boolean {
  if (root.kind !== 'hsm') return root.key.matchesCheckValue(stored);
  if (!stored.startsWith(HSM_CHECK_PREFIX)) return false;
  const plain = root.key.unwrap(CHECK_CONTEXT, Buffer.from(stored.slice(HSM_CHECK_PREFIX.length), 'base64'));
  return plain !== undefined && plain.length === CHECK_PLAINTEXT.length && timingSafeEqual(plain, CHECK_PLAINTEXT);
}

/** A fresh check value for this root key. */
export function checkValueOf(root: OpenedRootKey): string {
  return root.kind === 'hsm' ? hsmCheckValue(root.key) : root.key.checkValue();
}

/** The root of trust bound to a store: its wrapper and its fingerprint key. */
export class StoreRoot implements RootOfTrust {
  constructor(
    private readonly wrapper: SecretWrapper,
    private readonly fingerprintKey: SecretBytes | RootKey,
    private readonly onClose: () => void = () => {},
  ) {}

  wrap(context: readonly string[], secret: Buffer): Buffer {
    return this.wrapper.wrap(context, secret);
  }

  unwrap(context: readonly string[], wrapped: Buffer): Buffer | undefined {
    return this.wrapper.unwrap(context, wrapped);
  }

  fingerprint(context: readonly string[], data: Buffer): Buffer {
    return this.fingerprintKey instanceof RootKey ? this.fingerprintKey.fingerprint(context, data) : keyedFingerprint(this.fingerprintKey.unsafeBytes(), context, data);
  }

  close(): void {
    if (this.fingerprintKey instanceof SecretBytes) this.fingerprintKey.wipe();
    this.onClose();
  }
}

/**
 * Checks that `root` is the store's root key (recording its check value on a new store; the first node to start
 * wins) and loads the store's fingerprint key (making one on a new store with an HSM root key). Throws with a clear
 * message on a wrong root key.
 */
export async function bindRootKey(storage: Storage, root: OpenedRootKey, random: RandomSource): Promise<StoreRoot> {
  const stored = await storage.putSettingIfAbsent(ROOT_CHECK_SETTING, checkValueOf(root));
  if (!checkValueMatches(root, stored)) {
    const storeKind = stored.startsWith(HSM_CHECK_PREFIX) ? 'a root key in a PKCS#11 token' : 'a root key file or passphrase';
    const given = root.kind === 'hsm' ? `the token key ${root.key.description}` : root.kind === 'file' ? 'the root key file' : 'the root key passphrase';
    throw new Error(`the root key does not match this data store (it uses ${storeKind}; ${given} is not it): refusing to start`);
  }
  const close = root.kind === 'hsm' ? () => root.key.close() : undefined;
  let wrappedFp = await storage.getSetting(ROOT_FINGERPRINT_SETTING);
  if (wrappedFp === undefined) {
    // A file or passphrase store that never migrated keys its fingerprints with the root key itself, as it always did.
    if (root.kind !== 'hsm') return new StoreRoot(root.key, root.key, close);
    const fresh = random.bytes(32);
    wrappedFp = await storage.putSettingIfAbsent(ROOT_FINGERPRINT_SETTING, root.key.wrap(FINGERPRINT_KEY_CONTEXT, fresh).toString('base64'));
    fresh.fill(0);
  }
  const fp = root.key.unwrap(FINGERPRINT_KEY_CONTEXT, Buffer.from(wrappedFp, 'base64'));
  if (!fp) throw new Error(`the store's fingerprint key (setting ${ROOT_FINGERPRINT_SETTING}) does not unwrap under this root key: refusing to start`);
  return new StoreRoot(root.key, SecretBytes.adopt(fp), close);
}
