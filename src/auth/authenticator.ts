import type { IncomingHttpHeaders } from 'node:http';
import type { CallerIdentity } from '../domain/identity.js';

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
