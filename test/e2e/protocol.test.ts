import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, DryRunOperationException, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { ROOT } from '../helpers/paths.js';

// Dev mode accepts any access key; the signature itself is not checked there.
const DEV_AUTH = 'AWS4-HMAC-SHA256 Credential=AKIADEV/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00';

async function call(url: string, target: string | undefined, body: string, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-amz-json-1.1', Authorization: DEV_AUTH, ...extra };
  if (target) headers['X-Amz-Target'] = target;
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, requestId: res.headers.get('x-amzn-requestid'), json: (await res.json()) as { __type?: string; message?: string } };
}

describe('AWS JSON 1.1 protocol', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  it('answers an unknown operation with UnknownOperationException and a request id', async () => {
    const r = await call(server.url, 'TrentService.MakeCoffee', '{}');
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'UnknownOperationException');
    assert.match(r.requestId ?? '', /^[0-9a-f-]{36}$/);
    const none = await call(server.url, undefined, '{}');
    assert.equal(none.json.__type, 'UnknownOperationException');
  });

  it('answers malformed JSON with SerializationException, never a stack trace', async () => {
    const r = await call(server.url, 'TrentService.CreateKey', '{"Description": ');
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'SerializationException');
    assert.doesNotMatch(JSON.stringify(r.json), /at .*\.js:\d+/);
  });

  it('refuses an oversized body with 413', async () => {
    const r = await call(server.url, 'TrentService.CreateKey', JSON.stringify({ Description: 'x'.repeat(2 * 1024 * 1024) }));
    assert.equal(r.status, 413);
    assert.equal(r.json.__type, 'RequestEntityTooLargeException');
  });

  it('serves a health check', async () => {
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('answers DryRun with DryRunOperationException when the call would succeed', async () => {
    const kms = devClient(server.url);
    const key = await kms.send(new CreateKeyCommand({}));
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: Buffer.from('x'), DryRun: true })), DryRunOperationException);
    kms.destroy();
  });

  it('wipes all state on POST /_trent/dev/reset in dev mode', async () => {
    const kms = devClient(server.url);
    const key = await kms.send(new CreateKeyCommand({}));
    const res = await fetch(`${server.url}/_trent/dev/reset`, { method: 'POST' });
    assert.equal(res.status, 200);
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: Buffer.from('x') })), { name: 'NotFoundException' });
    kms.destroy();
  });

  it('resets through the trent dev reset command', async () => {
    const kms = devClient(server.url);
    const key = await kms.send(new CreateKeyCommand({}));
    const out = execFileSync(process.execPath, [path.join(ROOT, 'bin/trent.js'), 'dev', 'reset', '--endpoint', server.url], { encoding: 'utf8' });
    assert.match(out, /reset/);
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: Buffer.from('x') })), { name: 'NotFoundException' });
    kms.destroy();
  });
});

describe('outside dev mode', () => {
  it('refuses the dev reset endpoint with 404', async () => {
    const server = await startServer({ dev: false });
    try {
      const res = await fetch(`${server.url}/_trent/dev/reset`, { method: 'POST' });
      assert.equal(res.status, 404);
    } finally {
      await server.stop();
    }
  });
});

describe('TLS', () => {
  it('serves HTTPS with --tls-cert/--tls-key, usable by the SDK', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trent-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const server = await startServer({ args: ['--tls-cert', cert, '--tls-key', key] });
    try {
      assert.match(server.url, /^https:\/\//);
      const { Agent } = await import('node:https');
      const kms = new KMSClient({
        endpoint: server.url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKIADEV', secretAccessKey: 'x' },
        requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(cert) }) }),
      });
      const created = await kms.send(new CreateKeyCommand({}));
      assert.equal(created.KeyMetadata!.KeyState, 'Enabled');
      kms.destroy();
    } finally {
      await server.stop();
    }
  });
});

describe('shutdown', () => {
  it('finishes an in-flight request on SIGTERM, then exits 0', async () => {
    const server = await startServer();
    const body = JSON.stringify({ Description: 'in flight' });
    const u = new URL(server.url);
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: u.hostname, port: u.port, method: 'POST', path: '/',
          headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.CreateKey', Authorization: DEV_AUTH, 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 5));
      setTimeout(() => {
        server.process.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(5)), 300);
      }, 200);
    });
    const r = await response;
    assert.equal(r.status, 200);
    assert.match(r.text, /"KeyState":"Enabled"/);
    const code = await server.stop();
    assert.equal(code, 0);
  });
});
