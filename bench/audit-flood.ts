// The flood of issue #12 item 4, measured (docs/audit.md "Under a flood"): `trent serve` on SQLite (SigV4, not dev
// mode), autocannon sending requests with no credentials and a 16,000-byte User-Agent on 64 connections for 45 s,
// plus one legitimate signed Encrypt every 50 ms. Prints: legitimate events lost, events stored for the flood, the
// server's RSS peak (VmHWM), the database's growth, and how long the clean stop took. Loopback only.
//   npm run build && node dist/bench/audit-flood.js [--seconds 45] [--connections 64]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '45' }, connections: { type: 'string', default: '64' } } });
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const dir = mkdtempSync(path.join(tmpdir(), 'trent-flood-'));
const trent = path.join(root, 'bin/trent.js');
const dbBytes = () => ['trent.db', 'trent.db-wal'].reduce((n, f) => n + (existsSync(path.join(dir, f)) ? statSync(path.join(dir, f)).size : 0), 0);

const child = spawn(process.execPath, [trent, 'serve', '--port', '0', '--data-dir', dir, '--request-log', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
const url = await new Promise<string>((resolve, reject) => {
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    const m = /Trent listening on (\S+)/.exec(stderr);
    if (m) resolve(m[1]!);
  });
  child.once('exit', () => reject(new Error(stderr)));
});
const vm = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const profile = Object.fromEntries(
  readFileSync(path.join(dir, 'credentials'), 'utf8').split('\n').map((l) => /^\s*(aws_\w+)\s*=\s*(\S+)/.exec(l)).filter((m) => m).map((m) => [m![1], m![2]]),
);
const kms = new KMSClient({ endpoint: url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: profile.aws_access_key_id!, secretAccessKey: profile.aws_secret_access_key! } });
const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
await new Promise((r) => setTimeout(r, 500));
const dbBefore = dbBytes();
const rssBefore = vm('VmRSS');

const answered: string[] = [];
const failures = new Map<string, number>();
const inFlight = new Set<Promise<void>>();
const ticker = setInterval(() => {
  const p = kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('legitimate') })).then(
    (r) => void answered.push(r.$metadata.requestId!),
    (e: Error) => void failures.set(e.name, (failures.get(e.name) ?? 0) + 1),
  );
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
}, 50);
const result = await autocannon({
  url, method: 'POST', connections, duration: seconds, timeout: 10, body: '{}',
  headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.Encrypt', 'User-Agent': `flood/${'u'.repeat(16_000 - 6)}` },
});
clearInterval(ticker);
await Promise.all(inFlight);
kms.destroy();
const rssPeak = vm('VmHWM');
const stopStart = performance.now();
const exited = new Promise((r) => child.once('exit', r));
child.kill('SIGTERM');
await exited;
const stopMs = performance.now() - stopStart;
const dbAfter = dbBytes();

const out = spawnSync(process.execPath, [trent, 'audit', 'lookup', '--data-dir', dir, '--max-results', '10000'], { encoding: 'utf8', maxBuffer: 1 << 30 });
const events = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
const stored = new Set(events.filter((e) => e.eventName === 'Encrypt' && !e.errorCode && e.userIdentity.type !== 'Unknown').map((e) => e.requestID));
const flood = events.filter((e) => e.userIdentity.type === 'Unknown' && e.eventType === 'AwsApiCall');
const summaries = events.filter((e) => e.eventName === 'UnauthenticatedRequestsSummarized');
const verify = spawnSync(process.execPath, [trent, 'audit', 'verify', '--data-dir', dir], { encoding: 'utf8' });
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
console.log(`flood: ${connections} connections × ${seconds} s, ${result.requests.total} requests (${Math.round(result.requests.average)}/s), statuses ${JSON.stringify(result.statusCodeStats)}`);
console.log(`legitimate Encrypts: ${answered.length} answered 200, failed ${JSON.stringify(Object.fromEntries(failures))}; events lost: ${answered.filter((id) => !stored.has(id)).length}`);
console.log(`events stored for the flood: ${flood.length} one by one + ${summaries.length} summaries counting ${summaries.reduce((n, e) => n + e.serviceEventDetails.count, 0)}`);
console.log(`RSS: ${mib(rssBefore)} before, peak ${mib(rssPeak)}; database: ${mib(dbBefore)} → ${mib(dbAfter)} (+${mib(dbAfter - dbBefore)}); clean stop: ${Math.round(stopMs)} ms`);
console.log(`trent audit verify: ${verify.stdout.trim().split('\n')[0]}`);
rmSync(dir, { recursive: true, force: true });
