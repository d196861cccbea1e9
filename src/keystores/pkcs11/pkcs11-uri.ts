// RFC 7512 PKCS#11 URIs naming the root key: pkcs11:token=trent;object=trent-root?module-path=/usr/lib/...&pin-source=file:/run/pin
import { readFileSync } from 'node:fs';

/** A parsed RFC 7512 URI, restricted to what naming one secret key needs. */
export interface Pkcs11KeyUri {
  /** CK_TOKEN_INFO.label (`token=`), or the slot (`slot-id=`): at least one. */
  readonly token?: string | undefined;
  readonly slotId?: number | undefined;
  /** CKA_LABEL of the key (`object=`): required. */
  readonly object: string;
  /** `module-path=` (query). */
  readonly modulePath?: string | undefined;
  /** `pin-value=` (query; discouraged: the URI ends up in process lists) or `pin-source=` (a file, `file:` URI or path). */
  readonly pinValue?: string | undefined;
  readonly pinSource?: string | undefined;
}

const PATH_ATTRS = new Set(['token', 'object', 'slot-id', 'type', 'manufacturer', 'model', 'serial', 'library-manufacturer', 'library-description', 'library-version', 'slot-description', 'slot-manufacturer', 'id']);
const QUERY_ATTRS = new Set(['module-path', 'module-name', 'pin-value', 'pin-source']);

function decode(v: string, what: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    throw new Error(`the PKCS#11 URI has a bad percent-encoding in ${what}`);
  }
}

/** Parses `pkcs11:` URIs (RFC 7512); throws an Error that never repeats a PIN. */
export function parsePkcs11Uri(uri: string): Pkcs11KeyUri {
  if (!uri.toLowerCase().startsWith('pkcs11:')) throw new Error('the root key URI must start with "pkcs11:" (RFC 7512), e.g. pkcs11:token=trent;object=trent-root');
  const rest = uri.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const pathPart = q < 0 ? rest : rest.slice(0, q);
  const queryPart = q < 0 ? '' : rest.slice(q + 1);
  const attrs = new Map<string, string>();
  for (const piece of pathPart.split(';').filter((p) => p !== '')) {
    const eq = piece.indexOf('=');
    if (eq <= 0) throw new Error(`the PKCS#11 URI has a path attribute without a value: "${piece}"`);
    const name = piece.slice(0, eq).toLowerCase();
    if (!PATH_ATTRS.has(name)) throw new Error(`the PKCS#11 URI has an unknown path attribute "${name}"`);
    if (attrs.has(name)) throw new Error(`the PKCS#11 URI repeats the attribute "${name}"`);
    attrs.set(name, decode(piece.slice(eq + 1), name));
  }
  for (const piece of queryPart.split('&').filter((p) => p !== '')) {
    const eq = piece.indexOf('=');
    const name = (eq < 0 ? piece : piece.slice(0, eq)).toLowerCase();
    if (!QUERY_ATTRS.has(name)) throw new Error(`the PKCS#11 URI has an unknown query attribute "${name}"`);
    if (attrs.has(name)) throw new Error(`the PKCS#11 URI repeats the attribute "${name}"`);
    attrs.set(name, eq < 0 ? '' : decode(piece.slice(eq + 1), name));
  }
  const type = attrs.get('type');
  if (type !== undefined && type !== 'secret-key') throw new Error(`the root key is a secret key: the URI's type must be secret-key, not "${type}"`);
  const object = attrs.get('object');
  if (!object) throw new Error('the PKCS#11 URI must name the key by its label: object=LABEL');
  const slot = attrs.get('slot-id');
  let slotId: number | undefined;
  if (slot !== undefined) {
    if (!/^\d+$/.test(slot)) throw new Error('the PKCS#11 URI\'s slot-id must be a decimal number');
    slotId = Number(slot);
  }
  const token = attrs.get('token');
  if (token === undefined && slotId === undefined) throw new Error('the PKCS#11 URI must name the token: token=LABEL or slot-id=N');
  if (attrs.has('pin-value') && attrs.has('pin-source')) throw new Error('the PKCS#11 URI has both pin-value and pin-source: give one');
  return { token, slotId, object, modulePath: attrs.get('module-path'), pinValue: attrs.get('pin-value'), pinSource: attrs.get('pin-source') };
}

/** The URI without its PIN attributes, for messages and the store's settings. */
export function describePkcs11Uri(uri: Pkcs11KeyUri): string {
  const parts = [uri.token !== undefined && `token=${encodeURIComponent(uri.token)}`, uri.slotId !== undefined && `slot-id=${uri.slotId}`, `object=${encodeURIComponent(uri.object)}`];
  return `pkcs11:${parts.filter(Boolean).join(';')}`;
}

/**
 * The user PIN: the URI's pin-value, or the file its pin-source names (`file:` URI or a path; trailing newline
 * dropped), or `envPin` (TRENT_PKCS11_PIN). Throws when there is none.
 */
export function resolvePin(uri: Pkcs11KeyUri, envPin: string | undefined): string {
  if (uri.pinValue !== undefined) return uri.pinValue;
  if (uri.pinSource !== undefined) {
    const file = uri.pinSource.startsWith('file:') ? new URL(uri.pinSource).pathname : uri.pinSource;
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(`cannot read the PKCS#11 PIN from pin-source ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (envPin !== undefined && envPin !== '') return envPin;
  throw new Error('no PIN for the PKCS#11 root key token: set TRENT_PKCS11_PIN, or pin-source=FILE in the URI');
}
