// `trent xks-proxy` end to end: a real proxy process over HTTPS (a test CA made with openssl), keys in a SoftHSM2 token
// made by `trent xks-proxy create-key`, requests signed with SigV4 (service kms-xks-proxy) by an independent signer
// (bench/sigv4.ts) and by curl --aws-sigv4. Each test names the rule of the XKS Proxy API spec (v1.0.x) it checks;
// docs/xks-proxy.md has the table.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Pkcs11Modules, Pkcs11Token } from '../../src/keystores/pkcs11/pkcs11-token.js';
import { softHsm, softhsmSkip } from '../helpers/softhsm.js';
import { repoRoot } from '../helpers/server.js';
import { makeTestCa, opensslSkip, type TestCa } from '../helpers/test-ca.js';
import { startXksProxy, xksCall, type XksCallOptions, type XksProxyProcess } from '../helpers/xks-proxy.js';
import { within } from '../helpers/poll.js';

const A = '/tenant-a/kms/xks/v1';
const B = '/kms/xks/v1';
const AK1 = 'TRENTXKSTESTKEYAAAAA';
const AK2 = 'TRENTXKSTESTKEYBBBBB22';
const AK3 = 'TRENTXKSROTATEDCCCCC';
const AKB = 'TRENTXKSOTHERSTOREDD';
const secret = () => randomBytes(32).toString('base64');
const S1 = secret();
const S2 = secret();
const S3 = secret();
const SB = secret();

const md = (op: string, extra: Record<string, unknown> = {}) => ({
  requestMetadata: {
    awsPrincipalArn: 'arn:aws:iam::111122223333:user/Alice',
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    kmsOperation: op,
    kmsRequestId: randomUUID(),
    kmsViaService: 'ebs',
    ...extra,
  },
});
const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64');

const skip = softhsmSkip ?? opensslSkip;

describe('trent xks-proxy (XKS Proxy API v1 over HTTPS, SoftHSM2 token)', { skip }, () => {
  let dir: string;
  let ca: TestCa;
  let clientCa: TestCa;
  let strangerCa: TestCa;
  let proxy: XksProxyProcess;
  let mtlsProxy: XksProxyProcess;
  let tokenLabel: string;
  let pin: string;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  let config: Record<string, unknown>;

  const keystoreA = (creds: { accessKeyId: string; secretAccessKey: string }[]) => ({
    uriPath: A,
    credentials: creds,
    keys: ['foo', 'enc-only', 'dec-only', 'impotent', { keyId: 'disabled', enabled: false }, { keyId: 'renamed.key_1', label: 'foo' }, 'ghost'],
  });

  before(async () => {
    const hsm = softHsm();
    ({ label: tokenLabel, pin } = hsm.initToken());
    dir = mkdtempSync(path.join(tmpdir(), 'trent-xks-'));
    ca = makeTestCa('Trent XKS Server CA');
    clientCa = makeTestCa('Trent XKS Client CA');
    strangerCa = makeTestCa('Somebody Else CA');
    const server = ca.server();
    env = { SOFTHSM2_CONF: hsm.conf, XKS_TEST_PIN: pin, XKS_TEST_SECRET_2: S2 };
    config = {
      host: '127.0.0.1',
      port: 0,
      tls: { cert: server.cert, key: server.key },
      region: 'us-east-1',
      pkcs11: { module: hsm.module, tokenLabel, pinEnv: 'XKS_TEST_PIN' },
      keystores: [
        keystoreA([{ accessKeyId: AK1, secretAccessKey: S1 }, { accessKeyId: AK2, secretAccessKeyEnv: 'XKS_TEST_SECRET_2' } as never]),
        { uriPath: B, credentials: [{ accessKeyId: AKB, secretAccessKey: SB }], keys: ['bar'] },
      ],
    };
    configFile = path.join(dir, 'xks.json');
    writeFileSync(configFile, JSON.stringify(config));
    const createKey = (id: string, usage?: string) => {
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'xks-proxy', 'create-key', '--config', configFile, '--key-id', id, ...(usage ? ['--usage', usage] : [])], {
        env: { ...process.env, ...env }, encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
    };
    createKey('foo');
    createKey('enc-only', 'ENCRYPT');
    createKey('dec-only', 'DECRYPT');
    createKey('impotent', 'NONE');
    createKey('disabled');
    createKey('bar');
    proxy = await startXksProxy(configFile, env);
    const mtlsConfig = path.join(dir, 'xks-mtls.json');
    writeFileSync(mtlsConfig, JSON.stringify({
      ...config,
      tls: { cert: server.cert, key: server.key, clientCa: clientCa.caCert, clientSubjectNames: ['cks.kms.us-east-1.amazonaws.com'] },
    }));
    mtlsProxy = await startXksProxy(mtlsConfig, env);
  });

  after(async () => {
    await proxy?.stop();
    await mtlsProxy?.stop();
    for (const c of [ca, clientCa, strangerCa]) c?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cred1 = (): XksCallOptions => ({ accessKeyId: AK1, secretAccessKey: S1, ca: ca.caCert });
  const call = (p: string, body: unknown, o: Partial<XksCallOptions> = {}, base = proxy.url) => xksCall(`${base}${p}`, body, { ...cred1(), ...o });
  const encrypt = (key: string, plaintext: Buffer, aad?: Buffer, cdiv = false) =>
    call(`${A}/keys/${key}/encrypt`, {
      ...md('Encrypt'),
      plaintext: b64(plaintext),
      encryptionAlgorithm: 'AES_GCM',
      ...(aad ? { additionalAuthenticatedData: b64(aad) } : {}),
      ...(cdiv ? { ciphertextDataIntegrityValueAlgorithm: 'SHA_256' } : {}),
    });
  const decryptBody = (enc: any, aad?: Buffer, overrides: Record<string, unknown> = {}) => ({
    ...md('Decrypt'),
    ciphertext: enc.ciphertext,
    initializationVector: enc.initializationVector,
    authenticationTag: enc.authenticationTag,
    ...(enc.ciphertextMetadata !== undefined ? { ciphertextMetadata: enc.ciphertextMetadata } : {}),
    encryptionAlgorithm: 'AES_GCM',
    ...(aad ? { additionalAuthenticatedData: b64(aad) } : {}),
    ...overrides,
  });
  const decrypt = (key: string, body: unknown) => call(`${A}/keys/${key}/decrypt`, body);
  const expectError = (r: { status: number; json: any }, status: number, errorName: string) => {
    assert.equal(r.json?.errorName, errorName, JSON.stringify(r.json));
    assert.equal(r.status, status);
    if (r.json.errorMessage !== undefined) assert.match(r.json.errorMessage, /^[\x20-\x7e]{0,511}$/);
  };

  test('GetHealthStatus: 200 with the fleet, vendor, model and one ekmFleetDetails entry from the token, ACTIVE', async () => {
    const r = await call(`${A}/health`, { requestMetadata: { kmsRequestId: randomUUID(), kmsOperation: 'KmsHealthCheck' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.json.xksProxyFleetSize, 1);
    assert.equal(r.json.xksProxyVendor, 'Trent');
    assert.match(r.json.xksProxyModel, /Trent XKS Proxy/);
    assert.equal(r.json.ekmVendor, 'SoftHSM project');
    assert.equal(r.json.ekmFleetDetails.length, 1);
    assert.deepEqual(Object.keys(r.json.ekmFleetDetails[0]).sort(), ['healthStatus', 'id', 'model']);
    assert.equal(r.json.ekmFleetDetails[0].healthStatus, 'ACTIVE');
    assert.match(r.json.ekmFleetDetails[0].id, new RegExp(`^${tokenLabel}/`));
    // Other KMS operations are accepted as they are (the spec forbids rejecting an unknown kmsOperation).
    const other = await call(`${A}/health`, { requestMetadata: { kmsRequestId: 'not-a-uuid', kmsOperation: 'SomeFutureOperation' } });
    assert.equal(other.status, 200);
  });

  test('GetKeyMetadata: AES_256, the usage the token key allows, ENABLED or DISABLED; kmsKeyArn optional (CreateKey)', async () => {
    const meta = async (key: string, body: unknown = md('DescribeKey')) => call(`${A}/keys/${key}/metadata`, body);
    const foo = await meta('foo');
    assert.equal(foo.status, 200, foo.text);
    assert.deepEqual(foo.json, { keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' });
    const forCreate = md('CreateKey');
    delete (forCreate.requestMetadata as Record<string, unknown>).kmsKeyArn;
    assert.equal((await meta('foo', forCreate)).status, 200);
    assert.deepEqual((await meta('enc-only')).json.keyUsage, ['ENCRYPT']);
    assert.deepEqual((await meta('dec-only')).json.keyUsage, ['DECRYPT']);
    assert.deepEqual((await meta('impotent')).json.keyUsage, []);
    assert.equal((await meta('disabled')).json.keyStatus, 'DISABLED');
    // A key id mapped to another token label.
    assert.equal((await meta('renamed.key_1')).json.keySpec, 'AES_256');
  });

  test('Encrypt then Decrypt, with and without AAD: same-length ciphertext, 12-byte IV, 16-byte tag, ciphertextMetadata <= 20 bytes', async () => {
    for (const aad of [undefined, Buffer.from('project=nile,department=marketing')]) {
      const pt = randomBytes(32);
      const enc = await encrypt('foo', pt, aad);
      assert.equal(enc.status, 200, enc.text);
      assert.equal(unb64(enc.json.ciphertext).length, pt.length);
      assert.notDeepEqual(unb64(enc.json.ciphertext), pt);
      assert.equal(unb64(enc.json.initializationVector).length, 12);
      assert.equal(unb64(enc.json.authenticationTag).length, 16);
      assert.ok(unb64(enc.json.ciphertextMetadata).length <= 20);
      assert.equal(enc.json.ciphertextDataIntegrityValue, undefined, 'no CDIV unless asked for');
      const dec = await decrypt('foo', decryptBody(enc.json, aad));
      assert.equal(dec.status, 200, dec.text);
      assert.deepEqual(unb64(dec.json.plaintext), pt);
    }
    // Two keys ids naming the same token key decrypt each other's ciphertexts; another key does not.
    const enc = await encrypt('foo', Buffer.from('same key'));
    assert.equal((await decrypt('renamed.key_1', decryptBody(enc.json))).status, 200);
    expectError(await decrypt('disabled', decryptBody(enc.json)), 400, 'InvalidStateException');
  });

  test('AAD and ciphertextMetadata are bound: a different, missing or extra AAD, or changed metadata, is InvalidCiphertextException', async () => {
    const aad = Buffer.from('project=nile,department=marketing');
    const enc = await encrypt('foo', Buffer.from('Hello World!'), aad);
    assert.equal(enc.status, 200);
    expectError(await decrypt('foo', decryptBody(enc.json)), 400, 'InvalidCiphertextException');
    expectError(await decrypt('foo', decryptBody(enc.json, Buffer.from('project=blue,department=finance'))), 400, 'InvalidCiphertextException');
    const meta = unb64(enc.json.ciphertextMetadata);
    expectError(await decrypt('foo', decryptBody(enc.json, aad, { ciphertextMetadata: b64(Buffer.concat([meta, Buffer.from([0])])) })), 400, 'InvalidCiphertextException');
    const withoutMeta = decryptBody(enc.json, aad) as Record<string, unknown>;
    delete withoutMeta.ciphertextMetadata;
    expectError(await decrypt('foo', withoutMeta), 400, 'InvalidCiphertextException');
    // The length prefixes keep "no AAD, metadata M" apart from "AAD M, no metadata" (spec, Encrypt, ciphertextMetadata).
    const noAad = await encrypt('foo', Buffer.from('Hello World!'));
    const swapped = decryptBody(noAad.json, meta) as Record<string, unknown>;
    delete swapped.ciphertextMetadata;
    expectError(await decrypt('foo', swapped), 400, 'InvalidCiphertextException');
    const tag = unb64(enc.json.authenticationTag);
    tag[0]! ^= 1;
    expectError(await decrypt('foo', decryptBody(enc.json, aad, { authenticationTag: b64(tag) })), 400, 'InvalidCiphertextException');
    const ct = unb64(enc.json.ciphertext);
    ct[ct.length - 1]! ^= 0x80;
    expectError(await decrypt('foo', decryptBody(enc.json, aad, { ciphertext: b64(ct) })), 400, 'InvalidCiphertextException');
    // A 16-byte IV is a valid input (spec) but not the IV of this ciphertext.
    expectError(await decrypt('foo', decryptBody(enc.json, aad, { initializationVector: b64(randomBytes(16)) })), 400, 'InvalidCiphertextException');
  });

  test('CDIV (Appendix C): SHA-256 over AAD || ciphertextMetadata || IV || ciphertext || tag, with and without AAD', async () => {
    for (const aad of [Buffer.from('project=nile,department=marketing'), undefined]) {
      const pt = Buffer.from('Hello World!');
      const enc = await encrypt('foo', pt, aad, true);
      assert.equal(enc.status, 200, enc.text);
      const j = enc.json;
      const expected = createHash('sha256')
        .update(aad ?? Buffer.alloc(0))
        .update(unb64(j.ciphertextMetadata))
        .update(unb64(j.initializationVector))
        .update(unb64(j.ciphertext))
        .update(unb64(j.authenticationTag))
        .digest('base64');
      assert.equal(j.ciphertextDataIntegrityValue, expected);
      assert.deepEqual(unb64((await decrypt('foo', decryptBody(j, aad))).json.plaintext), pt);
    }
  });

  test("the spec's minimum sizes: 4300-byte plaintext, 8192-byte AAD, 2048-character ARNs, a 128-character key id", async () => {
    const pt = randomBytes(4300);
    const aad = randomBytes(8192);
    const arn = `arn:aws:iam::111122223333:role/${'r'.repeat(2048 - 'arn:aws:iam::111122223333:role/'.length)}`;
    const body = { ...md('GenerateDataKey', { awsPrincipalArn: arn, kmsKeyArn: arn }), plaintext: b64(pt), additionalAuthenticatedData: b64(aad), encryptionAlgorithm: 'AES_GCM', ciphertextDataIntegrityValueAlgorithm: 'SHA_256' };
    const enc = await call(`${A}/keys/foo/encrypt`, body);
    assert.equal(enc.status, 200, enc.text);
    const dec = await call(`${A}/keys/foo/decrypt`, { ...decryptBody(enc.json, aad), ...md('Decrypt', { awsPrincipalArn: arn, kmsKeyArn: arn }) });
    assert.equal(dec.status, 200, dec.text);
    assert.deepEqual(unb64(dec.json.plaintext), pt);
    // A well-formed 128-character key id that the proxy does not know is KeyNotFoundException, not a URI error.
    expectError(await call(`${A}/keys/${'k'.repeat(128)}/metadata`, md('DescribeKey')), 404, 'KeyNotFoundException');
    expectError(await call(`${A}/keys/${'k'.repeat(129)}/metadata`, md('DescribeKey')), 400, 'ValidationException');
    // Past what this proxy supports (well above the spec's minimums): UnsupportedOperationException (501).
    const huge = await call(`${A}/keys/foo/encrypt`, { ...md('Encrypt'), plaintext: b64(randomBytes(65_537)), encryptionAlgorithm: 'AES_GCM' });
    expectError(huge, 501, 'UnsupportedOperationException');
    expectError(await call(`${A}/keys/foo/encrypt`, { ...md('Encrypt'), plaintext: b64(randomBytes(300_000)), encryptionAlgorithm: 'AES_GCM' }), 501, 'UnsupportedOperationException');
  });

  test('a config the proxy cannot honour is refused at start with the reason (exit status 2)', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...config, tls: undefined }));
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'xks-proxy', '--config', bad], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /HTTPS only/);
  });

  test('ValidationException (400) for malformed requests', async () => {
    const good = { ...md('Encrypt'), plaintext: b64('x'), encryptionAlgorithm: 'AES_GCM' };
    const cases: [string, string, unknown][] = [
      ['health without requestMetadata', `${A}/health`, {}],
      ['health with empty requestMetadata', `${A}/health`, { requestMetadata: {} }],
      ['metadata without requestMetadata', `${A}/keys/foo/metadata`, {}],
      ['metadata with empty requestMetadata', `${A}/keys/foo/metadata`, { requestMetadata: {} }],
      ['not JSON', `${A}/keys/foo/metadata`, '{"requestMetadata":'],
      ['a JSON array', `${A}/keys/foo/metadata`, '[]'],
      ['encrypt without plaintext', `${A}/keys/foo/encrypt`, { ...good, plaintext: undefined }],
      ['encrypt with empty plaintext', `${A}/keys/foo/encrypt`, { ...good, plaintext: '' }],
      ['encrypt without kmsKeyArn', `${A}/keys/foo/encrypt`, { ...good, requestMetadata: { ...good.requestMetadata, kmsKeyArn: undefined } }],
      ['plaintext not Base64', `${A}/keys/foo/encrypt`, { ...good, plaintext: 'not base64!' }],
      ['URL-safe Base64', `${A}/keys/foo/encrypt`, { ...good, plaintext: '-_-_' }],
      ['another algorithm', `${A}/keys/foo/encrypt`, { ...good, encryptionAlgorithm: 'AES_CBC' }],
      ['no algorithm', `${A}/keys/foo/encrypt`, { ...good, encryptionAlgorithm: undefined }],
      ['another CDIV algorithm', `${A}/keys/foo/encrypt`, { ...good, ciphertextDataIntegrityValueAlgorithm: 'SHA_512' }],
      ['a key id outside the spec alphabet', `${A}/keys/a+b/metadata`, md('DescribeKey')],
    ];
    const enc = (await encrypt('foo', Buffer.from('x'))).json;
    cases.push(
      ['an 8-byte IV', `${A}/keys/foo/decrypt`, decryptBody(enc, undefined, { initializationVector: b64(randomBytes(8)) })],
      ['a 12-byte tag', `${A}/keys/foo/decrypt`, decryptBody(enc, undefined, { authenticationTag: b64(randomBytes(12)) })],
      ['21 bytes of ciphertextMetadata', `${A}/keys/foo/decrypt`, decryptBody(enc, undefined, { ciphertextMetadata: b64(randomBytes(21)) })],
      ['decrypt without a tag', `${A}/keys/foo/decrypt`, decryptBody(enc, undefined, { authenticationTag: undefined })],
    );
    for (const [what, p, body] of cases) {
      const r = await call(p, body);
      assert.equal(r.json?.errorName, 'ValidationException', `${what}: ${r.status} ${r.text}`);
      assert.equal(r.status, 400, what);
    }
  });

  test('KeyNotFoundException (404): unknown key ids, keys of another URI path, a configured key missing from the token', async () => {
    expectError(await call(`${A}/keys/non_existing_key/metadata`, md('DescribeKey')), 404, 'KeyNotFoundException');
    expectError(await encrypt('non_existing_key', Buffer.from('x')), 404, 'KeyNotFoundException');
    expectError(await call(`${A}/keys/bar/metadata`, md('DescribeKey')), 404, 'KeyNotFoundException');
    expectError(await call(`${A}/keys/ghost/metadata`, md('DescribeKey')), 404, 'KeyNotFoundException');
    const other = await call(`${B}/keys/bar/metadata`, md('DescribeKey'), { accessKeyId: AKB, secretAccessKey: SB });
    assert.equal(other.status, 200, other.text);
  });

  test('InvalidUriPathException (404) for a wrong URI prefix or an unknown path, even when correctly signed', async () => {
    expectError(await call(`/tenant-a/invalid/kms/xks/v1/health`, { requestMetadata: { kmsRequestId: '1', kmsOperation: 'KmsHealthCheck' } }), 404, 'InvalidUriPathException');
    expectError(await call(`${A}/invalid/keys/foo/metadata`, md('DescribeKey')), 404, 'InvalidUriPathException');
    expectError(await call(`/tenant-b/kms/xks/v1/keys/foo/encrypt`, md('Encrypt')), 404, 'InvalidUriPathException');
    expectError(await call(`${A}/keys/foo/sign`, md('Sign')), 404, 'InvalidUriPathException');
    expectError(await call(`${A}/health/`, {}), 404, 'InvalidUriPathException');
    expectError(await call(`${A}/kms/xks/v2/health`, {}), 404, 'InvalidUriPathException');
  });

  test('POST only: a GET at an API URI is 405 Method Not Allowed; GET /ping answers load balancers', async () => {
    for (const p of [`${A}/health`, `${A}/keys/foo/metadata`, `${A}/keys/foo/encrypt`, `${A}/keys/foo/decrypt`]) {
      const r = await call(p, '', { method: 'GET' });
      assert.equal(r.status, 405, p);
      assert.equal(r.headers.allow, 'POST');
    }
    const ping = await new Promise<number>((resolve, reject) => {
      https.get(`${proxy.url}/ping`, { ca: readFileSync(ca.caCert), agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(ping, 200);
  });

  test('SigV4: AuthenticationFailedException (401) for a wrong secret, unknown key id, service, region, date, body, or no signature', async () => {
    const health = { requestMetadata: { kmsRequestId: randomUUID(), kmsOperation: 'KmsHealthCheck' } };
    const fails: [string, Partial<XksCallOptions>, string?][] = [
      ['a wrong secret', { secretAccessKey: secret() }],
      ['an unknown access key id', { accessKeyId: `Invalid${AK1}` }],
      ['service kms instead of kms-xks-proxy', { service: 'kms' }],
      ['another region', { region: 'eu-west-1' }],
      ['a date 10 minutes old', { date: new Date(Date.now() - 10 * 60_000) }],
      ['a date 10 minutes ahead', { date: new Date(Date.now() + 10 * 60_000) }],
      ['a body changed after signing', { sendBody: JSON.stringify({ requestMetadata: { kmsRequestId: 'other', kmsOperation: 'KmsHealthCheck' } }) }],
      ['no Authorization header', { unsigned: true }],
      ['the credential of another URI path', { accessKeyId: AKB, secretAccessKey: SB }],
    ];
    for (const [what, o] of fails) {
      const r = await call(`${A}/health`, health, o);
      assert.equal(r.json?.errorName, 'AuthenticationFailedException', `${what}: ${r.status} ${r.text}`);
      assert.equal(r.status, 401, what);
    }
    // Both configured credentials of the URI path work (rotation); the second comes from an environment variable.
    assert.equal((await call(`${A}/health`, health, { accessKeyId: AK2, secretAccessKey: S2 })).status, 200);
    assert.equal((await call(`${A}/keys/foo/metadata`, md('DescribeKey'), { accessKeyId: AK2, secretAccessKey: S2 })).status, 200);
  });

  test('InvalidKeyUsageException: encrypt-only, decrypt-only and impotent keys; CDIV needs a key that can decrypt', async () => {
    const pt = Buffer.from('plaintext');
    const enc = await encrypt('enc-only', pt);
    assert.equal(enc.status, 200, enc.text);
    expectError(await decrypt('enc-only', decryptBody(enc.json)), 400, 'InvalidKeyUsageException');
    expectError(await encrypt('enc-only', pt, undefined, true), 400, 'InvalidKeyUsageException');
    expectError(await encrypt('dec-only', pt), 400, 'InvalidKeyUsageException');
    expectError(await encrypt('impotent', pt, Buffer.from('aad')), 400, 'InvalidKeyUsageException');
    expectError(await decrypt('impotent', decryptBody(enc.json)), 400, 'InvalidKeyUsageException');
  });

  test('InvalidStateException: a key disabled in the configuration refuses Encrypt and Decrypt', async () => {
    expectError(await encrypt('disabled', Buffer.from('x')), 400, 'InvalidStateException');
  });

  test('curl --aws-sigv4 (an independent SigV4 implementation) gets answers: GetHealthStatus and Encrypt', async (t) => {
    if (spawnSync('curl', ['--version']).status !== 0) return t.skip('curl is not installed');
    const curl = (p: string, body: unknown) => {
      const r = spawnSync('curl', ['--silent', '--show-error', '--cacert', ca.caCert, '-X', 'POST', '-H', 'Content-Type: application/json',
        '--aws-sigv4', 'aws:amz:us-east-1:kms-xks-proxy', '--user', `${AK1}:${S1}`, '--data-binary', JSON.stringify(body), `${proxy.url}${p}`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    assert.equal(curl(`${A}/health`, { requestMetadata: { kmsRequestId: randomUUID(), kmsOperation: 'KmsHealthCheck' } }).ekmFleetDetails[0].healthStatus, 'ACTIVE');
    const enc = curl(`${A}/keys/foo/encrypt`, { ...md('Encrypt'), plaintext: b64('Hello World!'), encryptionAlgorithm: 'AES_GCM' });
    assert.equal(unb64(enc.ciphertext).length, 12);
    assert.equal(curl(`${A}/keys/foo/metadata`, md('DescribeKey')).keySpec, 'AES_256');
  });

  test('the request log has requestMetadata (kmsRequestId, kmsOperation, principal) and never the plaintext', async () => {
    const pt = randomBytes(48);
    const body = { ...md('Encrypt'), plaintext: b64(pt), encryptionAlgorithm: 'AES_GCM' };
    const enc = await call(`${A}/keys/foo/encrypt`, body);
    const dec = await decrypt('foo', decryptBody(enc.json));
    assert.equal(dec.status, 200);
    await within(2000, 'the log line', async () => proxy.stdout().includes(body.requestMetadata.kmsRequestId));
    const line = proxy.stdout().split('\n').find((l) => l.includes(body.requestMetadata.kmsRequestId))!;
    const entry = JSON.parse(line);
    assert.equal(entry.api, 'Encrypt');
    assert.equal(entry.kmsOperation, 'Encrypt');
    assert.equal(entry.awsPrincipalArn, 'arn:aws:iam::111122223333:user/Alice');
    assert.equal(entry.accessKeyId, AK1);
    assert.equal(entry.status, 200);
    const all = proxy.stdout() + proxy.stderr();
    assert.ok(!all.includes(b64(pt)) && !all.includes(pt.toString('hex')), 'plaintext in the log');
  });

  test('mTLS: no client certificate, another CA or another subject name cannot connect; the configured one can', async () => {
    const health = { requestMetadata: { kmsRequestId: randomUUID(), kmsOperation: 'KmsHealthCheck' } };
    const good = clientCa.client('cks.kms.us-east-1.amazonaws.com');
    const r = await call(`${A}/health`, health, { clientCert: good }, mtlsProxy.url);
    assert.equal(r.status, 200, r.text);
    for (const [what, cert] of [
      ['no certificate', undefined],
      ['a certificate of another CA', strangerCa.client('cks.kms.us-east-1.amazonaws.com')],
      ['another subject name', clientCa.client('cks.kms.eu-west-1.amazonaws.com')],
    ] as const) {
      await assert.rejects(call(`${A}/health`, health, { clientCert: cert }, mtlsProxy.url), (err: NodeJS.ErrnoException) => {
        assert.ok(err.code === 'ECONNRESET' || /alert|handshake|socket hang up|certificate/i.test(err.message), `${what}: ${err.code} ${err.message}`);
        return true;
      }, what);
    }
  });

  test('credential rotation: SIGHUP re-reads the keystores; a new credential works and a removed one stops, without a restart', async () => {
    writeFileSync(configFile, JSON.stringify({
      ...config,
      keystores: [keystoreA([{ accessKeyId: AK2, secretAccessKey: S2 }, { accessKeyId: AK3, secretAccessKey: S3 }]), (config.keystores as unknown[])[1]],
    }));
    const pid = proxy.process.pid;
    proxy.process.kill('SIGHUP');
    const health = () => ({ requestMetadata: { kmsRequestId: randomUUID(), kmsOperation: 'KmsHealthCheck' } });
    await within(5000, 'the new credential', async () => (await call(`${A}/health`, health(), { accessKeyId: AK3, secretAccessKey: S3 })).status === 200);
    expectError(await call(`${A}/health`, health()), 401, 'AuthenticationFailedException');
    assert.equal((await call(`${A}/health`, health(), { accessKeyId: AK2, secretAccessKey: S2 })).status, 200);
    assert.equal(proxy.process.pid, pid);
    // A broken config does not replace the working one.
    writeFileSync(configFile, '{"not": "valid"');
    proxy.process.kill('SIGHUP');
    await within(5000, 'the refusal', async () => proxy.stderr().includes('did not reload'));
    assert.equal((await call(`${A}/health`, health(), { accessKeyId: AK3, secretAccessKey: S3 })).status, 200);
  });

  test('GetHealthStatus does a real operation in the token: with its test key gone, the key manager is UNAVAILABLE', async () => {
    const token = Pkcs11Token.open(new Pkcs11Modules(), { modulePath: softHsm().module, token: { label: tokenLabel }, pin, randomBytes });
    try {
      const key = await token.findAesKeyByLabel('trent-xks-health');
      assert.ok(key, 'the proxy made its health-check key in the token');
      await token.destroyKey(key.id);
    } finally {
      token.close();
    }
    const health = () => call(`${A}/health`, { requestMetadata: { kmsRequestId: randomUUID(), kmsOperation: 'KmsHealthCheck' } }, { accessKeyId: AK3, secretAccessKey: S3 });
    await within(15_000, 'UNAVAILABLE', async () => (await health()).json?.ekmFleetDetails?.[0]?.healthStatus === 'UNAVAILABLE');
    assert.equal((await health()).status, 200);
  });
});

