import { lengthPrefixed } from '../../crypto/length-prefixed.js';
import type { SecretWrapper } from '../../domain/ports.js';
import { Pkcs11TokenError } from './pkcs11-errors.js';
import { GCM_IV_BYTES, GCM_TAG_BYTES, Pkcs11Token, type Pkcs11Modules } from './pkcs11-token.js';
import { describePkcs11Uri, type Pkcs11KeyUri } from './pkcs11-uri.js';

/** Wrapped form under an HSM root key: u8 2 || 12-byte IV || AES-256-GCM ciphertext || 16-byte tag (as the file key's, version 1). */
export const HSM_WRAP_VERSION = 2;

export interface HsmRootKeyOptions {
  readonly uri: Pkcs11KeyUri;
  /** The PKCS#11 module (the URI's module-path, else TRENT_PKCS11_MODULE). */
  readonly modulePath: string;
  readonly pin: string;
  /** Make the key (AES-256, sensitive, non-extractable) when the token has none with this label. */
  readonly create: boolean;
  readonly modules: Pkcs11Modules;
  /** IVs (12 bytes each). */
  readonly randomBytes: (n: number) => Buffer;
}

/**
 * The root key as an AES-256 secret key object in a PKCS#11 token (docs/root-key.md): wrapping and unwrapping are
 * AES-GCM operations performed by the token (C_Encrypt / C_Decrypt); the key value never leaves it. The calls are
 * synchronous (SecretWrapper is): each blocks the event loop for one token round trip. They are rare: material is
 * unwrapped once and cached, secrets once per access key; wrapping happens on CreateKey, rotation and import.
 */
export class HsmRootKey implements SecretWrapper {
  private constructor(
    private readonly token: Pkcs11Token,
    private readonly keyId: Buffer,
    /** The URI without its PIN. */
    readonly description: string,
  ) {}

  /** Opens the token, finds (or makes) the key and checks it is a usable non-extractable AES-256 key. Throws Error with a clear message. */
  static async open(opts: HsmRootKeyOptions): Promise<HsmRootKey> {
    const description = describePkcs11Uri(opts.uri);
    let token: Pkcs11Token;
    try {
      token = Pkcs11Token.open(opts.modules, {
        modulePath: opts.modulePath,
        token: opts.uri.token !== undefined ? { label: opts.uri.token } : { slot: opts.uri.slotId! },
        pin: opts.pin,
        maxSessions: 2,
        randomBytes: opts.randomBytes,
      });
    } catch (err) {
      throw new Error(`cannot open the root key token (${description}, module ${opts.modulePath}): ${explain(err)}`);
    }
    try {
      let found = await token.findAesKeyByLabel(opts.uri.object);
      if (!found) {
        if (!opts.create) {
          throw new Error(`the token has no AES key labelled "${opts.uri.object}" (${description}): give --root-key-create to make one in the token`);
        }
        const id = opts.randomBytes(16);
        await token.generateAesKey(id, opts.uri.object);
        found = await token.findAesKeyByLabel(opts.uri.object);
        if (!found) throw new Error(`the token did not keep the root key it made (${description})`);
      }
      if (found.valueLen !== 32) throw new Error(`the root key ${description} is AES-${found.valueLen * 8}: it must be AES-256`);
      if (!found.encrypt || !found.decrypt) throw new Error(`the root key ${description} must allow CKA_ENCRYPT and CKA_DECRYPT`);
      const attrs = await token.keyAttributes(found.id);
      if (attrs.extractable || !attrs.sensitive || !attrs.token) {
        throw new Error(`the root key ${description} must be a sensitive, non-extractable token object (CKA_SENSITIVE true, CKA_EXTRACTABLE false, CKA_TOKEN true)`);
      }
      return new HsmRootKey(token, found.id, description);
    } catch (err) {
      token.close();
      if (err instanceof Pkcs11TokenError) throw new Error(`the root key token (${description}) failed: ${explain(err)}`);
      throw err;
    }
  }

  wrap(context: readonly string[], secret: Buffer): Buffer {
    const { iv, ciphertext, tag } = this.token.encryptBlocking(this.keyId, secret, lengthPrefixed(context));
    return Buffer.concat([Buffer.of(HSM_WRAP_VERSION), iv, ciphertext, tag]);
  }

  /** Undefined when `wrapped` was not made by this key for this context; throws when the token fails otherwise. */
  unwrap(context: readonly string[], wrapped: Buffer): Buffer | undefined {
    if (wrapped.length < 1 + GCM_IV_BYTES + GCM_TAG_BYTES || wrapped[0] !== HSM_WRAP_VERSION) return undefined;
    const iv = wrapped.subarray(1, 1 + GCM_IV_BYTES);
    const tag = wrapped.subarray(wrapped.length - GCM_TAG_BYTES);
    const ciphertext = wrapped.subarray(1 + GCM_IV_BYTES, wrapped.length - GCM_TAG_BYTES);
    try {
      return this.token.decryptBlocking(this.keyId, iv, ciphertext, tag, lengthPrefixed(context));
    } catch (err) {
      if (err instanceof Pkcs11TokenError && err.kind === 'authentication-failed') return undefined;
      throw err;
    }
  }

  close(): void {
    this.token.close();
  }
}

function explain(err: unknown): string {
  if (err instanceof Pkcs11TokenError) {
    switch (err.kind) {
      case 'invalid-credentials':
        return `the PIN was refused (${err.ckr ?? err.message}): check TRENT_PKCS11_PIN or the URI's pin-source`;
      case 'token-not-found':
        return `${err.message}: check the URI's token= (or slot-id=) and that the token is initialized`;
      case 'module-not-found':
        return `${err.message}: check the URI's module-path or TRENT_PKCS11_MODULE`;
      default:
        return err.message;
    }
  }
  return (err as Error).message;
}
