// Hostile input at the protocol edge (issue #12): map keys that are Object.prototype's names, a second Authorization
// header, operation names that are Object.prototype's, oversized values echoed in errors, too many tags, and HTTP
// that Node's parser refuses. Raw HTTP where the SDK would not send what an attacker sends.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { signRequest } from '../../bench/sigv4.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

// Dev mode accepts any access key; the signature itself is not checked there.
const DEV_AUTH = 'AWS4-HMAC-SHA256 Credential=AKIADEV/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00';

interface Answer {
  readonly status: number;
  readonly json: Record<string, unknown> & { __type?: string; message?: string };
  readonly raw: string;
}

/** One request over a fresh socket, written as given (so that a header may be repeated), read to the end. */
function rawRequest(url: string, head: string, body = ''): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(head + body));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      const text = data.slice(data.indexOf('\r\n\r\n') + 4);
      let json = {};
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON: the assertions say so
      }
      resolve({ status, json, raw: data });
    });
  });
}

function httpHead(url: string, target: string, body: string, headers: readonly [string, string][]): string {
  const { host } = new URL(url);
  const lines = [`POST / HTTP/1.1`, `Host: ${host}`, `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: ${target}`, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

async function call(url: string, operation: string, body: unknown, headers: readonly [string, string][] = [['Authorization', DEV_AUTH]]): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return rawRequest(url, httpHead(url, `TrentService.${operation}`, text, headers), text);
}

describe('hostile input at the protocol edge (dev mode)', () => {
  let server: TestServer;
  let kms: KMSClient;
  let keyId: string;
  before(async () => {
    server = await startServer({ dev: true });
    kms = devClient(server.url);
    keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
  });

  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    it(`keeps "${name}" as an encryption context key: the context binds the ciphertext`, async () => {
      // JSON text, not a JS object: `{ __proto__: 'x' }` in JS would not make such a key.
      const context = (value: string) => `{"${name}":"${value}"}`;
      const enc = await call(server.url, 'Encrypt', `{"KeyId":"${keyId}","Plaintext":"aGVsbG8=","EncryptionContext":${context('tenant-A')}}`);
      assert.equal(enc.status, 200, enc.raw);
      const blob = enc.json.CiphertextBlob as string;
      const without = await call(server.url, 'Decrypt', { CiphertextBlob: blob });
      assert.equal(without.json.__type, 'InvalidCiphertextException', 'decrypted without its context');
      const other = await call(server.url, 'Decrypt', `{"CiphertextBlob":"${blob}","EncryptionContext":${context('tenant-B')}}`);
      assert.equal(other.json.__type, 'InvalidCiphertextException', 'decrypted under another tenant');
      const right = await call(server.url, 'Decrypt', `{"CiphertextBlob":"${blob}","EncryptionContext":${context('tenant-A')}}`);
      assert.equal(right.status, 200, right.raw);
      assert.equal(right.json.Plaintext, 'aGVsbG8=');
    });
  }

  it('stores a grant constraint keyed "__proto__" as given, and enforces it', async () => {
    const body = `{"KeyId":"${keyId}","GranteePrincipal":"arn:aws:iam::111122223333:role/app","Operations":["Decrypt"],"Constraints":{"EncryptionContextEquals":{"__proto__":"tenant-A"}}}`;
    const created = await call(server.url, 'CreateGrant', body);
    assert.equal(created.status, 200, created.raw);
    const listed = await call(server.url, 'ListGrants', { KeyId: keyId });
    const grant = (listed.json.Grants as { GrantId: string; Constraints?: { EncryptionContextEquals?: Record<string, string> } }[]).find((g) => g.GrantId === created.json.GrantId);
    assert.ok(grant, listed.raw);
    assert.deepEqual(Object.entries(grant.Constraints?.EncryptionContextEquals ?? {}), [['__proto__', 'tenant-A']]);
  });

  for (const name of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) {
    it(`answers X-Amz-Target TrentService.${name} with UnknownOperationException`, async () => {
      const r = await call(server.url, name, {});
      assert.equal(r.status, 400);
      assert.equal(r.json.__type, 'UnknownOperationException', r.raw);
    });
  }

  it('refuses a request with two Authorization headers', async () => {
    const r = await call(server.url, 'ListKeys', {}, [['Authorization', DEV_AUTH], ['Authorization', 'AWS4-HMAC-SHA256 Credential=AKIAOTHER/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00']]);
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'IncompleteSignatureException', r.raw);
  });

  it('bounds what an error message echoes of a huge value', async () => {
    const r = await call(server.url, 'DescribeKey', { KeyId: 'k'.repeat(900_000) });
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'ValidationException');
    assert.match(r.json.message!, /^1 validation error detected: Value 'k+\.\.\.' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048$/);
    assert.ok(r.raw.length < 8192, `the answer is ${r.raw.length} bytes`);
  });

  it('CreateKey with more than 50 tags: TagException "Too many tags", and no key made', async () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ TagKey: `k${i}`, TagValue: 'v' }));
    const before = ((await call(server.url, 'ListKeys', {})).json.Keys as unknown[]).length;
    const r = await call(server.url, 'CreateKey', { Tags: tags(51) });
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'TagException');
    assert.equal(r.json.message, 'Too many tags');
    assert.equal(((await call(server.url, 'ListKeys', {})).json.Keys as unknown[]).length, before);
    const ok = await call(server.url, 'CreateKey', { Tags: tags(50) });
    assert.equal(ok.status, 200, ok.raw);
  });

  it('answers duplicate tag keys as AWS does', async () => {
    const r = await call(server.url, 'CreateKey', { Tags: [{ TagKey: 'a', TagValue: '1' }, { TagKey: 'a', TagValue: '2' }] });
    assert.equal(r.json.__type, 'TagException');
    assert.equal(r.json.message, 'Duplicate tag keys');
  });

  it('answers HTTP that the parser refuses with an AWS-shaped error', async () => {
    const { host } = new URL(server.url);
    const huge = await rawRequest(server.url, `POST / HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\nContent-Length: 2\r\n\r\n`, '{}');
    assert.equal(huge.status, 431, huge.raw.slice(0, 200));
    assert.equal(huge.json.__type, 'RequestEntityTooLargeException', huge.raw.slice(0, 200));
    assert.match(huge.json.message ?? '', /header/i);
    const framing = await rawRequest(server.url, `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n`, 'zz\r\n');
    assert.equal(framing.status, 400, framing.raw.slice(0, 200));
    assert.equal(framing.json.__type, 'SerializationException', framing.raw.slice(0, 200));
    // The server still serves.
    assert.equal((await call(server.url, 'ListKeys', {})).status, 200);
  });
});

describe('hostile input with SigV4 verification (non-dev server)', () => {
  let server: TestServer;
  let credentials: { accessKeyId: string; secretAccessKey: string };
  before(async () => {
    server = await startServer({ dev: false });
    const text = readFileSync(path.join(server.dataDir, 'credentials'), 'utf8');
    credentials = {
      accessKeyId: /aws_access_key_id\s*=\s*(\S+)/.exec(text)![1]!,
      secretAccessKey: /aws_secret_access_key\s*=\s*(\S+)/.exec(text)![1]!,
    };
  });
  after(async () => {
    await server?.stop();
  });

  const signed = (extra: readonly [string, string][]) => {
    const body = '{}';
    const url = new URL(server.url);
    const headers = signRequest({
      method: 'POST', url, body, region: 'us-east-1', service: 'kms', credentials,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' },
    });
    const lines = ['POST / HTTP/1.1', `Content-Length: 2`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), ...extra.map(([k, v]) => `${k}: ${v}`)];
    return rawRequest(server.url, `${lines.join('\r\n')}\r\n\r\n`, body);
  };

  it('accepts the signed request alone', async () => {
    const r = await signed([]);
    assert.equal(r.status, 200, r.raw);
  });

  it('refuses the same signed request when it carries a second, bogus Authorization header', async () => {
    const r = await signed([['Authorization', 'AWS4-HMAC-SHA256 Credential=AKIABOGUS/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00']]);
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'IncompleteSignatureException', r.raw);
  });
});
