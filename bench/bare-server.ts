// The benchmark's baseline: a bare node:http server that reads the request body and answers a canned AWS JSON 1.1
// reply with the headers Trent sends. Prints its URL on stdout. Run by bench/bench.ts in its own process.
//
// With `--crypto` it is the reference "floor" instead: it also does the cryptography of an Encrypt (parses the JSON
// body, AES-256-GCM of the plaintext under one fixed key with the encryption context as associated data, base64, a
// JSON reply), and nothing else Trent does (no authentication, validation, key lookup, authorization or audit). What
// it reaches is about the most any one Node process doing an Encrypt's work can reach on the machine.
import { createCipheriv, createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000';
const reply = Buffer.from(
  JSON.stringify({
    CiphertextBlob: Buffer.alloc(120, 7).toString('base64'),
    KeyId: KEY_ARN,
    EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
  }),
);

// The cheapest way Node offers, as Trent does: the key as a KeyObject (a Buffer key costs about 8.5 µs more per
// cipher on Node 22 and later), IVs cut from a block of random bytes (randomBytes per call costs about 1.7 µs).
const key = createSecretKey(randomBytes(32));
let ivBlock = randomBytes(0);
function nextIv(): Buffer {
  if (ivBlock.length < 12) ivBlock = randomBytes(12 * 1024);
  const iv = ivBlock.subarray(0, 12);
  ivBlock = ivBlock.subarray(12);
  return iv;
}

/** Encrypt's cryptography only: plaintext sealed with AES-256-GCM, the encryption context bound as associated data. */
function encrypt(body: Buffer): Buffer {
  const input = JSON.parse(body.toString('utf8')) as { Plaintext: string; EncryptionContext?: Record<string, string> };
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(JSON.stringify(input.EncryptionContext ?? {})));
  const sealed = Buffer.concat([iv, cipher.update(Buffer.from(input.Plaintext, 'base64')), cipher.final(), cipher.getAuthTag()]);
  return Buffer.from(JSON.stringify({ CiphertextBlob: sealed.toString('base64'), KeyId: KEY_ARN, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }));
}

const doCrypto = process.argv.includes('--crypto');
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const out = doCrypto ? encrypt(Buffer.concat(chunks)) : reply;
    res.writeHead(200, {
      'Content-Type': 'application/x-amz-json-1.1',
      'Content-Length': out.length,
      'x-amzn-RequestId': randomUUID(),
    });
    res.end(out);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`bare server listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
