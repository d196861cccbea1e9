// The non-dev authenticator against a real SQLite store and root key, with requests signed by the SigV4
// functions that the AWS test-suite vectors pin down (sigv4.test.ts). The clock is the injected Clock.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { accessKeyWrapContext } from '../../src/auth/admin-credentials.js';
import type { SignedRequest } from '../../src/auth/authenticator.js';
import { canonicalRequest, formatAmzDate, signature, signingKey, stringToSign } from '../../src/auth/sigv4.js';
import { SigV4Authenticator } from '../../src/auth/sigv4-authenticator.js';
import { IamGenerationWatch } from '../../src/auth/caller-directory.js';
import { KmsError } from '../../src/domain/errors.js';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';

const AKID = 'AKIATESTTESTTESTTEST';
const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXh5eg==';
const ACCOUNT = '111122223333';
const T0 = new Date('2025-03-04T05:06:07Z');

interface SignOptions {
  akid?: string; secret?: string; at?: Date; region?: string; service?: string; body?: string;
  extraHeaders?: [string, string][]; signed?: string[]; bodyOnWire?: string; terminator?: string;
}

/** Builds a request the way an SDK does: host, x-amz-date, x-amz-target, content-type signed. */
function signed(o: SignOptions = {}): SignedRequest {
  const at = o.at ?? T0;
  const amzDate = formatAmzDate(at);
  const date = amzDate.slice(0, 8);
  const region = o.region ?? 'us-east-1';
  const service = o.service ?? 'kms';
  const body = o.body ?? '{"KeyId":"alias/x"}';
  const pairs: [string, string][] = [
    ['Host', '127.0.0.1:4599'],
    ['Content-Type', 'application/x-amz-json-1.1'],
    ['X-Amz-Target', 'TrentService.DescribeKey'],
    ['X-Amz-Date', amzDate],
    ...(o.extraHeaders ?? []),
  ];
  const signedHeaders = o.signed ?? ['content-type', 'host', 'x-amz-date', 'x-amz-target'];
  const creq = canonicalRequest({
    method: 'POST', path: '/', query: '', headers: pairs, signedHeaders,
    payloadHash: createHash('sha256').update(body).digest('hex'),
  });
  const scope = `${date}/${region}/${service}/${o.terminator ?? 'aws4_request'}`;
  const sig = signature(signingKey(Buffer.from(o.secret ?? SECRET), date, region, service), stringToSign(amzDate, scope, creq));
  pairs.push(['Authorization', `AWS4-HMAC-SHA256 Credential=${o.akid ?? AKID}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${sig}`]);
  const headers: Record<string, string> = {};
  for (const [n, v] of pairs) headers[n.toLowerCase()] = v;
  return { method: 'POST', url: '/', headers, rawHeaders: pairs.flat(), body: Buffer.from(o.bodyOnWire ?? body) };
}

const rejectsWith = (type: string, message?: string | RegExp) => (err: unknown) => {
  assert.ok(err instanceof KmsError, String(err));
  assert.equal(err.type, type);
  if (typeof message === 'string') assert.equal(err.message, message);
  else if (message) assert.match(err.message, message);
  assert.ok(!err.message.includes(SECRET), 'the secret never appears in an error');
  return true;
};

const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

describe('SigV4Authenticator', () => {
  let dir: string;
  let storage: SqliteStorage;
  let auth: SigV4Authenticator;
  let now = T0;
  let mono = 0;
  let watch: IamGenerationWatch;
  let keyRoot: RootKey;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'trent-sigv4-'));
    storage = new SqliteStorage(path.join(dir, 'trent.db'));
    await storage.migrate();
    const rootKey = RootKey.fromBytes(randomBytes(32));
    await storage.insertAccessKey({
      accessKeyId: AKID, account: ACCOUNT, principalArn: `arn:aws:iam::${ACCOUNT}:root`,
      secretWrapped: rootKey.wrap(accessKeyWrapContext(AKID), Buffer.from(SECRET)), createdAt: T0,
    });
    // The IAM generation is re-read when this monotonic clock moves past the refresh interval (1 s).
    watch = new IamGenerationWatch(storage, { refreshMs: 1000, now: () => mono });
    auth = new SigV4Authenticator({ storage, rootKey, clock: { now: () => now }, clockSkewSeconds: 300, watch });
    keyRoot = rootKey;
  });
  after(async () => {
    await storage.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a correctly signed request: identity from the access key, region from the scope', async () => {
    now = T0;
    const a = await auth.authenticate(signed({ region: 'eu-west-3' }));
    assert.deepEqual(a, { identity: { account: ACCOUNT, principalArn: `arn:aws:iam::${ACCOUNT}:root`, accessKeyId: AKID }, region: 'eu-west-3' });
  });

  it('answers MissingAuthenticationTokenException (403) without an Authorization header', async () => {
    const req = signed();
    const { authorization: _, ...headers } = req.headers;
    await assert.rejects(auth.authenticate({ ...req, headers }), (err) => {
      rejectsWith('MissingAuthenticationTokenException', 'Missing Authentication Token')(err);
      assert.equal((err as KmsError).status, 403);
      return true;
    });
    await assert.rejects(
      auth.authenticate({ ...req, headers, url: '/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00' }),
      rejectsWith('IncompleteSignatureException', /presigned\) authentication is not supported/),
    );
  });

  it('answers UnrecognizedClientException for an unknown access key or any session token', async () => {
    await assert.rejects(auth.authenticate(signed({ akid: 'AKIAUNKNOWNUNKNOWN00' })), rejectsWith('UnrecognizedClientException', 'The security token included in the request is invalid.'));
    await assert.rejects(
      auth.authenticate(signed({ extraHeaders: [['X-Amz-Security-Token', 'FwoGZXIvYXdzE']], signed: ['host', 'x-amz-date', 'x-amz-security-token'] })),
      rejectsWith('UnrecognizedClientException', 'The security token included in the request is invalid.'),
    );
  });

  it('answers InvalidSignatureException for a wrong secret, a tampered body or an unsigned change of a signed header', async () => {
    await assert.rejects(auth.authenticate(signed({ secret: `${SECRET}x` })), rejectsWith('InvalidSignatureException', MISMATCH));
    await assert.rejects(auth.authenticate(signed({ bodyOnWire: '{"KeyId":"alias/y"}' })), rejectsWith('InvalidSignatureException', MISMATCH));
    const req = signed();
    const raw = [...req.rawHeaders!];
    raw[raw.indexOf('X-Amz-Target') + 1] = 'TrentService.ScheduleKeyDeletion';
    await assert.rejects(auth.authenticate({ ...req, rawHeaders: raw }), rejectsWith('InvalidSignatureException', MISMATCH));
    // Flipping one hex digit of the signature.
    const a = String(req.headers.authorization);
    const flipped = a.slice(0, -1) + (a.endsWith('0') ? '1' : '0');
    await assert.rejects(auth.authenticate({ ...req, headers: { ...req.headers, authorization: flipped } }), rejectsWith('InvalidSignatureException', MISMATCH));
  });

  it('refuses a credential scope for another service, a bad region or terminator, or another day', async () => {
    await assert.rejects(auth.authenticate(signed({ service: 's3' })), rejectsWith('InvalidSignatureException', "Credential should be scoped to correct service: 'kms'."));
    await assert.rejects(auth.authenticate(signed({ region: 'mars' })), rejectsWith('InvalidSignatureException', "Credential should be scoped to a valid region, not 'mars'."));
    await assert.rejects(
      auth.authenticate(signed({ terminator: 'aws5_request' })),
      rejectsWith('InvalidSignatureException', "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."),
    );
    const req = signed();
    const a = String(req.headers.authorization).replace('/20250304/', '/20250305/');
    await assert.rejects(
      auth.authenticate({ ...req, headers: { ...req.headers, authorization: a } }),
      rejectsWith('InvalidSignatureException', "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20250305' != '20250304', from '20250304T050607Z'."),
    );
  });

  it('enforces the clock skew limit both ways with AWS messages', async () => {
    now = new Date(T0.getTime() + 299_000);
    await auth.authenticate(signed());
    now = new Date(T0.getTime() + 6 * 60_000);
    await assert.rejects(
      auth.authenticate(signed()),
      rejectsWith('InvalidSignatureException', 'Signature expired: 20250304T050607Z is now earlier than 20250304T050707Z (20250304T051207Z - 5 min.)'),
    );
    now = new Date(T0.getTime() - 6 * 60_000);
    await assert.rejects(
      auth.authenticate(signed()),
      rejectsWith('InvalidSignatureException', 'Signature not yet current: 20250304T050607Z is still later than 20250304T050507Z (20250304T050007Z + 5 min.)'),
    );
    now = T0;
  });

  it('canonicalizes a repeated header from the raw header lines', async () => {
    const req = signed({ extraHeaders: [['X-Custom', 'a'], ['X-Custom', ' b  c ']], signed: ['host', 'x-amz-date', 'x-custom'] });
    await auth.authenticate(req);
  });

  it('checks x-amz-content-sha256 against the body', async () => {
    const body = '{"KeyId":"alias/x"}';
    const good = createHash('sha256').update(body).digest('hex');
    await auth.authenticate(signed({ extraHeaders: [['X-Amz-Content-Sha256', good]], signed: ['host', 'x-amz-content-sha256', 'x-amz-date'] }));
    await assert.rejects(
      auth.authenticate(signed({ extraHeaders: [['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD']], signed: ['host', 'x-amz-content-sha256', 'x-amz-date'] })),
      rejectsWith('InvalidSignatureException', /x-amz-content-sha256/),
    );
  });

  it('requires Host among the signed headers', async () => {
    await assert.rejects(auth.authenticate(signed({ signed: ['x-amz-date'] })), rejectsWith('InvalidSignatureException', /'Host' or ':authority' must be a 'SignedHeader'/));
  });

  it('a deleted access key is refused once the IAM generation is re-read; its user gets its identity policies', async () => {
    now = T0;
    const user = 'arn:aws:iam::111122223333:user/alice';
    await storage.insertPrincipal({ account: ACCOUNT, kind: 'user', name: 'alice', path: '/', arn: user, createdAt: T0 });
    await storage.putIdentityPolicy({ principalArn: user, policyName: 'p', document: '{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}' });
    const id = 'AKIAALICEALICEALICE1';
    await storage.insertAccessKey({ accessKeyId: id, account: ACCOUNT, principalArn: user, secretWrapped: keyRoot.wrap(accessKeyWrapContext(id), Buffer.from(SECRET)), createdAt: T0 });
    const signedAs = () => signed({ akid: id });
    const a = await auth.authenticate(signedAs());
    assert.equal(a.identity.principalArn, user);
    assert.equal(a.identity.identityPolicies?.length, 1);
    await storage.deleteAccessKey(id);
    // Within the refresh interval the cached key may still serve; past it, the deletion is seen.
    mono += 1001;
    await assert.rejects(auth.authenticate(signedAs()), rejectsWith('UnrecognizedClientException', 'The security token included in the request is invalid.'));
    mono += 1001;
  });

  it('serves a known access key from memory: no store read once its secret is unwrapped (within the IAM refresh interval)', async () => {
    await auth.authenticate(signed());
    await storage.close();
    const a = await auth.authenticate(signed({ region: 'ap-south-1' }));
    assert.equal(a.identity.accessKeyId, AKID);
  });
});
