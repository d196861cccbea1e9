// npm run fuzz [-- --count 100000 --seed N --url http://127.0.0.1:4599]: a long fuzz run. Without --url it starts a
// dev-mode Trent of its own (SQLite in a temporary data dir) and stops it at the end. Exits 1 on any violation.
import { parseArgs } from 'node:util';
import { startServer } from '../helpers/server.js';
import { runFuzz, seedContext } from './run.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '100000' }, seed: { type: 'string' }, url: { type: 'string' }, concurrency: { type: 'string', default: '8' } } });
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const server = values.url ? undefined : await startServer({ dev: true, args: ['--request-log', 'off'] });
const url = values.url ?? server!.url;
const started = performance.now();
console.log(`fuzz: ${values.count} requests, seed ${seed}, against ${url}`);
try {
  const ctx = await seedContext(url);
  const result = await runFuzz({ url, count: Number(values.count), seed, concurrency: Number(values.concurrency) }, ctx);
  const seconds = (performance.now() - started) / 1000;
  console.log(`fuzz: ${result.sent} requests in ${seconds.toFixed(1)} s`);
  for (const [outcome, n] of [...result.outcomes].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(7)}  ${outcome}`);
  const errors = server ? server.stderr().split('\n').filter((l) => l.includes('"level":"error"')) : [];
  for (const v of result.violations) console.log(`VIOLATION ${v}`);
  for (const e of errors.slice(0, 20)) console.log(`SERVER ERROR ${e.slice(0, 500)}`);
  process.exitCode = result.violations.length > 0 || errors.length > 0 ? 1 : 0;
} finally {
  await server?.stop();
}
