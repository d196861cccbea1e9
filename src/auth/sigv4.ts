// AWS Signature Version 4, header form: parsing what a request carries (Authorization, X-Amz-Date). The signing
// primitives are in crypto/sigv4.ts (re-exported here for the verifiers).
import { KmsError } from '../domain/errors.js';
import { ALGORITHM } from '../crypto/sigv4.js';

export * from '../crypto/sigv4.js';

export interface ParsedAuthorization {
  readonly accessKeyId: string;
  /** yyyymmdd of the credential scope. */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly terminator: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** "<date>/<region>/<service>/<terminator>", as it goes into the string to sign. */
  readonly scope: string;
}

const incomplete = (message: string) => new KmsError('IncompleteSignatureException', message);

/**
 * Parses `AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/service/aws4_request, SignedHeaders=a;b,
 * Signature=hex`. Throws IncompleteSignatureException with AWS's wording when a part is missing or malformed.
 * Scope values (service, region, terminator, date) are returned as sent: the caller checks them.
 */
export function parseAuthorization(header: string): ParsedAuthorization {
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  const rest = space < 0 ? '' : header.slice(space + 1);
  if (algorithm !== ALGORITHM && algorithm.startsWith('AWS4-')) {
    throw incomplete(`Unsupported AWS 'algorithm': '${algorithm}'. Trent accepts ${ALGORITHM} only.`);
  }
  const params = new Map<string, string>();
  if (algorithm === ALGORITHM) {
    // AWS splits the parameters on commas and whitespace alike.
    for (const piece of rest.split(/[,\s]+/)) {
      if (piece === '') continue;
      const eq = piece.indexOf('=');
      if (eq < 0) throw incomplete(`'${piece}' not a valid key=value pair (missing equal-sign) in Authorization header: '${header}'.`);
      params.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim());
    }
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders']
    .filter((name) => !params.get(name))
    .map((name) => `Authorization header requires '${name}' parameter.`);
  if (missing.length > 0) throw incomplete(`${missing.join(' ')} Authorization=${algorithm}`);

  const credential = params.get('Credential')!;
  const parts = credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw incomplete(`Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`);
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  const signedHeaders = params.get('SignedHeaders')!.split(';');
  if (signedHeaders.some((h) => h === '' || h !== h.toLowerCase())) {
    throw incomplete(`SignedHeaders must be lowercase header names separated by ';', got '${params.get('SignedHeaders')}'.`);
  }
  return {
    accessKeyId,
    date,
    region,
    service,
    terminator,
    signedHeaders,
    signature: params.get('Signature')!,
    scope: `${date}/${region}/${service}/${terminator}`,
  };
}

/** "20150830T123600Z" ⇄ Date. */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  return Number.isNaN(date.getTime()) || date.getUTCDate() !== d ? undefined : date;
}
