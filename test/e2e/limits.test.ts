// Issue #12 items 5 and 6: request quotas (ThrottlingException as AWS answers it), the bound on in-flight requests, and
// the connection limits (header and request timeouts against slow clients, most connections, most per client address).
// Real Trent processes, @aws-sdk/client-kms with retries off, raw sockets for the slow clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateRandomCommand, KMSClient, type KMSServiceException,
} from '@aws-sdk/client-kms';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

const THROTTLED = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';

/** The exception a call fails with, or undefined when it succeeds. */
async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined } | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    const e = err as KMSServiceException;
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
}

const throttled = { name: 'ThrottlingException', message: THROTTLED, status: 400 };
const PLAINTEXT = Buffer.from('quota test');

describe('request quotas', () => {
  // Rates of 0.01/s: one request, then none for 100 s. So the tests count tokens, not time.
  const tiny = { 'Cryptographic operations (symmetric)': 0.01, 'Cryptographic operations (RSA)': 0.01, CreateKey: 0.01, DescribeKey: 0.01 };
  let server: TestServer;
  let a: KMSClient;
  let b: KMSClient;
  before(async () => {
    server = await startServer({ dev: true, args: ['--request-quotas', JSON.stringify(tiny)] });
    a = devClient(server.url, { accessKeyId: '111111111111' });
    b = devClient(server.url, { accessKeyId: '222222222222' });
  });
  after(async () => {
    a?.destroy();
    b?.destroy();
    await server?.stop();
  });

  it('answers ThrottlingException with AWS message; symmetric operations share one quota per account, RSA keys another', async () => {
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    assert.deepEqual(await failure(a.send(new CreateKeyCommand({}))), throttled, 'CreateKey has its own quota');

    const { CiphertextBlob } = await a.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }));
    // Decrypt (the key found from the blob) and GenerateRandom draw from the bucket Encrypt emptied.
    assert.deepEqual(await failure(a.send(new DecryptCommand({ CiphertextBlob }))), throttled);
    assert.deepEqual(await failure(a.send(new GenerateRandomCommand({ NumberOfBytes: 16 }))), throttled);
    assert.deepEqual(await failure(a.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))), throttled);
    // A management operation's quota is its own.
    assert.equal((await a.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyId, keyId);
    assert.deepEqual(await failure(a.send(new DescribeKeyCommand({ KeyId: keyId }))), throttled);

    // Another account has quotas of its own; an RSA key draws from the RSA quota, not the symmetric one.
    const rsa = (await b.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!.KeyId!;
    const sealed = await b.send(new EncryptCommand({ KeyId: rsa, Plaintext: PLAINTEXT, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    assert.equal((await b.send(new GenerateRandomCommand({ NumberOfBytes: 16 }))).Plaintext!.length, 16, "account B's symmetric quota is untouched");
    assert.deepEqual(
      await failure(b.send(new DecryptCommand({ KeyId: rsa, CiphertextBlob: sealed.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))),
      throttled,
      'Encrypt and Decrypt with RSA keys share the RSA quota',
    );
  });

  it('are off in dev mode unless asked for', async () => {
    const dev = await startServer({ dev: true });
    const kms = devClient(dev.url);
    try {
      // AWS's CreateKey quota is 5 per second: 12 at once would be throttled with quotas on.
      const made = await Promise.all(Array.from({ length: 12 }, () => kms.send(new CreateKeyCommand({}))));
      assert.equal(made.length, 12);
    } finally {
      kms.destroy();
      await dev.stop();
    }
  });

  it("are AWS's defaults outside dev mode", async () => {
    const prod = await startServer({ dev: false });
    const text = readFileSync(path.join(prod.dataDir, 'credentials'), 'utf8');
    const get = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*(\\S+)`, 'm').exec(text)![1]!;
    const kms = new KMSClient({
      endpoint: prod.url, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: get('aws_access_key_id'), secretAccessKey: get('aws_secret_access_key') },
    });
    try {
      // 20 CreateKey at once against AWS's 5 per second: the first ones are created, the rest throttled.
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => failure(kms.send(new CreateKeyCommand({})))));
      const created = outcomes.filter((o) => o === undefined).length;
      assert.ok(created >= 5, `${created} created`);
      assert.ok(created < 20, 'some throttled');
      for (const o of outcomes) if (o) assert.deepEqual(o, throttled);
    } finally {
      kms.destroy();
      await prod.stop();
    }
  });
});

/** A raw connection to the server, from `localAddress` (127.0.0.1 and 127.0.0.2 are both loopback). */
function connect(url: string, localAddress = '127.0.0.1'): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port), localAddress });
    socket.once('connect', () => resolve(new RawConnection(socket)));
    socket.once('error', reject);
  });
}

class RawConnection {
  received = '';
  readonly closed: Promise<void>;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => (this.received += d.toString()));
    socket.on('error', () => {}); // a reset is one way of being refused
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded;
  }

  /** GET /health on this connection (keep-alive); resolves with the response text, or undefined if the server closed it. */
  async health(): Promise<string | undefined> {
    const before = this.received.length;
    this.socket.write('GET /health HTTP/1.1\r\nHost: trent\r\n\r\n');
    const deadline = Date.now() + 10_000;
    while (!this.received.slice(before).includes('"status":"ok"')) {
      if (this.isClosed) return undefined;
      if (Date.now() > deadline) throw new Error('no answer to GET /health in 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.received.slice(before);
  }

  /** Writes `text` one byte every `ms` until the server closes the connection (or the text ends); bytes written. */
  async trickle(text: string, ms: number): Promise<number> {
    let i = 0;
    while (i < text.length && !this.isClosed) {
      this.socket.write(text[i++]!);
      await new Promise((r) => setTimeout(r, ms));
    }
    return i;
  }
}

describe('slow clients', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ dev: true, args: ['--headers-timeout-ms', '500', '--request-timeout-ms', '1000'] });
  });
  after(async () => server?.stop());

  it('a client sending its headers byte by byte is answered 408 and cut off after the headers timeout', async () => {
    const c = await connect(server.url);
    // 2,000 header bytes at one every 10 ms would take 20 s.
    const headers = `POST / HTTP/1.1\r\nHost: trent\r\nX-Amz-Target: TrentService.ListKeys\r\nX-Padding: ${'x'.repeat(2_000)}\r\n\r\n`;
    const sent = await c.trickle(headers, 10);
    await c.closed;
    assert.ok(sent < headers.length, `the server waited for all ${sent} bytes`);
    assert.match(c.received, /^HTTP\/1\.1 408/);
  });

  it('a client sending its body byte by byte is answered 408 and cut off after the request timeout', async () => {
    const c = await connect(server.url);
    const body = JSON.stringify({ Limit: 10, Marker: 'y'.repeat(2_000) });
    c.socket.write(`POST / HTTP/1.1\r\nHost: trent\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: ${body.length}\r\n\r\n`);
    const sent = await c.trickle(body, 10);
    await c.closed;
    assert.ok(sent < body.length, `the server waited for all ${sent} bytes`);
    assert.match(c.received, /^HTTP\/1\.1 408/);
  });

  it('a prompt client on a connection of its own is served meanwhile', async () => {
    const slow = await connect(server.url);
    void slow.trickle('POST / HTTP/1.1\r\nHost: trent\r\n', 50);
    const kms = devClient(server.url);
    try {
      assert.equal((await kms.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).Plaintext!.length, 8);
    } finally {
      kms.destroy();
      slow.socket.destroy();
    }
  });
});

describe('connection limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ dev: true, args: ['--max-connections', '5', '--max-connections-per-client', '3'] });
  });
  after(async () => server?.stop());

  it('refuses the connection over the per-client limit, not those of another address, and over the total', async () => {
    const open: RawConnection[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = await connect(server.url, '127.0.0.1');
        assert.ok(await c.health(), `connection ${i + 1} from 127.0.0.1 is served`);
        open.push(c);
      }
      const fourth = await connect(server.url, '127.0.0.1');
      assert.equal(await fourth.health(), undefined, 'the 4th connection from 127.0.0.1 is closed unanswered');

      for (let i = 0; i < 2; i++) {
        const c = await connect(server.url, '127.0.0.2');
        assert.ok(await c.health(), `connection ${i + 1} from 127.0.0.2 is served`);
        open.push(c);
      }
      const sixth = await connect(server.url, '127.0.0.3');
      assert.equal(await sixth.health(), undefined, 'over --max-connections, any address is refused');

      // A connection that closes makes room for its address again.
      open.shift()!.socket.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const again = await connect(server.url, '127.0.0.1');
      assert.ok(await again.health(), 'a new connection from 127.0.0.1 once one of its three closed');
      open.push(again);
    } finally {
      for (const c of open) c.socket.destroy();
    }
  });
});

describe('requests in flight', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ dev: true, args: ['--max-in-flight', '2'] });
  });
  after(async () => server?.stop());

  it('a request over --max-in-flight is answered ThrottlingException at once; under it, served', async () => {
    const kms = devClient(server.url);
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    // Two slow requests in flight: RSA-4096 key generation (seconds, off the event loop).
    let slowDone = 0;
    const slow = [1, 2].map(() => kms.send(new CreateKeyCommand({ KeySpec: 'RSA_4096', KeyUsage: 'SIGN_VERIFY' })).finally(() => slowDone++));
    try {
      // While they are worked on, a third request is throttled (until the server has read both, it may be served).
      let third = await failure(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT })));
      while (third === undefined && slowDone === 0) {
        await new Promise((r) => setTimeout(r, 5));
        third = await failure(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT })));
      }
      assert.equal(slowDone, 0, 'throttled while both slow requests were in flight');
      assert.deepEqual(third, throttled);
      const health = await connect(server.url);
      assert.ok(await health.health(), 'GET /health is not shed');
      health.socket.destroy();
      // Clients sending their bodies slowly hold no place of the bound (else these two would take both).
      const trickling = await Promise.all([connect(server.url), connect(server.url)]);
      for (const t of trickling) t.socket.write('POST / HTTP/1.1\r\nHost: trent\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 100\r\n\r\n{');
      // Both slow requests complete, and there is room again, the trickling clients notwithstanding.
      for (const made of await Promise.all(slow)) assert.equal(made.KeyMetadata!.KeySpec, 'RSA_4096');
      assert.ok((await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))).CiphertextBlob);
      for (const t of trickling) t.socket.destroy();
    } finally {
      await Promise.allSettled(slow);
      kms.destroy();
    }
  });
});
