// `npm run build && node dist/bench/overload.js`: the overload of issue #12 item 5. Many connections (default 256)
// send Encrypt as fast as they can for a while (default 30 s) against one Trent node (dev mode, SQLite, request log
// to a file); prints requests/s, p50/p99/max latency of every answer and the share of ThrottlingException (counted
// from the request log). Extra arguments after `--` go to `trent serve` (e.g. -- --max-in-flight 0 to turn the bound
// off, or --request-quotas aws).
//
//   node dist/bench/overload.js [--duration 30] [--connections 256] [-- <trent serve flags>]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { signRequest, type Credentials } from './sigv4.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const repoRoot = path.resolve(here, '../..');
const { values: argv, positionals } = parseArgs({
  options: { duration: { type: 'string', default: '30' }, connections: { type: 'string', default: '256' } },
  allowPositionals: true,
  strict: true,
});
const credentials: Credentials = { accessKeyId: 'AKIABENCHMARK', secretAccessKey: 'bench-secret' };

function signed(url: string, op: string, body: object) {
  const text = JSON.stringify(body);
  const headers = signRequest({
    method: 'POST', url: new URL('/', url), body: text, region: 'us-east-1', service: 'kms', credentials,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
  });
  delete headers.host;
  return { headers, body: text };
}

async function call(url: string, op: string, body: object): Promise<any> {
  const req = signed(url, op, body);
  const res = await fetch(new URL('/', url), { method: 'POST', headers: req.headers, body: req.body });
  const out = (await res.json()) as any;
  if (!res.ok) throw new Error(`${op}: HTTP ${res.status} ${JSON.stringify(out)}`);
  return out;
}

/** User + system CPU seconds of a process so far (Linux /proc, clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'trent-overload-'));
  const log = path.join(scratch, 'requests.log');
  let child: ChildProcess | undefined;
  try {
    child = spawn(process.execPath, [...(process.env.TRENT_NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(repoRoot, 'bin/trent.js'), 'serve', '--dev', '--port', '0', '--data-dir', path.join(scratch, 'data'), '--request-log', log, ...positionals], { stdio: ['ignore', 'ignore', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      child!.stderr!.on('data', (d: Buffer) => {
        seen += d.toString();
        const m = /Trent listening on (\S+)/.exec(seen);
        if (m) resolve(m[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`trent exited with ${code}: ${seen}`)));
    });
    const keyId: string = (await call(url, 'CreateKey', { Description: 'overload' })).KeyMetadata.KeyId;
    const body = { KeyId: keyId, Plaintext: Buffer.from('a 64-byte secret such as a database password or an API token....').toString('base64'), EncryptionContext: { service: 'bench' } };
    await call(url, 'Encrypt', body);
    const req = signed(url, 'Encrypt', body);
    const connections = Number(argv.connections);
    const seconds = Number(argv.duration);
    let times = new Float64Array(1 << 22);
    let n = 0;
    let steadyMax = 0; // the longest answer after the first second (connections made, caches warm)
    const began = performance.now();
    const byStatus: Record<number, number> = {};
    const instance = autocannon({ url, method: 'POST', headers: req.headers, body: req.body, connections, duration: seconds, timeout: 10 });
    instance.on('response', (_c, status, _b, ms) => {
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (n === times.length) {
        const bigger = new Float64Array(times.length * 2);
        bigger.set(times);
        times = bigger;
      }
      times[n++] = ms;
      if (performance.now() - began > 1000 && ms > steadyMax) steadyMax = ms;
    });
    const cpu0 = cpuSeconds(child.pid);
    const self0 = process.cpuUsage();
    const result = await instance;
    const trentCpu = cpuSeconds(child.pid) - cpu0;
    const self = process.cpuUsage(self0);
    child.kill('SIGTERM'); // flushes the request log
    await new Promise((r) => child!.once('exit', r));
    const lines = readFileSync(log, 'utf8').split('\n');
    let encrypts = 0;
    let throttled = 0;
    for (const line of lines) {
      if (!line.includes('"Encrypt"')) continue;
      encrypts++;
      if (line.includes('"ThrottlingException"')) throttled++;
    }
    const sorted = times.subarray(0, n).sort();
    const pct = (p: number) => sorted[Math.min(n - 1, Math.floor((p / 100) * n))]!;
    console.log(`Trent serve ${positionals.join(' ') || '(defaults)'}; node ${process.version}, ${cpus().length} CPUs`);
    console.log(`Encrypt, ${connections} connections, ${seconds} s: ${(n / result.duration).toFixed(0)} answers/s, ${((n - (byStatus[400] ?? 0)) / result.duration).toFixed(0)} successes/s`);
    console.log(`latency of every answer: p50 ${pct(50).toFixed(2)} ms, p99 ${pct(99).toFixed(2)} ms, max ${sorted[n - 1]!.toFixed(2)} ms (after the first second: ${steadyMax.toFixed(2)} ms)`);
    console.log(`status codes ${JSON.stringify(byStatus)}; errors ${result.errors}, timeouts ${result.timeouts}`);
    console.log(`CPU per answer: Trent ${((trentCpu * 1e6) / n).toFixed(1)} µs, load generator ${((self.user + self.system) / n).toFixed(1)} µs`);
    console.log(`request log: ${encrypts} Encrypt, ${throttled} ThrottlingException (${((100 * throttled) / Math.max(1, encrypts)).toFixed(1)}%); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
