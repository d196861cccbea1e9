import type { IncomingHttpHeaders } from 'node:http';
import type { CallerIdentity } from '../domain/identity.js';
import { KmsError } from '../domain/errors.js';

/** What the authenticator sees of a request: enough to recompute a SigV4 signature. */
export interface SignedRequest {
  readonly method: string;
  /** The request target as sent: path and query string. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /**
   * Header lines as received (name, value, name, value, ...), as Node's `rawHeaders`. SigV4 needs them: a repeated
   * header is canonicalized as its values joined with ',' while `headers` joins some with ', ' and drops others.
   */
  readonly rawHeaders?: readonly string[];
  readonly body: Buffer;
}

export interface Authenticated {
  readonly identity: CallerIdentity;
  /** The region of the SigV4 credential scope. */
  readonly region: string;
}

/** Establishes who sent a request, or throws the AWS authentication exception that applies. */
export interface Authenticator {
  authenticate(request: SignedRequest): Promise<Authenticated>;
}

/**
 * The request's one Authorization header. Node keeps only the first of several in `headers`, so a request carrying a
 * second, unchecked one would pass on the strength of the first: a request with more than one is refused.
 */
export function authorizationHeader(request: SignedRequest): string | undefined {
  if (request.rawHeaders) {
    let count = 0;
    for (let i = 0; i < request.rawHeaders.length; i += 2) if (request.rawHeaders[i]!.toLowerCase() === 'authorization') count++;
    if (count > 1) throw new KmsError('IncompleteSignatureException', `The request carries ${count} Authorization headers; it must carry one.`);
  }
  const value = request.headers.authorization;
  return Array.isArray(value) ? value[0] : value;
}
