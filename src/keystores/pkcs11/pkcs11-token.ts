import { createHash, timingSafeEqual } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { mapPkcs11Error, Pkcs11TokenError } from './pkcs11-errors.js';

type Handle = Buffer;
const P = pkcs11js;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

/** What a key may do (CKA_ENCRYPT, CKA_DECRYPT). */
export interface KeyUsage {
  readonly encrypt: boolean;
  readonly decrypt: boolean;
}

/** An AES secret key found by its label: its CKA_ID (to use it), what it may do, and its size in bytes. */
export interface LabelledAesKey extends KeyUsage {
  readonly id: Buffer;
  readonly valueLen: number;
}

/** Which token of a module: by label (CK_TOKEN_INFO.label, trimmed) or by slot id. */
export type TokenSelector = { readonly label: string } | { readonly slot: number };

export interface TokenOptions {
  readonly modulePath: string;
  readonly token: TokenSelector;
  /** The user PIN. Kept only as long as the token is open (sessions are re-opened after a failure). */
  readonly pin: string;
  /** At most this many sessions at once; callers wait for a free one. */
  readonly maxSessions?: number;
  /** IVs for AES-GCM (12 bytes each). */
  readonly randomBytes: (n: number) => Buffer;
}

/**
 * Loaded PKCS#11 modules, one per path: a module is loaded and C_Initialize'd once per process (the standard
 * allows one initialization per application), and never finalized while the process runs (another token of the
 * same module may be open). Made once in main.ts; tests may make several, which share the initialized module.
 */
export class Pkcs11Modules {
  readonly #modules = new Map<string, pkcs11js.PKCS11>();

  module(modulePath: string): pkcs11js.PKCS11 {
    let mod = this.#modules.get(modulePath);
    if (mod) return mod;
    mod = new pkcs11js.PKCS11();
    try {
      mod.load(modulePath);
    } catch (err) {
      throw new Pkcs11TokenError('module-not-found', `cannot load PKCS#11 module ${modulePath}: ${(err as Error).message}`);
    }
    try {
      mod.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
    } catch (err) {
      // Another loader in this process (a second Pkcs11Modules) initialized it already: that is the same library.
      if (!(err instanceof pkcs11js.Pkcs11Error && err.code === P.CKR_CRYPTOKI_ALREADY_INITIALIZED)) throw mapPkcs11Error(err, `C_Initialize ${modulePath}`);
    }
    this.#modules.set(modulePath, mod);
    return mod;
  }
}

/** The slot holding the selected token; token-not-found otherwise. */
export function findSlot(mod: pkcs11js.PKCS11, token: TokenSelector): Handle {
  let slots: Handle[];
  try {
    slots = mod.C_GetSlotList(true);
  } catch (err) {
    throw mapPkcs11Error(err, 'C_GetSlotList');
  }
  for (const slot of slots) {
    if ('slot' in token) {
      if (slotNumber(slot) === token.slot) return slot;
      continue;
    }
    try {
      if (mod.C_GetTokenInfo(slot).label.trim() === token.label) return slot;
    } catch {
      // a slot whose token went away: not ours
    }
  }
  throw new Pkcs11TokenError('token-not-found', 'label' in token ? `no token labelled "${token.label}"` : `no token in slot ${token.slot}`);
}

/** A CK_SLOT_ID as pkcs11js returns it (a little-endian CK_ULONG buffer) as a number. */
export const slotNumber = (slot: Handle): number => (slot.length >= 8 ? Number(slot.readBigUInt64LE(0)) : slot.readUInt32LE(0));

/** A CK_BBOOL attribute value. */
const attrBool = (value: unknown): boolean => (value as Buffer)[0] === 1;
/** A CK_ULONG attribute value (little-endian, 4 or 8 bytes). */
const attrUlong = (value: unknown): number => {
  const b = value as Buffer;
  return b.length >= 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
};

const pinDigest = (pin: string) => createHash('sha256').update(pin, 'utf8').digest();

/**
 * One token, logged in as the user, with a bounded pool of sessions. Keys are AES-256 secret-key objects made on the
 * token (CKA_TOKEN, CKA_SENSITIVE, non-extractable), found again by CKA_ID; their value never leaves the token.
 * A session that fails with a session-level error is closed and replaced, and the call retried once on a new one.
 */
export class Pkcs11Token {
  readonly #idle: Handle[] = [];
  readonly #waiting: ((s: Handle | Error) => void)[] = [];
  #open = 0;
  #closed = false;
  readonly #max: number;
  readonly #pinDigest: Buffer;
  readonly #keyHandles = new Map<string, Handle>();

  private constructor(
    private readonly mod: pkcs11js.PKCS11,
    private readonly slot: Handle,
    private readonly opts: TokenOptions,
  ) {
    this.#max = Math.max(1, opts.maxSessions ?? 8);
    this.#pinDigest = pinDigest(opts.pin);
  }

  /** Loads the module (once), finds the token, opens a first session and logs in: throws Pkcs11TokenError. */
  static open(modules: Pkcs11Modules, opts: TokenOptions): Pkcs11Token {
    const mod = modules.module(opts.modulePath);
    const slot = findSlot(mod, opts.token);
    const token = new Pkcs11Token(mod, slot, opts);
    const session = token.#newSession();
    token.#idle.push(session);
    return token;
  }

  /** Whether `pin` is the PIN this token was opened with (constant time). */
  pinMatches(pin: string): boolean {
    return timingSafeEqual(pinDigest(pin), this.#pinDigest);
  }

  get slotId(): number {
    return slotNumber(this.slot);
  }

  /** Sessions open now (idle or in use). */
  get openSessions(): number {
    return this.#open;
  }

  #newSession(): Handle {
    let session: Handle;
    try {
      session = this.mod.C_OpenSession(this.slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
    } catch (err) {
      throw mapPkcs11Error(err, 'C_OpenSession');
    }
    this.#open++;
    try {
      // Login state belongs to the application and token, not the session: the first login covers later sessions.
      this.mod.C_Login(session, P.CKU_USER, this.opts.pin);
    } catch (err) {
      if (!(err instanceof pkcs11js.Pkcs11Error && err.code === P.CKR_USER_ALREADY_LOGGED_IN)) {
        this.#discard(session);
        throw mapPkcs11Error(err, 'C_Login');
      }
    }
    return session;
  }

  #discard(session: Handle): void {
    this.#open--;
    try {
      this.mod.C_CloseSession(session);
    } catch {
      // already gone with the failure that made us discard it
    }
  }

  async #acquire(): Promise<Handle> {
    if (this.#closed) throw new Pkcs11TokenError('session', 'the token is closed');
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#open < this.#max) return this.#newSession();
    const got = await new Promise<Handle | Error>((resolve) => this.#waiting.push(resolve));
    if (got instanceof Error) throw got;
    return got;
  }

  #release(session: Handle, failed: boolean): void {
    if (failed || this.#closed) this.#discard(session);
    const next = this.#waiting.shift();
    if (!next) {
      if (!failed && !this.#closed) this.#idle.push(session);
      return;
    }
    if (this.#closed) return next(new Pkcs11TokenError('session', 'the token is closed'));
    if (!failed) return next(session);
    try {
      next(this.#newSession());
    } catch (err) {
      next(err as Error);
    }
  }

  /**
   * What a failed call means for its session: a session- or device-level failure drops the session; a session-level
   * one is retried once on another session (the cached key handles are dropped with it).
   */
  #failure(raw: unknown, what: string, decrypting: boolean, attempt: number): { err: Pkcs11TokenError; dropSession: boolean; retry: boolean } {
    const err = mapPkcs11Error(raw, what, decrypting);
    const retry = err.kind === 'session' && attempt === 0;
    if (retry) this.#keyHandles.clear();
    return { err, dropSession: err.kind === 'session' || err.kind === 'device', retry };
  }

  /** Runs `fn` on a pooled session; a session-level failure replaces the session and retries once. */
  async #withSession<T>(what: string, fn: (s: Handle) => T | Promise<T>, decrypting = false): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.#acquire();
      let failed = false;
      try {
        return await fn(session);
      } catch (raw) {
        const outcome = this.#failure(raw, what, decrypting, attempt);
        failed = outcome.dropSession;
        if (outcome.retry) continue;
        throw outcome.err;
      } finally {
        this.#release(session, failed);
      }
    }
  }

  /**
   * Makes a persistent AES-256 key on the token: sensitive, never extractable, usable only to encrypt and decrypt,
   * with CKA_ID `id` and CKA_LABEL `label` to find it again. `usage` narrows what it may do (default: both).
   */
  async generateAesKey(id: Buffer, label: string, usage: KeyUsage = { encrypt: true, decrypt: true }): Promise<void> {
    await this.#withSession('C_GenerateKey', async (s) => {
      // Asynchronous: a token may take a while to make and store a persistent object; the event loop goes on.
      const handle = await this.mod.C_GenerateKeyAsync(s, { mechanism: P.CKM_AES_KEY_GEN }, [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
        { type: P.CKA_VALUE_LEN, value: 32 },
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_SENSITIVE, value: true },
        { type: P.CKA_EXTRACTABLE, value: false },
        { type: P.CKA_ENCRYPT, value: usage.encrypt },
        { type: P.CKA_DECRYPT, value: usage.decrypt },
        { type: P.CKA_WRAP, value: false },
        { type: P.CKA_UNWRAP, value: false },
        { type: P.CKA_SIGN, value: false },
        { type: P.CKA_VERIFY, value: false },
        { type: P.CKA_DERIVE, value: false },
        { type: P.CKA_ID, value: id },
        { type: P.CKA_LABEL, value: label },
      ]);
      this.#keyHandles.set(id.toString('hex'), handle);
    });
  }

  /** The attributes that prove a key is held safely (tests and diagnostics); never the value. */
  async keyAttributes(id: Buffer): Promise<{ sensitive: boolean; extractable: boolean; token: boolean; valueLen: number }> {
    return this.#withSession('C_GetAttributeValue', (s) => {
      const attrs = this.mod.C_GetAttributeValue(s, this.#findKey(s, id), [
        { type: P.CKA_SENSITIVE }, { type: P.CKA_EXTRACTABLE }, { type: P.CKA_TOKEN }, { type: P.CKA_VALUE_LEN },
      ]);
      return { sensitive: attrBool(attrs[0]!.value), extractable: attrBool(attrs[1]!.value), token: attrBool(attrs[2]!.value), valueLen: attrUlong(attrs[3]!.value) };
    });
  }

  /**
   * The AES secret key with this CKA_LABEL (undefined: none; key-not-found if several share it): its CKA_ID, its
   * CKA_ENCRYPT / CKA_DECRYPT and CKA_VALUE_LEN. Keys made by other tools are found too, if they carry a CKA_ID.
   */
  async findAesKeyByLabel(label: string): Promise<LabelledAesKey | undefined> {
    return this.#withSession('C_FindObjects', (s) => {
      const found = this.#find(s, [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
        { type: P.CKA_LABEL, value: label },
      ]);
      if (found.length === 0) return undefined;
      if (found.length > 1) throw new Pkcs11TokenError('key-not-found', `several AES keys labelled "${label}" on the token`);
      const attrs = this.mod.C_GetAttributeValue(s, found[0]!, [
        { type: P.CKA_ID }, { type: P.CKA_ENCRYPT }, { type: P.CKA_DECRYPT }, { type: P.CKA_VALUE_LEN },
      ]);
      return { id: Buffer.from(attrs[0]!.value as Buffer), encrypt: attrBool(attrs[1]!.value), decrypt: attrBool(attrs[2]!.value), valueLen: attrUlong(attrs[3]!.value) };
    });
  }

  /** The token's CK_TOKEN_INFO strings (trimmed): who made it, which model, its serial number and label. */
  async info(): Promise<{ label: string; manufacturer: string; model: string; serialNumber: string }> {
    return this.#withSession('C_GetTokenInfo', () => {
      const i = this.mod.C_GetTokenInfo(this.slot);
      return { label: i.label.trim(), manufacturer: i.manufacturerID.trim(), model: i.model.trim(), serialNumber: i.serialNumber.trim() };
    });
  }

  /** Whether the token holds a key with this CKA_ID. */
  async hasKey(id: Buffer): Promise<boolean> {
    return this.#withSession('C_FindObjects', (s) => {
      try {
        this.#findKey(s, id);
        return true;
      } catch (err) {
        if (err instanceof Pkcs11TokenError && err.kind === 'key-not-found') return false;
        throw err;
      }
    });
  }

  /** Deletes the key object with this CKA_ID, if there is one. */
  async destroyKey(id: Buffer): Promise<void> {
    await this.#withSession('C_DestroyObject', (s) => {
      let handle: Handle;
      try {
        handle = this.#findKey(s, id);
      } catch (err) {
        if (err instanceof Pkcs11TokenError && err.kind === 'key-not-found') return;
        throw err;
      }
      this.mod.C_DestroyObject(s, handle);
      this.#keyHandles.delete(id.toString('hex'));
    });
  }

  /** Deletes every secret-key object labelled `label`; returns how many. */
  async destroyByLabel(label: string): Promise<number> {
    return this.#withSession('C_DestroyObject', (s) => {
      const found = this.#find(s, [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_LABEL, value: label },
      ], 64);
      for (const h of found) this.mod.C_DestroyObject(s, h);
      if (found.length > 0) this.#keyHandles.clear();
      return found.length;
    });
  }

  /** Up to `max` objects matching `template` (two are enough to tell "one" from "several"). */
  #find(session: Handle, template: pkcs11js.Template, max = 2): Handle[] {
    this.mod.C_FindObjectsInit(session, template);
    try {
      return this.mod.C_FindObjects(session, max);
    } finally {
      this.mod.C_FindObjectsFinal(session);
    }
  }

  #findKey(session: Handle, id: Buffer): Handle {
    const cached = this.#keyHandles.get(id.toString('hex'));
    if (cached) return cached;
    const found = this.#find(session, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_ID, value: id },
    ]);
    if (found.length !== 1) {
      throw new Pkcs11TokenError('key-not-found', found.length === 0 ? 'no key with this id on the token' : 'several keys with this id on the token');
    }
    // Object handles of token objects stay valid for every session of this application (PKCS#11 2.40 §6.7.7).
    this.#keyHandles.set(id.toString('hex'), found[0]!);
    return found[0]!;
  }

  /** AES-256-GCM (CKM_AES_GCM) inside the token: a random 96-bit IV, a 128-bit tag, `aad` authenticated. */
  async encrypt(keyId: Buffer, plaintext: Buffer, aad: Buffer): Promise<{ iv: Buffer; ciphertext: Buffer; tag: Buffer }> {
    const iv = this.opts.randomBytes(GCM_IV_BYTES);
    const out = await this.#withSession('C_Encrypt', async (s) => {
      this.mod.C_EncryptInit(s, gcm(iv, aad), this.#findKey(s, keyId));
      return this.mod.C_EncryptAsync(s, plaintext, Buffer.alloc(plaintext.length + GCM_TAG_BYTES));
    });
    return { iv, ciphertext: out.subarray(0, out.length - GCM_TAG_BYTES), tag: out.subarray(out.length - GCM_TAG_BYTES) };
  }

  /** AES-256-GCM decryption in the token; Pkcs11TokenError `authentication-failed` when the tag does not verify. */
  async decrypt(keyId: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Promise<Buffer> {
    if (iv.length !== GCM_IV_BYTES || tag.length !== GCM_TAG_BYTES) throw new Pkcs11TokenError('authentication-failed', 'C_Decrypt: bad IV or tag length');
    return this.#withSession(
      'C_Decrypt',
      async (s) => {
        this.mod.C_DecryptInit(s, gcm(iv, aad), this.#findKey(s, keyId));
        // SoftHSM buffers the whole GCM input and needs room for ciphertext + tag in the output.
        return this.mod.C_DecryptAsync(s, Buffer.concat([ciphertext, tag]), Buffer.alloc(ciphertext.length + GCM_TAG_BYTES));
      },
      true,
    );
  }

  /**
   * Runs `fn` synchronously, on an idle session (or a new one, even past maxSessions: blocking callers never overlap,
   * JavaScript being single-threaded). For callers that cannot await: the HSM root key (docs/root-key.md). A
   * session-level failure replaces the session and retries once, as #withSession does.
   */
  #withSessionBlocking<T>(what: string, fn: (s: Handle) => T, decrypting = false): T {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new Pkcs11TokenError('session', 'the token is closed');
      const session = this.#idle.pop() ?? this.#newSession();
      let failed = false;
      try {
        return fn(session);
      } catch (raw) {
        const outcome = this.#failure(raw, what, decrypting, attempt);
        failed = outcome.dropSession;
        if (outcome.retry) continue;
        throw outcome.err;
      } finally {
        this.#release(session, failed);
      }
    }
  }

  /** AES-256-GCM in the token, as `encrypt`, but blocking the event loop for the length of the call (C_Encrypt). */
  encryptBlocking(keyId: Buffer, plaintext: Buffer, aad: Buffer): { iv: Buffer; ciphertext: Buffer; tag: Buffer } {
    const iv = this.opts.randomBytes(GCM_IV_BYTES);
    const out = this.#withSessionBlocking('C_Encrypt', (s) => {
      this.mod.C_EncryptInit(s, gcm(iv, aad), this.#findKey(s, keyId));
      return this.mod.C_Encrypt(s, plaintext, Buffer.alloc(plaintext.length + GCM_TAG_BYTES));
    });
    return { iv, ciphertext: out.subarray(0, out.length - GCM_TAG_BYTES), tag: out.subarray(out.length - GCM_TAG_BYTES) };
  }

  /** AES-256-GCM decryption in the token, blocking (C_Decrypt); `authentication-failed` when the tag does not verify. */
  decryptBlocking(keyId: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer {
    if (iv.length !== GCM_IV_BYTES || tag.length !== GCM_TAG_BYTES) throw new Pkcs11TokenError('authentication-failed', 'C_Decrypt: bad IV or tag length');
    return this.#withSessionBlocking(
      'C_Decrypt',
      (s) => {
        this.mod.C_DecryptInit(s, gcm(iv, aad), this.#findKey(s, keyId));
        return this.mod.C_Decrypt(s, Buffer.concat([ciphertext, tag]), Buffer.alloc(ciphertext.length + GCM_TAG_BYTES));
      },
      true,
    );
  }

  /** Random bytes from the token's generator (C_GenerateRandom). */
  async random(n: number): Promise<Buffer> {
    return this.#withSession('C_GenerateRandom', (s) => this.mod.C_GenerateRandom(s, Buffer.alloc(n)));
  }

  /** A cheap round trip that proves the token answers and the login holds (C_GetSessionInfo on a pooled session). */
  async ping(): Promise<void> {
    await this.#withSession('C_GetSessionInfo', (s) => {
      const info = this.mod.C_GetSessionInfo(s);
      if (info.state !== CKS_RW_USER_FUNCTIONS && info.state !== CKS_RO_USER_FUNCTIONS) {
        throw new Pkcs11TokenError('session', 'C_GetSessionInfo: the session is not logged in');
      }
    });
  }

  /** Closes every session of this token (the login ends with the last session of the application). */
  close(): void {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) this.#discard(s);
    for (const w of this.#waiting.splice(0)) w(new Pkcs11TokenError('session', 'the token is closed'));
    this.#keyHandles.clear();
  }
}

function gcm(iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
  return { mechanism: P.CKM_AES_GCM, parameter: { type: P.CK_PARAMS_GCM, iv, ivBits: GCM_IV_BYTES * 8, aad, tagBits: GCM_TAG_BYTES * 8 } as pkcs11js.GcmParams };
}
