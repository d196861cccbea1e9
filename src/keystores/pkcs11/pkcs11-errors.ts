import pkcs11js from 'pkcs11js';

/**
 * What went wrong talking to a PKCS#11 token, in the terms the key store needs:
 * - `invalid-credentials`: the user PIN is wrong, locked, expired or out of range (C_Login);
 * - `authentication-failed`: a ciphertext's GCM tag did not verify (C_Decrypt);
 * - `module-not-found`: the PKCS#11 module could not be loaded;
 * - `token-not-found`: no token with that label, or no such slot, or no token in it;
 * - `key-not-found`: no key object with that id on the token;
 * - `session`: the session broke (closed, handle invalid, device removed): replace it and retry;
 * - `capacity`: the token refuses more sessions or has no memory left;
 * - `device`: any other token failure.
 */
export type Pkcs11ErrorKind =
  | 'invalid-credentials' | 'authentication-failed' | 'module-not-found' | 'token-not-found' | 'key-not-found'
  | 'session' | 'capacity' | 'device';

export class Pkcs11TokenError extends Error {
  override name = 'Pkcs11TokenError';
  constructor(
    readonly kind: Pkcs11ErrorKind,
    message: string,
    /** The CKR_* name of the return value, when the token gave one. */
    readonly ckr?: string,
  ) {
    super(message);
  }
}

const CKR_NAMES = new Map<number, string>(
  Object.entries(pkcs11js as unknown as Record<string, unknown>)
    .filter(([k, v]) => k.startsWith('CKR_') && typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

/** The CKR_* name of a return value (for messages and logs). */
export const ckrName = (code: number): string => CKR_NAMES.get(code) ?? `CKR_0x${code.toString(16).padStart(8, '0')}`;

const P = pkcs11js;
const INVALID_CREDENTIALS = new Set([P.CKR_PIN_INCORRECT, P.CKR_PIN_INVALID, P.CKR_PIN_LEN_RANGE, P.CKR_PIN_LOCKED, P.CKR_PIN_EXPIRED]);
const SESSION = new Set([
  P.CKR_SESSION_CLOSED, P.CKR_SESSION_HANDLE_INVALID, P.CKR_DEVICE_REMOVED, P.CKR_TOKEN_NOT_PRESENT, P.CKR_USER_NOT_LOGGED_IN,
  P.CKR_CRYPTOKI_NOT_INITIALIZED, P.CKR_OPERATION_ACTIVE,
]);
const CAPACITY = new Set([P.CKR_SESSION_COUNT, P.CKR_DEVICE_MEMORY, P.CKR_HOST_MEMORY]);
const TOKEN = new Set([P.CKR_SLOT_ID_INVALID, P.CKR_TOKEN_NOT_RECOGNIZED]);
const KEY = new Set([P.CKR_OBJECT_HANDLE_INVALID, P.CKR_KEY_HANDLE_INVALID]);
/**
 * C_Decrypt with CKM_AES_GCM: a failed tag check. The standard says CKR_ENCRYPTED_DATA_INVALID; SoftHSM 2.6 answers
 * CKR_GENERAL_ERROR (its OpenSSL backend reports the failed EVP_DecryptFinal that way). Both mean "authentication
 * failed" here: the ciphertext, tag or AAD is wrong.
 */
const DECRYPT_AUTH = new Set([P.CKR_ENCRYPTED_DATA_INVALID, P.CKR_ENCRYPTED_DATA_LEN_RANGE, P.CKR_GENERAL_ERROR]);

/** Maps anything thrown by pkcs11js during `what` to a Pkcs11TokenError; `decrypting` enables the tag-check rule. */
export function mapPkcs11Error(err: unknown, what: string, decrypting = false): Pkcs11TokenError {
  if (err instanceof Pkcs11TokenError) return err;
  if (err instanceof pkcs11js.Pkcs11Error) {
    const code = err.code;
    const name = ckrName(code);
    const msg = `${what}: ${name}`;
    if (decrypting && DECRYPT_AUTH.has(code)) return new Pkcs11TokenError('authentication-failed', `${what}: authentication failed (${name})`, name);
    if (INVALID_CREDENTIALS.has(code)) return new Pkcs11TokenError('invalid-credentials', msg, name);
    if (SESSION.has(code)) return new Pkcs11TokenError('session', msg, name);
    if (CAPACITY.has(code)) return new Pkcs11TokenError('capacity', msg, name);
    if (TOKEN.has(code)) return new Pkcs11TokenError('token-not-found', msg, name);
    if (KEY.has(code)) return new Pkcs11TokenError('key-not-found', msg, name);
    return new Pkcs11TokenError('device', msg, name);
  }
  return new Pkcs11TokenError('device', `${what}: ${(err as Error)?.message ?? String(err)}`);
}
