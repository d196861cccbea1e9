// `npm run bench`: Trent against a bare node:http server, same load generator (autocannon), same SigV4-signed
// requests, for Encrypt, Decrypt and GenerateDataKey (the default cases), and on request for Sign/Verify with
// RSA_2048, ECC_NIST_P256 and Ed25519 keys, GenerateMac and GenerateDataKeyPair (RSA_2048, ECC_NIST_P256). Prints
// requests/s, p50/p99 latency and Trent's share of the bare server's requests/s. Writes nothing to the repo: Trent's
// data dir and request log go to a temp dir.
//
//   npm run bench -- [--duration 10] [--connections 16] [--ops Encrypt,Decrypt,GenerateDataKey | asymmetric | all]
//                    [--auth dev|credentials] [--request-log file|off|stdout]
//
// --auth dev (default) starts Trent with --dev and signs with a made-up access key; --auth credentials starts it
// without --dev and signs with the administrator credentials Trent writes to <data-dir>/credentials on first start.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { signRequest, type Credentials } from './sigv4.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const repoRoot = path.resolve(here, '../..');
const REGION = 'us-east-1';
const SYMMETRIC_OPS = ['Encrypt', 'Decrypt', 'GenerateDataKey'] as const;
const ASYMMETRIC_OPS = [
  'Sign/RSA_2048', 'Verify/RSA_2048', 'Sign/ECC_NIST_P256', 'Verify/ECC_NIST_P256', 'Sign/Ed25519', 'Verify/Ed25519',
  'GenerateMac/HMAC_256', 'GenerateDataKeyPair/RSA_2048', 'GenerateDataKeyPair/ECC_NIST_P256',
] as const;
const OPS = [...SYMMETRIC_OPS, ...ASYMMETRIC_OPS] as const;
/** A benchmark case: the operation, then (after a slash) the key or key pair spec it uses. */
type Op = (typeof OPS)[number];
const PRESETS: Record<string, readonly Op[]> = { all: OPS, asymmetric: ASYMMETRIC_OPS, symmetric: SYMMETRIC_OPS };

const { values: argv } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '2' },
    ops: { type: 'string', default: SYMMETRIC_OPS.join(',') },
    auth: { type: 'string', default: 'dev' },
    'request-log': { type: 'string', default: 'file' },
  },
  strict: true,
});
const duration = Number(argv.duration);
const connections = Number(argv.connections);
const warmup = Number(argv.warmup);
const ops = argv.ops.split(',').flatMap((s) => PRESETS[s.trim()] ?? [s.trim()]) as Op[];
for (const op of ops) if (!OPS.includes(op)) throw new Error(`--ops: unknown operation ${op} (one of ${OPS.join(', ')})`);
if (argv.auth !== 'dev' && argv.auth !== 'credentials') throw new Error('--auth must be dev or credentials');
if (!['file', 'off', 'stdout'].includes(argv['request-log'])) throw new Error('--request-log must be file, off or stdout');

/** Starts a child process and resolves with the first match of `ready` in its output. */
function startChild(name: string, args: string[], ready: RegExp, stream: 'stdout' | 'stderr'): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 20 s:\n${seen}`)), 20_000);
    const onData = (d: Buffer) => {
      seen += d.toString();
      const m = ready.exec(seen);
      if (m) {
        clearTimeout(timer);
        child[stream]!.off('data', onData);
        child.stdout!.resume(); // keep draining (request log on stdout, if chosen)
        child.stderr!.resume();
        resolve({ child, url: m[1]! });
      }
    };
    child[stream]!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${seen}`));
    });
  });
}

function signed(url: string, op: string, body: object, credentials: Credentials) {
  const text = JSON.stringify(body);
  const headers = signRequest({
    method: 'POST',
    url: new URL('/', url),
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
    body: text,
    region: REGION,
    service: 'kms',
    credentials,
  });
  delete headers.host; // autocannon sets Host itself (same value)
  return { headers, body: text };
}

async function call(url: string, op: string, body: object, credentials: Credentials): Promise<any> {
  const req = signed(url, op, body, credentials);
  const res = await fetch(new URL('/', url), { method: 'POST', headers: req.headers, body: req.body });
  const out = (await res.json()) as any;
  if (!res.ok) throw new Error(`${op} failed: HTTP ${res.status} ${JSON.stringify(out)}`);
  return out;
}

function readCredentials(file: string): Credentials {
  const text = readFileSync(file, 'utf8');
  const get = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*(\\S+)`, 'm').exec(text)?.[1];
  const accessKeyId = get('aws_access_key_id');
  const secretAccessKey = get('aws_secret_access_key');
  if (!accessKeyId || !secretAccessKey) throw new Error(`no credentials in ${file}`);
  return { accessKeyId, secretAccessKey };
}

const ms = (v: number) => v.toFixed(2);

interface Row {
  readonly op: Op;
  readonly target: 'bare' | 'trent';
  readonly m: Measured;
}

interface Measured {
  readonly result: Result;
  /** Requests per second over the whole case. */
  readonly rps: number;
  /** Latency percentiles in ms from every response's own timing (autocannon's histogram keeps whole ms only). */
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
}

async function load(url: string, req: { headers: Record<string, string>; body: string }, seconds: number, title: string): Promise<Measured> {
  let times = new Float64Array(1 << 20);
  let n = 0;
  const instance = autocannon({ url, method: 'POST', headers: req.headers, body: req.body, connections, duration: seconds, title, timeout: 10 });
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status < 200 || status > 299) return;
    if (n === times.length) {
      const bigger = new Float64Array(times.length * 2);
      bigger.set(times);
      times = bigger;
    }
    times[n++] = ms;
  });
  const result = await instance;
  if (result.errors || result.timeouts || result.non2xx) {
    throw new Error(`${title}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses ${JSON.stringify(result.statusCodeStats)}`);
  }
  const sorted = times.subarray(0, n).sort();
  const pct = (p: number) => sorted[Math.min(n - 1, Math.floor((p / 100) * n))] ?? NaN;
  let sum = 0;
  for (const t of sorted) sum += t;
  return { result, rps: n / result.duration, p50: pct(50), p99: pct(99), mean: sum / n };
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'trent-bench-'));
  const dataDir = path.join(scratch, 'data');
  const requestLog = argv['request-log'] === 'file' ? path.join(scratch, 'requests.log') : argv['request-log'];
  const children: ChildProcess[] = [];
  try {
    const trent = await startChild(
      'Trent',
      [path.join(repoRoot, 'bin/trent.js'), 'serve', '--port', '0', '--data-dir', dataDir, '--request-log', requestLog, ...(argv.auth === 'dev' ? ['--dev'] : [])],
      /Trent listening on (\S+)/,
      'stderr',
    );
    children.push(trent.child);
    const bare = await startChild('bare server', [path.join(here, 'bare-server.js')], /listening on (\S+)/, 'stdout');
    children.push(bare.child);
    const credentials: Credentials =
      argv.auth === 'dev' ? { accessKeyId: 'AKIABENCHMARK', secretAccessKey: 'bench-secret' } : readCredentials(path.join(dataDir, 'credentials'));

    const keyId: string = (await call(trent.url, 'CreateKey', { Description: 'benchmark' }, credentials)).KeyMetadata.KeyId;
    const plaintext = Buffer.from('a 64-byte secret such as a database password or an API token....').toString('base64');
    const context = { service: 'bench', tenant: 'acme' };
    const createKey = async (KeySpec: string, KeyUsage: string): Promise<string> =>
      (await call(trent.url, 'CreateKey', { KeySpec, KeyUsage, Description: 'benchmark' }, credentials)).KeyMetadata.KeyId;
    const message = Buffer.from('a 64-byte message such as a token to sign or a document digest...').toString('base64');
    const signing = async (spec: string, SigningAlgorithm: string) => {
      const KeyId = await createKey(spec, 'SIGN_VERIFY');
      const sign = { KeyId, Message: message, MessageType: 'RAW', SigningAlgorithm };
      const { Signature } = await call(trent.url, 'Sign', sign, credentials);
      return { sign, verify: { ...sign, Signature } };
    };
    const bodies = {} as Record<Op, { op: string; body: object }>;
    const wanted = (prefix: string) => ops.some((o) => o.endsWith(`/${prefix}`));
    const rsa = wanted('RSA_2048') && ops.some((o) => o.includes('Sign') || o.includes('Verify')) ? await signing('RSA_2048', 'RSASSA_PSS_SHA_256') : undefined;
    const p256 = wanted('ECC_NIST_P256') ? await signing('ECC_NIST_P256', 'ECDSA_SHA_256') : undefined;
    const ed = wanted('Ed25519') ? await signing('ECC_NIST_EDWARDS25519', 'ED25519_SHA_512') : undefined;
    const hmacKey = wanted('HMAC_256') ? await createKey('HMAC_256', 'GENERATE_VERIFY_MAC') : undefined;
    Object.assign(bodies, {
      Encrypt: { op: 'Encrypt', body: { KeyId: keyId, Plaintext: plaintext, EncryptionContext: context } },
      Decrypt: {
        op: 'Decrypt',
        body: { CiphertextBlob: (await call(trent.url, 'Encrypt', { KeyId: keyId, Plaintext: plaintext, EncryptionContext: context }, credentials)).CiphertextBlob, EncryptionContext: context },
      },
      GenerateDataKey: { op: 'GenerateDataKey', body: { KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context } },
      'Sign/RSA_2048': { op: 'Sign', body: rsa?.sign },
      'Verify/RSA_2048': { op: 'Verify', body: rsa?.verify },
      'Sign/ECC_NIST_P256': { op: 'Sign', body: p256?.sign },
      'Verify/ECC_NIST_P256': { op: 'Verify', body: p256?.verify },
      'Sign/Ed25519': { op: 'Sign', body: ed?.sign },
      'Verify/Ed25519': { op: 'Verify', body: ed?.verify },
      'GenerateMac/HMAC_256': { op: 'GenerateMac', body: { KeyId: hmacKey, Message: message, MacAlgorithm: 'HMAC_SHA_256' } },
      'GenerateDataKeyPair/RSA_2048': { op: 'GenerateDataKeyPair', body: { KeyId: keyId, KeyPairSpec: 'RSA_2048', EncryptionContext: context } },
      'GenerateDataKeyPair/ECC_NIST_P256': { op: 'GenerateDataKeyPair', body: { KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: context } },
    } satisfies Record<Op, { op: string; body: object | undefined }>);
    const check = await call(trent.url, 'Decrypt', bodies.Decrypt.body, credentials);
    if (check.Plaintext !== plaintext) throw new Error('Decrypt did not return the plaintext');
    for (const op of ops) await call(trent.url, bodies[op].op, bodies[op].body, credentials); // each case works once before it is measured

    console.log(`Trent ${trent.url} (${argv.auth === 'dev' ? '--dev' : 'SigV4 with its administrator credentials'}, request log: ${argv['request-log']}), bare server ${bare.url}`);
    console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`autocannon: ${connections} connections, ${duration} s per case after a ${warmup} s warm-up; each request signed once (SigV4) and replayed\n`);

    const rows: Row[] = [];
    for (const op of ops) {
      for (const [target, url] of [['bare', bare.url], ['trent', trent.url]] as const) {
        const req = signed(url, bodies[op].op, bodies[op].body, credentials); // fresh X-Amz-Date per case: well inside the 5-minute skew window
        if (warmup > 0) await load(url, req, warmup, `${op} ${target} warm-up`);
        const m = await load(url, req, duration, `${op} ${target}`);
        rows.push({ op, target, m });
        console.log(`  ${op.padEnd(34)} ${target.padEnd(5)} ${m.rps.toFixed(0).padStart(7)} req/s  latency mean ${ms(m.mean)}, p50 ${ms(m.p50)}, p99 ${ms(m.p99)} ms`);
      }
    }

    const lat = (m: Measured) => `${ms(m.p50)} / ${ms(m.p99)}`;
    const table = ['', '| Operation | Bare req/s | Trent req/s | Trent / bare | Bare p50 / p99 (ms) | Trent p50 / p99 (ms) |', '| --- | ---: | ---: | ---: | ---: | ---: |'];
    for (const op of ops) {
      const b = rows.find((r) => r.op === op && r.target === 'bare')!.m;
      const t = rows.find((r) => r.op === op && r.target === 'trent')!.m;
      const ratio = t.rps / b.rps;
      table.push(
        `| ${op} | ${b.rps.toFixed(0)} | ${t.rps.toFixed(0)} | ${(ratio * 100).toFixed(0)}% | ${lat(b)} | ${lat(t)} |`,
      );
    }
    console.log(table.join('\n'));
    const enc = rows.filter((r) => r.op === 'Encrypt');
    if (enc.length === 2) {
      const ratio = enc[1]!.m.rps / enc[0]!.m.rps;
      console.log(`\nEncrypt at ${(ratio * 100).toFixed(0)}% of the bare server's requests/s (target: at least 50%): ${ratio >= 0.5 ? 'met' : 'NOT met'}`);
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
