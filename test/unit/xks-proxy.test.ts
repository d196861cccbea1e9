// The XKS proxy's pure parts: the CDIV (with the spec's Appendix C example), the key manager's AAD construction, the
// request validation, the config file's validation, and SigV4 verification for service kms-xks-proxy.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { signRequest } from '../../bench/sigv4.js';
import { cdiv, hsmAad, parseDecryptRequest, parseEncryptRequest, parseRequestMetadata } from '../../src/xks-proxy/api.js';
import { parseXksProxyConfig, XksConfigError } from '../../src/xks-proxy/config.js';
import { errorMessageForWire, XksError } from '../../src/xks-proxy/errors.js';
import { verifyXksSignature } from '../../src/xks-proxy/sigv4-verifier.js';
import { SecretBytes } from '../../src/crypto/secret-bytes.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('CDIV: the example of the spec, Appendix C (33-byte AAD, 13-byte metadata, 12-byte IV, 12-byte ciphertext, 16-byte tag)', () => {
  const value = cdiv(
    Buffer.from('project=nile,department=marketing'),
    Buffer.from('key_version=1'),
    hex('1c ca e5 47 0f 39 70 02 54 77 90 31'),
    hex('82 1c 64 2b 5b 71 78 33 67 de af 18'),
    hex('bc 1c 4d da 77 07 d6 81 24 47 c5 95 5e 99 b2 61'),
  );
  assert.equal(value.toString('hex'), 'a8703f2260bd8791ec2d15ea0b23e65a0631eedcf2a13a65cc82db3f47cf5ec7');
  assert.equal(value.toString('base64'), 'qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=');
});

test("the key manager's AAD: 2-byte big-endian AAD length || AAD || 1-byte metadata length || metadata; absent means length 0", () => {
  assert.deepEqual(hsmAad(Buffer.from('ab'), Buffer.from([7])), hex('0002 6162 01 07'));
  assert.deepEqual(hsmAad(undefined, undefined), hex('0000 00'));
  assert.deepEqual(hsmAad(Buffer.alloc(0), undefined), hsmAad(undefined, Buffer.alloc(0)));
  // The spec's reason for the lengths: "no AAD, metadata M" and "AAD M, no metadata" must differ.
  const m = Buffer.from('key_version=1');
  assert.notDeepEqual(hsmAad(undefined, m), hsmAad(m, undefined));
  assert.equal(hsmAad(randomBytes(8192), randomBytes(20)).length, 2 + 8192 + 1 + 20);
  assert.throws(() => hsmAad(Buffer.alloc(65536), undefined), RangeError);
});

test('request validation: what is required, what is only checked for type, and the size rules', () => {
  const md = { requestMetadata: { awsPrincipalArn: 'p', kmsKeyArn: 'k', kmsOperation: 'Encrypt', kmsRequestId: 'r', someFutureField: 1 } };
  const name = (fn: () => unknown) => {
    try {
      fn();
      return 'ok';
    } catch (err) {
      return err instanceof XksError ? err.errorName : String(err);
    }
  };
  assert.equal(name(() => parseEncryptRequest({ ...md, plaintext: 'AA==', encryptionAlgorithm: 'AES_GCM' })), 'ok');
  assert.equal(name(() => parseRequestMetadata({ requestMetadata: { kmsOperation: 'Anything', kmsRequestId: '!' } }, 'GetHealthStatus')), 'ok');
  assert.equal(name(() => parseRequestMetadata({ requestMetadata: { kmsOperation: 'Anything' } }, 'GetHealthStatus')), 'ValidationException');
  assert.equal(name(() => parseRequestMetadata({ requestMetadata: { kmsOperation: 'CreateKey', kmsRequestId: 'r', awsPrincipalArn: 'p' } }, 'GetKeyMetadata')), 'ok');
  assert.equal(name(() => parseRequestMetadata({ requestMetadata: { kmsOperation: 'CreateKey', kmsRequestId: 'r', awsPrincipalArn: 1 } }, 'GetKeyMetadata')), 'ValidationException');
  // Beyond what the spec requires a proxy to handle, this one answers UnsupportedOperationException (501).
  assert.equal(name(() => parseEncryptRequest({ ...md, plaintext: randomBytes(65_537).toString('base64'), encryptionAlgorithm: 'AES_GCM' })), 'UnsupportedOperationException');
  assert.equal(name(() => parseEncryptRequest({ ...md, plaintext: 'AA==', additionalAuthenticatedData: randomBytes(65_536).toString('base64'), encryptionAlgorithm: 'AES_GCM' })), 'UnsupportedOperationException');
  assert.equal(name(() => parseEncryptRequest({ ...md, plaintext: 'AA', encryptionAlgorithm: 'AES_GCM' })), 'ValidationException');
  const dec = { ...md, ciphertext: 'AA==', encryptionAlgorithm: 'AES_GCM', initializationVector: randomBytes(16).toString('base64'), authenticationTag: randomBytes(16).toString('base64') };
  assert.equal(name(() => parseDecryptRequest(dec)), 'ok');
  assert.equal(name(() => parseDecryptRequest({ ...dec, ciphertextMetadata: randomBytes(20).toString('base64') })), 'ok');
  assert.equal(name(() => parseDecryptRequest({ ...dec, ciphertextMetadata: randomBytes(21).toString('base64') })), 'ValidationException');
  assert.equal(name(() => parseDecryptRequest({ ...dec, initializationVector: randomBytes(13).toString('base64') })), 'ValidationException');
});

test('error messages on the wire: under 512 printable ASCII characters', () => {
  assert.equal(errorMessageForWire('caf\u00e9\n'), 'caf??');
  assert.equal(errorMessageForWire('x'.repeat(2000)).length, 511);
});

const S1 = randomBytes(32).toString('base64');
const base = (over: Record<string, unknown> = {}) => ({
  tls: { cert: 'server.pem', key: 'server.key' },
  region: 'us-east-1',
  pkcs11: { module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'xks', pinEnv: 'PIN' },
  keystores: [{ uriPath: '/a/kms/xks/v1', credentials: [{ accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretAccessKey: S1 }], keys: ['foo', { keyId: 'bar', label: 'bar-label', enabled: false }] }],
  ...over,
});
const env = { PIN: '1234' };

test('config: a valid file, with defaults and relative paths resolved against its directory', () => {
  const c = parseXksProxyConfig(base(), env, '/etc/trent');
  assert.equal(c.tls?.certFile, '/etc/trent/server.pem');
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.clockSkewSeconds, 300);
  assert.equal(c.pkcs11.pin, '1234');
  assert.deepEqual(c.keystores[0]!.keys.get('bar'), { keyId: 'bar', label: 'bar-label', enabled: false });
  assert.equal(c.keystores[0]!.keys.get('foo')!.label, 'foo');
  assert.ok(c.keystores[0]!.credentials[0]!.secretAccessKey instanceof SecretBytes);
  assert.ok(!JSON.stringify(c).includes(S1), 'the secret is redacted when the config is printed');
  assert.equal(parseXksProxyConfig({ ...base({ tls: undefined }), allowInsecureHttp: true }, env, '/').tls, undefined);
  assert.equal(parseXksProxyConfig(base({ keystores: [{ ...base().keystores[0], uriPath: '/kms/xks/v1' }] }), env, '/').keystores[0]!.uriPath, '/kms/xks/v1');
});

test('config: refusals name the setting and the rule', () => {
  const ks = base().keystores[0]!;
  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['no TLS', { tls: undefined }, /HTTPS only/],
    ['plain HTTP off loopback', { tls: undefined, allowInsecureHttp: true, host: '0.0.0.0' }, /loopback host only/],
    ['a short access key id', { keystores: [{ ...ks, credentials: [{ accessKeyId: 'ABCDEFGHIJKLMNOPQRS', secretAccessKey: S1 }] }] }, /20 to 30/],
    ['an access key id outside base32', { keystores: [{ ...ks, credentials: [{ accessKeyId: 'ABCDEFGHIJKLMNOPQRS1', secretAccessKey: S1 }] }] }, /20 to 30/],
    ['a short secret', { keystores: [{ ...ks, credentials: [{ accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretAccessKey: 'tooshort' }] }] }, /43 to 64/],
    ['the same access key id twice', { keystores: [{ ...ks, credentials: [ks.credentials[0], ks.credentials[0]] }] }, /listed twice/],
    ['a secret from an unset variable', { keystores: [{ ...ks, credentials: [{ accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretAccessKeyEnv: 'NOPE' }] }] }, /NOPE is not set/],
    ['a URI path not ending in /kms/xks/v1', { keystores: [{ ...ks, uriPath: '/a/kms/xks' }] }, /uriPath/],
    ['a URI path with a dot', { keystores: [{ ...ks, uriPath: '/a.b/kms/xks/v1' }] }, /uriPath/],
    ['a URI path over 128 characters', { keystores: [{ ...ks, uriPath: `/${'a'.repeat(117)}/kms/xks/v1` }] }, /uriPath/],
    ['two keystores on one URI path', { keystores: [ks, ks] }, /used twice/],
    ['a key id outside the spec alphabet', { keystores: [{ ...ks, keys: ['a b'] }] }, /keyId/],
    ['the health key exposed', { keystores: [{ ...ks, keys: ['trent-xks-health'] }] }, /health-check key/],
    ['no PIN', { pkcs11: { module: 'm', tokenLabel: 'x', pinEnv: 'UNSET_PIN' } }, /UNSET_PIN/],
    ['a token by label and slot', { pkcs11: { module: 'm', tokenLabel: 'x', slot: 1, pin: '1' } }, /one of them/],
    ['subject names without a client CA', { tls: { cert: 'c', key: 'k', clientSubjectNames: ['x'] } }, /clientCa/],
    ['an unknown setting', { listen: 1 }, /unknown setting/],
    ['a bad region', { region: 'mars' }, /region/],
  ];
  assert.equal(parseXksProxyConfig(base({ keystores: [{ ...ks, uriPath: `/${'a'.repeat(116)}/kms/xks/v1` }] }), env, '/').keystores.length, 1, '128 characters is allowed');
  for (const [what, over, message] of refused) {
    assert.throws(() => parseXksProxyConfig(base(over), env, '/'), (err: Error) => err instanceof XksConfigError && message.test(err.message), what);
  }
});

test('SigV4 for kms-xks-proxy: verifies a signed request; service, region, signed headers and the clock are checked', () => {
  const creds = [{ accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretAccessKey: SecretBytes.adopt(Buffer.from(S1)) }];
  const url = new URL('https://xks.example.com/a/kms/xks/v1/health');
  const body = '{"requestMetadata":{"kmsRequestId":"1","kmsOperation":"KmsHealthCheck"}}';
  const now = new Date();
  const sign = (o: { service?: string; region?: string; secret?: string; date?: Date } = {}) => {
    const h = signRequest({
      method: 'POST', url, headers: { 'content-type': 'application/json' }, body, region: o.region ?? 'us-east-1', service: o.service ?? 'kms-xks-proxy',
      credentials: { accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretAccessKey: o.secret ?? S1 }, date: o.date ?? now,
    });
    return Object.entries(h) as [string, string][];
  };
  const verify = (headers: [string, string][], b = body) =>
    verifyXksSignature({ method: 'POST', path: url.pathname, query: '', headers, body: Buffer.from(b) }, creds, 'us-east-1', now, 300);
  assert.equal(verify(sign()), 'ABCDEFGHIJKLMNOPQRST');
  const fails = (headers: [string, string][], message: RegExp, b?: string) =>
    assert.throws(() => verify(headers, b), (err: Error) => err instanceof XksError && err.errorName === 'AuthenticationFailedException' && err.status === 401 && message.test(err.message));
  fails(sign({ service: 'kms' }), /service 'kms'/);
  fails(sign({ region: 'us-west-2' }), /region 'us-west-2'/);
  fails(sign({ secret: randomBytes(32).toString('base64') }), /does not verify/);
  fails(sign({ date: new Date(now.getTime() - 301_000) }), /300 seconds/);
  fails(sign(), /does not verify/, `${body} `);
  fails(sign().filter(([n]) => n !== 'authorization'), /not signed/);
  const onlyHost = sign().map(([n, v]): [string, string] => (n === 'authorization' ? [n, v.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=content-type;host')] : [n, v]));
  fails(onlyHost, /x-amz-date/);
});

test('handler: a key manager that does not answer in time is DependencyTimeoutException (503); nested URI paths route to the right keystore', async () => {
  const { XksHandler } = await import('../../src/xks-proxy/handler.js');
  const hang = () => new Promise<never>(() => {});
  const backend = { describeKey: hang, encrypt: hang, decrypt: hang, testOperation: hang, describe: hang, close: () => {} };
  const cred = { accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretAccessKey: SecretBytes.adopt(Buffer.from(S1)) };
  const keys = new Map([['foo', { keyId: 'foo', label: 'foo', enabled: true }]]);
  const keystores = [
    { uriPath: '/kms/xks/v1', credentials: [cred], keys: new Map() },
    { uriPath: '/kms/xks/v1/x/kms/xks/v1', credentials: [cred], keys },
  ];
  const handler = new XksHandler({ region: 'us-east-1', keystores, backend, fleetSize: 1, clockSkewSeconds: 300, backendTimeoutMs: 50 });
  const url = new URL('https://xks.example.com/kms/xks/v1/x/kms/xks/v1/keys/foo/metadata');
  const body = JSON.stringify({ requestMetadata: { awsPrincipalArn: 'p', kmsOperation: 'DescribeKey', kmsRequestId: 'r' } });
  const headers = signRequest({ method: 'POST', url, headers: {}, body, region: 'us-east-1', service: 'kms-xks-proxy', credentials: { accessKeyId: cred.accessKeyId, secretAccessKey: S1 } });
  const r = await handler.handle({ method: 'POST', url: url.pathname, headers: Object.entries(headers), body: Buffer.from(body) });
  assert.equal(r.status, 503);
  assert.deepEqual((r.body as { errorName: string }).errorName, 'DependencyTimeoutException');
  assert.equal(r.log.uriPath, '/kms/xks/v1/x/kms/xks/v1');
});
