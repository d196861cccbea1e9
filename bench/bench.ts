// `npm run bench`: Trent against a bare node:http server, same load generator (autocannon), same SigV4-signed
// requests, for Encrypt, Decrypt, GenerateDataKey and Encrypt under a 10-statement key policy (the default cases), and on request for Sign/Verify with
// RSA_2048, ECC_NIST_P256 and Ed25519 keys, GenerateMac and GenerateDataKeyPair (RSA_2048, ECC_NIST_P256). Prints
// requests/s, p50/p99 latency and Trent's share of the bare server's requests/s. Then the stores: Encrypt and CreateKey on SQLite (one node), on PostgreSQL (one node),
// and on two nodes sharing one PostgreSQL database (the load spread over both), and through an HSM key store (a
// SoftHSM2 token: the key in the token, AES-GCM done by it; SQLite store), and through an external key store (a
// `trent xks-proxy` over HTTPS on the same machine, its key in a SoftHSM2 token: double encryption, Encrypt only since
// each KMS key needs its own external key), with ratios to SQLite's default key store. PostgreSQL is
// a throwaway cluster of the bench's own (initdb/pg_ctl on this machine, PostgreSQL's durable defaults, as SQLite's
// synchronous=FULL). Writes nothing to the repo: data dirs, request logs and the cluster go to temp dirs.
//
//   npm run bench -- [--duration 10] [--connections 16] [--ops Encrypt,Decrypt,GenerateDataKey | asymmetric | all]
//                    [--stores sqlite,postgres,two-node,hsm,xks] [--store-ops Encrypt,CreateKey]
//                    [--auth dev|credentials] [--request-log file|off|stdout]
//
// --stores '' (empty) skips the store comparison; --ops '' skips the bare-server comparison.
//
// --auth dev (default) starts Trent with --dev and signs with a made-up access key; --auth credentials starts it
// without --dev and signs with the administrator credentials Trent writes to <data-dir>/credentials on first start.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { postgresSkipReason, startPostgresCluster } from '../test/helpers/postgres.js';
import { softHsm, softhsmSkip } from '../test/helpers/softhsm.js';
import { makeTestCa, opensslSkip } from '../test/helpers/test-ca.js';
import { startXksProxy } from '../test/helpers/xks-proxy.js';
import { signRequest, type Credentials } from './sigv4.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const repoRoot = path.resolve(here, '../..');
const REGION = 'us-east-1';
const SYMMETRIC_OPS = ['Encrypt', 'Decrypt', 'GenerateDataKey', 'Encrypt/Policy10'] as const;
const ASYMMETRIC_OPS = [
  'Sign/RSA_2048', 'Verify/RSA_2048', 'Sign/ECC_NIST_P256', 'Verify/ECC_NIST_P256', 'Sign/Ed25519', 'Verify/Ed25519',
  'GenerateMac/HMAC_256', 'GenerateDataKeyPair/RSA_2048', 'GenerateDataKeyPair/ECC_NIST_P256',
] as const;
const OPS = [...SYMMETRIC_OPS, ...ASYMMETRIC_OPS] as const;
/** A benchmark case: the operation, then (after a slash) the key or key pair spec it uses. */
type Op = (typeof OPS)[number];
const STORE_OPS = ['Encrypt', 'CreateKey'] as const;
type StoreOp = (typeof STORE_OPS)[number];
const STORES = ['sqlite', 'postgres', 'two-node', 'hsm', 'xks'] as const;
type Store = (typeof STORES)[number];
const PRESETS: Record<string, readonly Op[]> = { all: OPS, asymmetric: ASYMMETRIC_OPS, symmetric: SYMMETRIC_OPS };
const STORE_LABEL: Record<Store, string> = { sqlite: 'SQLite, 1 node', postgres: 'PostgreSQL, 1 node', 'two-node': 'PostgreSQL, 2 nodes', hsm: 'HSM key store (SoftHSM2), SQLite', xks: 'External key store (trent xks-proxy on SoftHSM2), SQLite' };

const { values: argv } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '2' },
    ops: { type: 'string', default: SYMMETRIC_OPS.join(',') },
    stores: { type: 'string', default: STORES.join(',') },
    'store-ops': { type: 'string', default: STORE_OPS.join(',') },
    auth: { type: 'string', default: 'dev' },
    'request-log': { type: 'string', default: 'file' },
  },
  strict: true,
});
const duration = Number(argv.duration);
const connections = Number(argv.connections);
const warmup = Number(argv.warmup);
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const ops = list(argv.ops).flatMap((s) => PRESETS[s] ?? [s]) as Op[];
for (const op of ops) if (!OPS.includes(op)) throw new Error(`--ops: unknown operation ${op} (one of ${OPS.join(', ')})`);
const stores = list(argv.stores) as Store[];
for (const s of stores) if (!STORES.includes(s)) throw new Error(`--stores: unknown store ${s} (one of ${STORES.join(', ')})`);
const storeOps = list(argv['store-ops']) as StoreOp[];
for (const op of storeOps) if (!STORE_OPS.includes(op)) throw new Error(`--store-ops: unknown operation ${op} (one of ${STORE_OPS.join(', ')})`);
if (argv.auth !== 'dev' && argv.auth !== 'credentials') throw new Error('--auth must be dev or credentials');
if (!['file', 'off', 'stdout'].includes(argv['request-log'])) throw new Error('--request-log must be file, off or stdout');

/** Starts a child process and resolves with the first match of `ready` in its output. */
function startChild(name: string, args: string[], ready: RegExp, stream: 'stdout' | 'stderr', env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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

/** User + system CPU seconds of a process so far (Linux /proc; clock ticks of 1/100 s), or NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime
  } catch {
    return NaN;
  }
}

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

type Signed = { headers: Record<string, string>; body: string };

function load(url: string, req: Signed, seconds: number, title: string): Promise<Measured> {
  return loadSpread([{ url, req }], seconds, title);
}

/**
 * One load generator spread over several servers: the connections are split evenly, one autocannon instance per
 * server, all in this process and run at once; requests/s and latencies are over every response.
 */
async function loadSpread(targets: readonly { url: string; req: Signed }[], seconds: number, title: string): Promise<Measured> {
  let times = new Float64Array(1 << 20);
  let n = 0;
  const results = await Promise.all(targets.map(({ url, req }, i) => {
    const share = Math.floor(connections / targets.length) + (i < connections % targets.length ? 1 : 0);
    const instance = autocannon({ url, method: 'POST', headers: req.headers, body: req.body, connections: share, duration: seconds, title, timeout: 10 });
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status < 200 || status > 299) return;
      if (n === times.length) {
        const bigger = new Float64Array(times.length * 2);
        bigger.set(times);
        times = bigger;
      }
      times[n++] = ms;
    });
    return instance;
  }));
  for (const result of results) {
    if (result.errors || result.timeouts || result.non2xx) {
      throw new Error(`${title}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses ${JSON.stringify(result.statusCodeStats)}`);
    }
  }
  const sorted = times.subarray(0, n).sort();
  const pct = (p: number) => sorted[Math.min(n - 1, Math.floor((p / 100) * n))] ?? NaN;
  let sum = 0;
  for (const t of sorted) sum += t;
  const elapsed = Math.max(...results.map((r) => r.duration));
  return { result: results[0]!, rps: n / elapsed, p50: pct(50), p99: pct(99), mean: sum / n };
}

const PLAINTEXT = Buffer.from('a 64-byte secret such as a database password or an API token....').toString('base64');
const CONTEXT = { service: 'bench', tenant: 'acme' };
/** Trent's default account: the benchmark's caller (dev mode, or the administrator credentials) is its root. */
const BENCH_ACCOUNT = '111122223333';
const PASSPHRASE = 'the benchmark nodes share this root key passphrase';

interface Trent {
  readonly child: ChildProcess;
  readonly url: string;
}

/** A request of a benchmark case: the operation to call and its body. */
interface Case {
  readonly op: string;
  readonly body: object;
}

/**
 * A realistic 10-statement key policy (the shapes of the KMS Developer Guide's examples: the default statement, key
 * administrators, key users, grants for AWS resources, an external account, access through a service, an auditor,
 * and three denies with conditions). The benchmark's caller (the account root) is allowed by the first statement;
 * every statement is still walked, and the conditions of those that name the caller are evaluated.
 */
function tenStatementPolicy(account: string): string {
  const role = (name: string) => `arn:aws:iam::${account}:role/${name}`;
  const use = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'];
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'bench-policy-10',
    Statement: [
      { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'Allow access for Key Administrators', Effect: 'Allow', Principal: { AWS: role('KeyAdmin') },
        Action: ['kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion'],
        Resource: '*',
      },
      { Sid: 'Allow use of the key', Effect: 'Allow', Principal: { AWS: [role('App'), role('Batch')] }, Action: use, Resource: '*' },
      {
        Sid: 'Allow attachment of persistent resources', Effect: 'Allow', Principal: { AWS: role('App') }, Action: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'],
        Resource: '*', Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      },
      {
        Sid: 'Allow an external account for one tenant', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: ['kms:Encrypt', 'kms:Decrypt'],
        Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } },
      },
      {
        Sid: 'Allow access through S3', Effect: 'Allow', Principal: { AWS: '*' }, Action: use, Resource: '*',
        Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com', 'kms:CallerAccount': account } },
      },
      { Sid: 'Allow auditors to read', Effect: 'Allow', Principal: { AWS: role('Auditor') }, Action: ['kms:Describe*', 'kms:Get*', 'kms:List*'], Resource: '*' },
      {
        Sid: 'Deny use without a tenant', Effect: 'Deny', Principal: '*', Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*',
        Condition: { Null: { 'kms:EncryptionContext:tenant': 'true' } },
      },
      {
        Sid: 'Deny deletion except by administrators', Effect: 'Deny', Principal: '*', Action: 'kms:ScheduleKeyDeletion', Resource: '*',
        Condition: { StringNotLike: { 'aws:PrincipalArn': [role('KeyAdmin'), `arn:aws:iam::${account}:root`] } },
      },
      {
        Sid: 'Deny from outside the network', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*',
        Condition: { NotIpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '10.0.0.0/8', '::1/128'] } },
      },
    ],
  });
}

const MESSAGE = Buffer.from('a 64-byte message such as a token to sign or a document digest...').toString('base64');

/**
 * The requests of a Trent deployment: keys made through `url` (any of its nodes); asymmetric keys only for the
 * cases `wanted` asks for (RSA key generation costs seconds).
 */
async function bodiesFor(url: string, credentials: Credentials, wanted: readonly Op[] = []): Promise<Record<Op | StoreOp, Case>> {
  const keyId: string = (await call(url, 'CreateKey', { Description: 'benchmark' }, credentials)).KeyMetadata.KeyId;
  const createKey = async (KeySpec: string, KeyUsage: string): Promise<string> =>
    (await call(url, 'CreateKey', { KeySpec, KeyUsage, Description: 'benchmark' }, credentials)).KeyMetadata.KeyId;
  const wants = (suffix: string, ...opNames: string[]) => wanted.some((o) => o.endsWith(`/${suffix}`) && opNames.some((n) => o.startsWith(n)));
  const signing = async (spec: string, SigningAlgorithm: string) => {
    const KeyId = await createKey(spec, 'SIGN_VERIFY');
    const sign = { KeyId, Message: MESSAGE, MessageType: 'RAW', SigningAlgorithm };
    const { Signature } = await call(url, 'Sign', sign, credentials);
    return { sign, verify: { ...sign, Signature } };
  };
  const rsa = wants('RSA_2048', 'Sign', 'Verify') ? await signing('RSA_2048', 'RSASSA_PSS_SHA_256') : undefined;
  const p256 = wants('ECC_NIST_P256', 'Sign', 'Verify') ? await signing('ECC_NIST_P256', 'ECDSA_SHA_256') : undefined;
  const ed = wants('Ed25519', 'Sign', 'Verify') ? await signing('ECC_NIST_EDWARDS25519', 'ED25519_SHA_512') : undefined;
  const hmacKey = wants('HMAC_256', 'GenerateMac') ? await createKey('HMAC_256', 'GENERATE_VERIFY_MAC') : undefined;
  const policyKeyId: string | undefined = wanted.includes('Encrypt/Policy10')
    ? (await call(url, 'CreateKey', { Description: 'benchmark: 10-statement policy', Policy: tenStatementPolicy(BENCH_ACCOUNT) }, credentials)).KeyMetadata.KeyId
    : undefined;
  const encrypt = { KeyId: keyId, Plaintext: PLAINTEXT, EncryptionContext: CONTEXT };
  const bodies: Record<Op | StoreOp, Case> = {
    Encrypt: { op: 'Encrypt', body: encrypt },
    'Encrypt/Policy10': { op: 'Encrypt', body: { ...encrypt, KeyId: policyKeyId } },
    Decrypt: { op: 'Decrypt', body: { CiphertextBlob: (await call(url, 'Encrypt', encrypt, credentials)).CiphertextBlob, EncryptionContext: CONTEXT } },
    GenerateDataKey: { op: 'GenerateDataKey', body: { KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT } },
    CreateKey: { op: 'CreateKey', body: { Description: 'benchmark key' } },
    'Sign/RSA_2048': { op: 'Sign', body: rsa?.sign ?? {} },
    'Verify/RSA_2048': { op: 'Verify', body: rsa?.verify ?? {} },
    'Sign/ECC_NIST_P256': { op: 'Sign', body: p256?.sign ?? {} },
    'Verify/ECC_NIST_P256': { op: 'Verify', body: p256?.verify ?? {} },
    'Sign/Ed25519': { op: 'Sign', body: ed?.sign ?? {} },
    'Verify/Ed25519': { op: 'Verify', body: ed?.verify ?? {} },
    'GenerateMac/HMAC_256': { op: 'GenerateMac', body: { KeyId: hmacKey, Message: MESSAGE, MacAlgorithm: 'HMAC_SHA_256' } },
    'GenerateDataKeyPair/RSA_2048': { op: 'GenerateDataKeyPair', body: { KeyId: keyId, KeyPairSpec: 'RSA_2048', EncryptionContext: CONTEXT } },
    'GenerateDataKeyPair/ECC_NIST_P256': { op: 'GenerateDataKeyPair', body: { KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: CONTEXT } },
  };
  const check = await call(url, 'Decrypt', bodies.Decrypt.body, credentials);
  if (check.Plaintext !== PLAINTEXT) throw new Error('Decrypt did not return the plaintext');
  for (const op of wanted) await call(url, bodies[op].op, bodies[op].body, credentials); // each case works once before it is measured
  return bodies;
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'trent-bench-'));
  const children: ChildProcess[] = [];
  let nodeCount = 0;
  /** Starts a Trent node (own data dir and request log) on the given store. */
  const startTrent = async (store?: string, env: NodeJS.ProcessEnv = {}): Promise<Trent> => {
    const n = nodeCount++;
    const dataDir = path.join(scratch, `data-${n}`);
    const requestLog = argv['request-log'] === 'file' ? path.join(scratch, `requests-${n}.log`) : argv['request-log'];
    const trent = await startChild(
      'Trent',
      [
        path.join(repoRoot, 'bin/trent.js'), 'serve', '--port', '0', '--data-dir', dataDir, '--request-log', requestLog,
        ...(argv.auth === 'dev' ? ['--dev'] : []), ...(store ? ['--store', store] : []),
      ],
      /Trent listening on (\S+)/,
      'stderr',
      // PostgreSQL nodes of one deployment must share the root key: a passphrase is the simplest way here.
      { ...(store ? { TRENT_ROOT_KEY_PASSPHRASE: PASSPHRASE } : {}), ...env },
    );
    children.push(trent.child);
    return trent;
  };
  const stopTrent = async (t: Trent) => {
    t.child.kill('SIGTERM');
    if (t.child.exitCode === null) await new Promise((r) => t.child.once('exit', r));
  };
  const credentialsOf = (n: number): Credentials =>
    argv.auth === 'dev' ? { accessKeyId: 'AKIABENCHMARK', secretAccessKey: 'bench-secret' } : readCredentials(path.join(scratch, `data-${n}`, 'credentials'));

  try {
    const trent = await startTrent();
    const bare = await startChild('bare server', [path.join(here, 'bare-server.js')], /listening on (\S+)/, 'stdout');
    children.push(bare.child);
    const credentials = credentialsOf(0);
    const bodies = await bodiesFor(trent.url, credentials, ops);

    console.log(`Trent ${trent.url} (${argv.auth === 'dev' ? '--dev' : 'SigV4 with its administrator credentials'}, request log: ${argv['request-log']}), bare server ${bare.url}`);
    console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`autocannon: ${connections} connections, ${duration} s per case after a ${warmup} s warm-up; each request signed once (SigV4) and replayed\n`);

    const rows: Row[] = [];
    // The reference for Encrypt: the bare server doing Encrypt's cryptography (bench/bare-server.ts --crypto), measured
    // right after the bare server, in its own process, which is stopped before Trent's case.
    let floor: Measured | undefined;
    for (const op of ops) {
      for (const [target, url] of [['bare', bare.url], ['trent', trent.url]] as const) {
        const req = signed(url, bodies[op].op, bodies[op].body, credentials); // fresh X-Amz-Date per case: well inside the 5-minute skew window
        if (warmup > 0) await load(url, req, warmup, `${op} ${target} warm-up`);
        const m = await load(url, req, duration, `${op} ${target}`);
        rows.push({ op, target, m });
        console.log(`  ${op.padEnd(34)} ${target.padEnd(5)} ${m.rps.toFixed(0).padStart(7)} req/s  latency mean ${ms(m.mean)}, p50 ${ms(m.p50)}, p99 ${ms(m.p99)} ms`);
        if (op === 'Encrypt' && target === 'bare') {
          const ref = await startChild('bare server with cryptography', [path.join(here, 'bare-server.js'), '--crypto'], /listening on (\S+)/, 'stdout');
          children.push(ref.child);
          const refReq = signed(ref.url, bodies[op].op, bodies[op].body, credentials);
          if (warmup > 0) await load(ref.url, refReq, warmup, 'Encrypt reference warm-up');
          floor = await load(ref.url, refReq, duration, 'Encrypt reference');
          ref.child.kill('SIGTERM');
          console.log(`  ${op.padEnd(34)} ${'ref'.padEnd(5)} ${floor.rps.toFixed(0).padStart(7)} req/s  latency mean ${ms(floor.mean)}, p50 ${ms(floor.p50)}, p99 ${ms(floor.p99)} ms  (bare server doing the cryptography)`);
        }
      }
    }

    const lat = (m: Measured) => `${ms(m.p50)} / ${ms(m.p99)}`;
    if (ops.length > 0) {
      const table = ['', '| Operation | Bare req/s | Trent req/s | Trent / bare | Bare p50 / p99 (ms) | Trent p50 / p99 (ms) |', '| --- | ---: | ---: | ---: | ---: | ---: |'];
      for (const op of ops) {
        const b = rows.find((r) => r.op === op && r.target === 'bare')!.m;
        const t = rows.find((r) => r.op === op && r.target === 'trent')!.m;
        const ratio = t.rps / b.rps;
        table.push(`| ${op} | ${b.rps.toFixed(0)} | ${t.rps.toFixed(0)} | ${(ratio * 100).toFixed(0)}% | ${lat(b)} | ${lat(t)} |`);
      }
      console.log(table.join('\n'));
      const enc = rows.filter((r) => r.op === 'Encrypt');
      if (enc.length === 2) {
        const ratio = enc[1]!.m.rps / enc[0]!.m.rps;
        console.log(`\nEncrypt at ${(ratio * 100).toFixed(0)}% of the bare server's requests/s (target: at least 50%): ${ratio >= 0.5 ? 'met' : 'NOT met'}`);
        if (floor) {
          console.log(
            `Reference: the bare server doing Encrypt's cryptography only (JSON, AES-256-GCM, base64; no authentication, validation, ` +
              `key lookup, authorization or audit) at ${((floor.rps / enc[0]!.m.rps) * 100).toFixed(0)}% of the bare server; Trent at ` +
              `${((enc[1]!.m.rps / floor.rps) * 100).toFixed(0)}% of that reference`,
          );
        }
      }
      const withPolicy = rows.find((r) => r.op === 'Encrypt/Policy10' && r.target === 'trent');
      if (enc.length === 2 && withPolicy) {
        console.log(`Encrypt with a 10-statement key policy at ${((withPolicy.m.rps / enc[1]!.m.rps) * 100).toFixed(0)}% of Encrypt with the default key policy`);
      }
    }
    bare.child.kill('SIGTERM'); // not needed below: leave its share of the CPU to the stores

    // The stores. Each deployment is measured alone (the others idle or stopped), Encrypt then CreateKey.
    if (stores.length === 0 || storeOps.length === 0) return;
    const storeRows: { store: Store; op: StoreOp; m: Measured; cpuUs: number }[] = [];
    const measure = async (store: Store, nodes: readonly Trent[], nodeBodies: Record<string, Case>, creds: Credentials) => {
      for (const op of storeOps) {
        if (!nodeBodies[op]) {
          console.log(`  ${op.padEnd(10)} ${STORE_LABEL[store].padEnd(20)} (not measured: no replayable request)`);
          continue;
        }
        const targets = () => nodes.map((t) => ({ url: t.url, req: signed(t.url, nodeBodies[op]!.op, nodeBodies[op]!.body, creds) }));
        if (warmup > 0) await loadSpread(targets(), warmup, `${op} ${store} warm-up`);
        // Trent's own CPU time per request (every node's): robust to other load on the machine, unlike requests/s.
        const cpu = () => nodes.reduce((sum, t) => sum + cpuSeconds(t.child.pid), 0);
        const cpuBefore = cpu();
        const m = await loadSpread(targets(), duration, `${op} ${store}`);
        const cpuUs = ((cpu() - cpuBefore) / (m.rps * m.result.duration)) * 1e6;
        storeRows.push({ store, op, m, cpuUs });
        console.log(`  ${op.padEnd(10)} ${STORE_LABEL[store].padEnd(20)} ${m.rps.toFixed(0).padStart(7)} req/s  latency mean ${ms(m.mean)}, p50 ${ms(m.p50)}, p99 ${ms(m.p99)} ms, Trent CPU ${cpuUs.toFixed(0)} µs/request`);
      }
    };
    console.log(`\nStores: ${storeOps.join(', ')}; ${connections} connections (spread evenly over the nodes of a deployment)`);
    if (stores.includes('sqlite')) await measure('sqlite', [trent], bodies, credentials);
    await stopTrent(trent);
    if (stores.includes('hsm')) {
      if (softhsmSkip) {
        console.log(`  (HSM key store rows skipped: ${softhsmSkip})`);
      } else {
        // A fresh SoftHSM2 token, a custom key store on it, and a key made in the token: Encrypt is AES-GCM in the
        // token; CreateKey generates a key object in it.
        const hsm = softHsm();
        const token = hsm.initToken();
        const clusterId = 'cluster-benchsofthsm';
        const node = await startTrent(undefined, { SOFTHSM2_CONF: hsm.conf, TRENT_HSM_CLUSTERS: JSON.stringify([{ clusterId, modulePath: hsm.module, tokenLabel: token.label }]) });
        const creds = credentialsOf(nodeCount - 1);
        const cert = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-days', '1', '-subj', '/CN=bench-hsm'], { encoding: 'utf8' });
        if (cert.status !== 0) throw new Error(`openssl (trust anchor for the HSM rows): ${cert.stderr}`);
        const { CustomKeyStoreId } = await call(node.url, 'CreateCustomKeyStore', { CustomKeyStoreName: 'bench', CloudHsmClusterId: clusterId, TrustAnchorCertificate: cert.stdout, KeyStorePassword: token.pin }, creds);
        await call(node.url, 'ConnectCustomKeyStore', { CustomKeyStoreId }, creds);
        const hsmKey = await call(node.url, 'CreateKey', { Origin: 'AWS_CLOUDHSM', CustomKeyStoreId, Description: 'benchmark' }, creds);
        const hsmBodies: Record<string, Case> = {
          Encrypt: { op: 'Encrypt', body: { KeyId: hsmKey.KeyMetadata.KeyId, Plaintext: PLAINTEXT, EncryptionContext: CONTEXT } },
          CreateKey: { op: 'CreateKey', body: { Origin: 'AWS_CLOUDHSM', CustomKeyStoreId, Description: 'benchmark key' } },
        };
        await call(node.url, 'Encrypt', hsmBodies.Encrypt!.body, creds);
        await measure('hsm', [node], hsmBodies, creds);
        await stopTrent(node);
      }
    }
    if (stores.includes('xks')) {
      const skip = softhsmSkip ?? opensslSkip;
      if (skip) {
        console.log(`  (external key store rows skipped: ${skip})`);
      } else {
        // A trent xks-proxy (HTTPS with a throwaway CA) whose key lives in a fresh SoftHSM2 token, an external key
        // store on it, and a KMS key backed by that external key: Encrypt is Trent's AES-GCM, then the proxy's.
        const hsm = softHsm();
        const token = hsm.initToken();
        const ca = makeTestCa('Trent bench XKS CA');
        const cert = ca.server();
        const secret = randomBytes(32).toString('base64');
        const accessKeyId = 'TRENTBENCHXKSKEYAAAA';
        const uriPath = '/bench/kms/xks/v1';
        const xksEnv = { SOFTHSM2_CONF: hsm.conf, XKS_BENCH_PIN: token.pin };
        const configFile = path.join(scratch, 'xks.json');
        writeFileSync(configFile, JSON.stringify({
          host: '127.0.0.1', port: 0, tls: { cert: cert.cert, key: cert.key }, region: REGION, requestLog: 'off',
          pkcs11: { module: hsm.module, tokenLabel: token.label, pinEnv: 'XKS_BENCH_PIN' },
          keystores: [{ uriPath, credentials: [{ accessKeyId, secretAccessKey: secret }], keys: ['bench'] }],
        }));
        const made = spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'xks-proxy', 'create-key', '--config', configFile, '--key-id', 'bench'], { env: { ...process.env, ...xksEnv }, encoding: 'utf8' });
        if (made.status !== 0) throw new Error(`trent xks-proxy create-key: ${made.stderr}`);
        const proxy = await startXksProxy(configFile, xksEnv);
        children.push(proxy.process);
        try {
          const node = await startTrent(undefined, {
            TRENT_XKS_PROXY_TRUSTED_CA_FILE: ca.caCert, TRENT_XKS_PROXY_PORT: new URL(proxy.url).port,
          });
          const creds = credentialsOf(nodeCount - 1);
          const { CustomKeyStoreId } = await call(node.url, 'CreateCustomKeyStore', {
            CustomKeyStoreName: 'bench-xks', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', XksProxyUriEndpoint: 'https://127.0.0.1', XksProxyUriPath: uriPath,
            XksProxyAuthenticationCredential: { AccessKeyId: accessKeyId, RawSecretAccessKey: secret }, XksProxyConnectivity: 'PUBLIC_ENDPOINT',
          }, creds);
          await call(node.url, 'ConnectCustomKeyStore', { CustomKeyStoreId }, creds);
          for (let i = 0; ; i++) {
            const s = await call(node.url, 'DescribeCustomKeyStores', { CustomKeyStoreId }, creds);
            if (s.CustomKeyStores[0].ConnectionState === 'CONNECTED') break;
            if (i > 100) throw new Error(`the external key store did not connect: ${JSON.stringify(s)}`);
            await new Promise((r) => setTimeout(r, 50));
          }
          const xksKey = await call(node.url, 'CreateKey', { Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId, XksKeyId: 'bench', Description: 'benchmark' }, creds);
          const xksBodies: Record<string, Case> = { Encrypt: { op: 'Encrypt', body: { KeyId: xksKey.KeyMetadata.KeyId, Plaintext: PLAINTEXT, EncryptionContext: CONTEXT } } };
          await call(node.url, 'Encrypt', xksBodies.Encrypt!.body, creds);
          await measure('xks', [node], xksBodies, creds);
          await stopTrent(node);
        } finally {
          await proxy.stop();
          ca.remove();
        }
      }
    }
    const pgStores = stores.filter((s) => s !== 'sqlite' && s !== 'hsm' && s !== 'xks');
    if (pgStores.length > 0) {
      const skip = postgresSkipReason();
      if (skip) throw new Error(`PostgreSQL rows: ${skip}`);
      const cluster = await startPostgresCluster({ durable: true });
      for (const store of pgStores) {
        const url = await cluster.createDatabase();
        const first = await startTrent(url); // migrates first, alone
        const nodes = store === 'two-node' ? [first, await startTrent(url)] : [first];
        // In --auth credentials mode the first node's administrator credentials (in the shared database) serve both.
        const creds = credentialsOf(nodeCount - nodes.length);
        const nodeBodies = await bodiesFor(first.url, creds);
        for (const n of nodes.slice(1)) await call(n.url, 'Encrypt', nodeBodies.Encrypt.body, creds); // the key is usable on every node
        await measure(store, nodes, nodeBodies, creds);
        for (const n of nodes) await stopTrent(n);
      }
    }

    const table = [
      '',
      '| Store | Operation | Trent req/s | Ratio to SQLite | p50 / p99 (ms) | Trent CPU µs / request |',
      '| --- | --- | ---: | ---: | ---: | ---: |',
    ];
    for (const op of storeOps) {
      const base = storeRows.find((r) => r.store === 'sqlite' && r.op === op)?.m;
      for (const r of storeRows.filter((x) => x.op === op)) {
        table.push(`| ${STORE_LABEL[r.store]} | ${op} | ${r.m.rps.toFixed(0)} | ${base ? `${((r.m.rps / base.rps) * 100).toFixed(0)}%` : 'n/a'} | ${lat(r.m)} | ${r.cpuUs.toFixed(0)} |`);
      }
    }
    console.log(table.join('\n'));
    const encSqlite = storeRows.find((r) => r.store === 'sqlite' && r.op === 'Encrypt');
    const encPg = storeRows.find((r) => r.store === 'postgres' && r.op === 'Encrypt');
    if (encSqlite && encPg) {
      const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
      console.log(
        `\nHot path (Encrypt), PostgreSQL vs SQLite, one node: ${pct((encPg.m.rps / encSqlite.m.rps - 1) * 100)} requests/s, ` +
          `${pct((encPg.cpuUs / encSqlite.cpuUs - 1) * 100)} Trent CPU per request (must not be slower by more than a few percent)`,
      );
    }
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  // The PostgreSQL cluster (if any) is stopped and removed by the 'exit' handler of test/helpers/postgres.
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
