import { accessKeyWrapContext } from './admin-credentials.js';
import { authorizationHeader, type Authenticated, type Authenticator, type SignedRequest } from './authenticator.js';
import { CallerDirectory, IamGenerationWatch } from './caller-directory.js';
import type { CompiledPolicy } from '../domain/policy/index.js';
import {
  canonicalRequest, formatAmzDate, parseAmzDate, parseAuthorization, REGION_PATTERN, sha256Hex, signature, signaturesEqual,
  signingKey, stringToSign, TERMINATOR, type HeaderPair, type ParsedAuthorization,
} from './sigv4.js';
import { SecretBytes } from '../crypto/secret-bytes.js';
import { KmsError } from '../domain/errors.js';
import type { Clock, Storage } from '../domain/ports.js';

/** Unwraps a secret stored under the root key (the local RootKey is one). */
export interface SecretUnwrapper {
  unwrap(context: readonly string[], wrapped: Buffer): Buffer | undefined;
}

export interface SigV4AuthenticatorOptions {
  readonly storage: Pick<Storage, 'getAccessKey' | 'getPrincipalByArn' | 'getIdentityPolicies' | 'getSetting'>;
  readonly rootKey: SecretUnwrapper;
  /** Watches for principal, policy and access key changes (default: one over `storage`, IAM_REFRESH_MS). */
  readonly watch?: IamGenerationWatch;
  readonly clock: Clock;
  /** How far X-Amz-Date may be from the server clock, either way (AWS: 5 minutes). */
  readonly clockSkewSeconds: number;
  /** The service of the credential scope (default kms; cloudtrail for the audit trail's LookupEvents). */
  readonly service?: string;
}

const SERVICE = 'kms';
/** Bound of the signing key cache; past it the cache starts over (keys change daily). */
const MAX_SIGNING_KEYS = 10_000;

// AWS's wordings (Coral front end of the JSON services; all HTTP 400 but MissingAuthenticationToken).
const MISSING_TOKEN = 'Missing Authentication Token';
const INVALID_TOKEN = 'The security token included in the request is invalid.';
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const invalidSignature = (message: string) => new KmsError('InvalidSignatureException', message);

interface KnownKey {
  readonly account: string;
  readonly principalArn: string;
  readonly identityPolicies?: readonly CompiledPolicy[] | undefined;
  readonly secret: SecretBytes;
}

/**
 * Verifies AWS Signature Version 4 (Authorization header form) against Trent's access keys. Secrets are
 * unwrapped once and kept in memory with the key's principal and identity policies (CallerDirectory: dropped when
 * principals, policies or access keys change anywhere, within IAM_REFRESH_MS); signing keys are derived once per
 * (access key, day, region).
 */
export class SigV4Authenticator implements Authenticator {
  readonly #directory: CallerDirectory<KnownKey>;
  readonly #signingKeys = new Map<string, SecretBytes>();

  constructor(private readonly opts: SigV4AuthenticatorOptions) {
    const watch = opts.watch ?? new IamGenerationWatch(opts.storage);
    // A deleted access key must not go on signing: derived signing keys go with the directory's entries.
    watch.subscribe(() => this.#signingKeys.clear());
    this.#directory = new CallerDirectory(opts.storage, watch, ({ record, identityPolicies }) => {
      const secret = opts.rootKey.unwrap(accessKeyWrapContext(record.accessKeyId), record.secretWrapped);
      // A stored key that does not unwrap is a server fault (wrong root key or damaged store), not a client error.
      if (!secret) throw new Error(`the secret of access key ${record.accessKeyId} does not unwrap under the root key`);
      const known: KnownKey = { account: record.account, principalArn: record.principalArn, identityPolicies, secret: new SecretBytes(secret) };
      secret.fill(0);
      return known;
    });
  }

  async authenticate(request: SignedRequest): Promise<Authenticated> {
    const [path, query] = splitTarget(request.url);
    const header = authorizationHeader(request);
    if (!header) {
      if (/(^|&)X-Amz-(Signature|Algorithm|Credential)=/i.test(query)) {
        throw new KmsError('IncompleteSignatureException', 'Trent accepts SigV4 in the Authorization header only; query-string (presigned) authentication is not supported.');
      }
      throw new KmsError('MissingAuthenticationTokenException', MISSING_TOKEN);
    }
    const auth = parseAuthorization(header);
    checkScope(auth, this.opts.service ?? SERVICE);
    const amzDate = requestDate(request);
    if (auth.date !== amzDate.slice(0, 8)) {
      throw invalidSignature(
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
      );
    }
    this.checkClockSkew(amzDate);
    if (!auth.signedHeaders.includes('host')) throw invalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    // Trent issues no session credentials (no STS): any session token is one it did not issue.
    if (request.headers['x-amz-security-token'] !== undefined) throw new KmsError('UnrecognizedClientException', INVALID_TOKEN);

    const known = await this.lookup(auth.accessKeyId);
    const payloadHash = sha256Hex(request.body);
    const declared = firstValue(request.headers['x-amz-content-sha256']);
    if (declared !== undefined && declared !== payloadHash) {
      throw invalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    const canonical = canonicalRequest({
      method: request.method, path, query, headers: headerPairs(request), signedHeaders: auth.signedHeaders, payloadHash,
    });
    const expected = signature(this.signingKey(auth, known).keyObject(), stringToSign(amzDate, auth.scope, canonical));
    if (!signaturesEqual(expected, auth.signature)) throw invalidSignature(SIGNATURE_MISMATCH);
    return {
      identity: { account: known.account, principalArn: known.principalArn, accessKeyId: auth.accessKeyId, ...(known.identityPolicies && { identityPolicies: known.identityPolicies }) },
      region: auth.region,
    };
  }

  /** AWS: X-Amz-Date must be within the skew window of the server clock, either way. */
  private checkClockSkew(amzDate: string): void {
    const skewMs = this.opts.clockSkewSeconds * 1000;
    const now = this.opts.clock.now();
    const at = parseAmzDate(amzDate)!.getTime();
    const span = this.opts.clockSkewSeconds % 60 === 0 ? `${this.opts.clockSkewSeconds / 60} min.` : `${this.opts.clockSkewSeconds} sec.`;
    if (at < now.getTime() - skewMs) {
      throw invalidSignature(
        `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(new Date(now.getTime() - skewMs))} (${formatAmzDate(now)} - ${span})`,
      );
    }
    if (at > now.getTime() + skewMs) {
      throw invalidSignature(
        `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(new Date(now.getTime() + skewMs))} (${formatAmzDate(now)} + ${span})`,
      );
    }
  }

  private async lookup(accessKeyId: string): Promise<KnownKey> {
    const entry = await this.#directory.resolve(accessKeyId);
    if (!entry) throw new KmsError('UnrecognizedClientException', INVALID_TOKEN);
    return entry.extra;
  }

  private signingKey(auth: ParsedAuthorization, known: KnownKey): SecretBytes {
    const id = `${auth.accessKeyId}/${auth.date}/${auth.region}`;
    let key = this.#signingKeys.get(id);
    if (!key) {
      key = new SecretBytes(signingKey(known.secret.unsafeBytes(), auth.date, auth.region, this.opts.service ?? SERVICE));
      if (this.#signingKeys.size >= MAX_SIGNING_KEYS) this.#signingKeys.clear();
      this.#signingKeys.set(id, key);
    }
    return key;
  }
}

/** The credential scope must read <yyyymmdd>/<region>/<service>/aws4_request (service: kms). */
export function checkScope(auth: ParsedAuthorization, service: string = SERVICE): void {
  if (auth.terminator !== TERMINATOR) {
    throw invalidSignature(`Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${auth.terminator}'.`);
  }
  if (auth.service !== service) throw invalidSignature(`Credential should be scoped to correct service: '${service}'.`);
  if (!REGION_PATTERN.test(auth.region)) throw invalidSignature(`Credential should be scoped to a valid region, not '${auth.region}'.`);
}

/** X-Amz-Date, else the Date header, in ISO 8601 basic format. */
function requestDate(request: SignedRequest): string {
  const amz = firstValue(request.headers['x-amz-date']);
  if (amz !== undefined) {
    if (!parseAmzDate(amz)) {
      throw new KmsError('IncompleteSignatureException', `Date must be in ISO-8601 'basic format'. Got '${amz}'. See http://en.wikipedia.org/wiki/ISO_8601`);
    }
    return amz;
  }
  const date = firstValue(request.headers.date);
  const parsed = date === undefined ? NaN : Date.parse(date);
  if (Number.isNaN(parsed)) {
    throw new KmsError(
      'IncompleteSignatureException',
      `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256`,
    );
  }
  return formatAmzDate(new Date(parsed));
}

function splitTarget(url: string): [path: string, query: string] {
  const q = url.indexOf('?');
  return q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function headerPairs(request: SignedRequest): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  if (request.rawHeaders) {
    for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) pairs.push([request.rawHeaders[i]!, request.rawHeaders[i + 1]!]);
    return pairs;
  }
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) pairs.push([name, v]);
  }
  return pairs;
}
