// SigV4 verification as the XKS Proxy API's Appendix A describes it: service `kms-xks-proxy`, the configured region,
// the access key id naming one of the URI path's secrets, host and x-amz-date signed, X-Amz-Date within 5 minutes.
// Every failure is AuthenticationFailedException (401); the message says which check failed.
import {
  canonicalRequest, parseAmzDate, parseAuthorization, sha256Hex, signature, signaturesEqual, signingKey, stringToSign,
  TERMINATOR, type HeaderPair, type ParsedAuthorization,
} from '../auth/sigv4.js';
import type { XksCredential } from './config.js';
import { XksError } from './errors.js';

export const XKS_SERVICE = 'kms-xks-proxy';

export interface XksSignedRequest {
  readonly method: string;
  /** The path as sent, without the query string. */
  readonly path: string;
  readonly query: string;
  /** Raw header pairs as received (names in any case). */
  readonly headers: readonly HeaderPair[];
  readonly body: Buffer;
}

const fail = (message: string) => new XksError('AuthenticationFailedException', message);

function header(headers: readonly HeaderPair[], name: string): string | undefined {
  for (const [n, v] of headers) if (n.toLowerCase() === name) return v;
  return undefined;
}

/** Returns the access key id that signed the request; throws AuthenticationFailedException otherwise. */
export function verifyXksSignature(
  request: XksSignedRequest,
  credentials: readonly XksCredential[],
  region: string,
  now: Date,
  clockSkewSeconds: number,
): string {
  const authorization = header(request.headers, 'authorization');
  if (!authorization) throw fail('The request is not signed: the Authorization header (AWS SigV4) is missing.');
  let auth: ParsedAuthorization;
  try {
    auth = parseAuthorization(authorization);
  } catch (err) {
    throw fail(`Malformed Authorization header: ${(err as Error).message}`);
  }
  if (auth.service !== XKS_SERVICE) throw fail(`The credential scope names service '${auth.service}'; the XKS proxy accepts '${XKS_SERVICE}' only.`);
  if (auth.region !== region) throw fail(`The credential scope names region '${auth.region}'; this proxy is configured for '${region}'.`);
  if (auth.terminator !== TERMINATOR) throw fail(`The credential scope must end in '${TERMINATOR}'.`);
  for (const required of ['host', 'x-amz-date']) {
    if (!auth.signedHeaders.includes(required)) throw fail(`SignedHeaders must include '${required}'.`);
  }
  const amzDate = header(request.headers, 'x-amz-date');
  const at = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (!amzDate || !at) throw fail("The X-Amz-Date header is missing or not in the form yyyymmddThhmmssZ.");
  if (auth.date !== amzDate.slice(0, 8)) throw fail(`The credential scope date ${auth.date} is not the date of X-Amz-Date ${amzDate}.`);
  // Spec, Appendix A, Task 4: requests more than 5 minutes in the past or future fail authentication (replay).
  if (Math.abs(at.getTime() - now.getTime()) > clockSkewSeconds * 1000) {
    throw fail(`X-Amz-Date ${amzDate} is more than ${clockSkewSeconds} seconds away from the proxy's clock.`);
  }
  const credential = credentials.find((c) => c.accessKeyId === auth.accessKeyId);
  // The same answer as a wrong signature for the rest: no hint whether the access key id exists.
  if (!credential) throw fail('The signature does not verify with the credentials configured for this URI path.');
  const payloadHash = sha256Hex(request.body);
  const declared = header(request.headers, 'x-amz-content-sha256');
  if (declared !== undefined && declared !== payloadHash) throw fail("The x-amz-content-sha256 header does not match the request body.");
  const canonical = canonicalRequest({
    method: request.method, path: request.path, query: request.query, headers: request.headers, signedHeaders: auth.signedHeaders, payloadHash,
  });
  const key = signingKey(credential.secretAccessKey.unsafeBytes(), auth.date, auth.region, XKS_SERVICE);
  try {
    const expected = signature(key, stringToSign(amzDate, auth.scope, canonical));
    if (!signaturesEqual(expected, auth.signature)) throw fail('The signature does not verify with the credentials configured for this URI path.');
  } finally {
    key.fill(0);
  }
  return auth.accessKeyId;
}
