// The KMS side's XKS client: its SigV4 signature is accepted by the proxy's verifier (Appendix A: service kms-xks-proxy,
// the region, host and x-amz-date signed), it sends the request metadata the spec lists per call, and it checks the
// ciphertext data integrity value of an Encrypt answer (Appendix C) — against a scripted HTTPS proxy (test CA).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SecretBytes } from '../../src/crypto/secret-bytes.js';
import { signXksRequest, XksCallError, XksClient, ciphertextDataIntegrityValue, type XksEndpoint } from '../../src/keystores/xks/xks-client.js';
import { encodeXksEnvelope, parseXksEnvelope, parseXksMaterial, xksMaterial } from '../../src/keystores/xks/xks-keystore.js';
import { cdiv } from '../../src/xks-proxy/api.js';
import { verifyXksSignature } from '../../src/xks-proxy/sigv4-verifier.js';
import { makeTestCa, opensslSkip, type TestCa } from '../helpers/test-ca.js';

const secret = randomBytes(32).toString('base64');
const endpoint = (): XksEndpoint => ({ uriEndpoint: 'https://127.0.0.1', uriPath: '/p/kms/xks/v1', accessKeyId: 'TRENTXKSUNITKEYAAAAA', secretAccessKey: Buffer.from(secret) });
const creds = [{ accessKeyId: 'TRENTXKSUNITKEYAAAAA', secretAccessKey: new SecretBytes(Buffer.from(secret)) }];

describe('XKS request signing (SigV4, service kms-xks-proxy)', () => {
  const now = new Date('2026-11-23T01:02:03Z');
  const signed = (region = 'eu-west-1') => signXksRequest(endpoint(), region, 8443, '/p/kms/xks/v1/keys/foo/encrypt', { a: 1 }, now);
  const verify = (r: ReturnType<typeof signed>, region = 'eu-west-1', at = now) =>
    verifyXksSignature({ method: 'POST', path: r.path, query: '', headers: Object.entries(r.headers), body: Buffer.from(r.body) }, creds as never, region, at, 300);

  test('the proxy verifies the signature: host with the port, x-amz-date and the body are signed', () => {
    const r = signed();
    assert.equal(r.headers.host, '127.0.0.1:8443');
    assert.match(r.headers.authorization!, /^AWS4-HMAC-SHA256 Credential=TRENTXKSUNITKEYAAAAA\/20261123\/eu-west-1\/kms-xks-proxy\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
    assert.equal(verify(r), 'TRENTXKSUNITKEYAAAAA');
  });

  test('another region, a changed body or a stale date fail verification', () => {
    assert.throws(() => verify(signed('us-east-1')), /region/);
    const r = signed();
    assert.throws(() => verify({ ...r, body: '{"a":2}' }), /x-amz-content-sha256|signature/);
    assert.throws(() => verify(r, 'eu-west-1', new Date(now.getTime() + 10 * 60_000)), /seconds away/);
  });

  test('the CDIV is the spec\'s (the proxy computes the same bytes)', () => {
    const [aad, meta, iv, ct, tag] = [randomBytes(32), Buffer.of(1), randomBytes(12), randomBytes(40), randomBytes(16)];
    assert.deepEqual(ciphertextDataIntegrityValue(aad, meta, iv, ct, tag), cdiv(aad, meta, iv, ct, tag));
  });

  test('material and envelope layouts round-trip', () => {
    const m = xksMaterial('cks-0123456789abcdef0', 'foo.key_1', Buffer.of(1, 2, 3));
    assert.deepEqual(parseXksMaterial(m), { customKeyStoreId: 'cks-0123456789abcdef0', xksKeyId: 'foo.key_1', inner: Buffer.of(1, 2, 3) });
    const e = { iv: randomBytes(16), tag: randomBytes(16), ciphertext: randomBytes(5), ciphertextMetadata: Buffer.of(9) };
    assert.deepEqual(parseXksEnvelope(encodeXksEnvelope(e)), e);
    assert.equal(parseXksEnvelope(Buffer.of(2, 12)), undefined);
  });
});

describe('XKS client against a scripted proxy', { skip: opensslSkip }, () => {
  let ca: TestCa;
  let server: https.Server;
  let port: number;
  const seen: { url: string; body: any }[] = [];
  let answer: (body: any) => { status: number; body: unknown } = () => ({ status: 200, body: {} });

  before(async () => {
    ca = makeTestCa('XKS client unit CA');
    const cert = ca.server();
    server = https.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        seen.push({ url: req.url!, body });
        const a = answer(body);
        res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    ca.remove();
  });

  const client = () => new XksClient({ region: 'us-east-1', ca: readFileSync(ca.caCert), port, timeoutMs: 5000 });
  const meta = { awsPrincipalArn: 'arn:aws:iam::111122223333:user/alice', kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/k', kmsOperation: 'Encrypt', kmsRequestId: 'req-1' };
  const encryptAnswer = (good: boolean) => (body: any) => {
    const aad = Buffer.from(body.additionalAuthenticatedData, 'base64');
    const [iv, tag, ct, md] = [randomBytes(12), randomBytes(16), Buffer.alloc(Buffer.from(body.plaintext, 'base64').length, 7), Buffer.of(1)];
    const value = cdiv(aad, md, iv, ct, tag);
    if (!good) value[0]! ^= 1;
    return {
      status: 200,
      body: {
        ciphertext: ct.toString('base64'), initializationVector: iv.toString('base64'), authenticationTag: tag.toString('base64'),
        ciphertextMetadata: md.toString('base64'), ciphertextDataIntegrityValue: value.toString('base64'),
      },
    };
  };

  test('Encrypt sends the request metadata, AES_GCM, the AAD and asks for a SHA_256 CDIV, which it checks', async () => {
    answer = encryptAnswer(true);
    const out = await client().encrypt(endpoint(), 'foo', Buffer.from('hello'), Buffer.from('aad'), meta);
    assert.equal(out.ciphertext.length, 5);
    const req = seen.at(-1)!;
    assert.equal(req.url, '/p/kms/xks/v1/keys/foo/encrypt');
    assert.deepEqual(req.body.requestMetadata, meta);
    assert.equal(req.body.encryptionAlgorithm, 'AES_GCM');
    assert.equal(req.body.ciphertextDataIntegrityValueAlgorithm, 'SHA_256');
    assert.equal(Buffer.from(req.body.additionalAuthenticatedData, 'base64').toString(), 'aad');
  });

  test('a CDIV that does not match the answer is an invalid response', async () => {
    answer = encryptAnswer(false);
    await assert.rejects(client().encrypt(endpoint(), 'foo', Buffer.from('hello'), Buffer.from('aad'), meta), (e: XksCallError) => e.kind === 'invalid-response' && /ciphertextDataIntegrityValue/.test(e.message));
  });

  test('GetHealthStatus sends only kmsRequestId and kmsOperation; an XKS error keeps its name', async () => {
    answer = () => ({ status: 200, body: { xksProxyFleetSize: 1, ekmFleetDetails: [{ id: 'a', healthStatus: 'ACTIVE' }] } });
    await client().health(endpoint(), { kmsOperation: 'ConnectCustomKeyStore', kmsRequestId: 'req-2' });
    assert.deepEqual(seen.at(-1)!.body, { requestMetadata: { kmsOperation: 'ConnectCustomKeyStore', kmsRequestId: 'req-2' } });
    answer = () => ({ status: 401, body: { errorName: 'AuthenticationFailedException', errorMessage: 'no' } });
    await assert.rejects(client().health(endpoint(), { kmsOperation: 'x', kmsRequestId: 'y' }), (e: XksCallError) => e.kind === 'proxy-error' && e.errorName === 'AuthenticationFailedException');
  });

  test('a certificate from a CA Trent does not trust is a TLS failure', async () => {
    const other = makeTestCa('Stranger CA');
    try {
      const c = new XksClient({ region: 'us-east-1', ca: readFileSync(other.caCert), port, timeoutMs: 5000 });
      await assert.rejects(c.health(endpoint(), { kmsOperation: 'x', kmsRequestId: 'y' }), (e: XksCallError) => e.kind === 'tls');
    } finally {
      other.remove();
    }
  });
});
