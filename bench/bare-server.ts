// The benchmark's baseline: a bare node:http server that reads the request body and answers a canned AWS JSON 1.1
// reply with the headers Trent sends. Prints its URL on stdout. Run by bench/bench.ts in its own process.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const reply = Buffer.from(
  JSON.stringify({
    CiphertextBlob: Buffer.alloc(120, 7).toString('base64'),
    KeyId: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000',
    EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
  }),
);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, {
      'Content-Type': 'application/x-amz-json-1.1',
      'Content-Length': reply.length,
      'x-amzn-RequestId': randomUUID(),
    });
    res.end(reply);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`bare server listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
