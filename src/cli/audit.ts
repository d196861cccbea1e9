// `trent audit verify` and `trent audit lookup` (docs/audit.md): read the audit trail of a store, like `trent backup`,
// with the server running or not.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, describeStore } from '../config/config.js';
import { ChainChecker, type ChainBreak } from '../domain/audit-chain.js';
import { auditColumns, type CloudTrailEvent } from '../domain/audit-event.js';
import type { AuditEventRecord, AuditQuery } from '../domain/ports.js';
import { config, openStore, STORE_FLAGS } from './backup.js';

export const AUDIT_USAGE = `  trent audit verify [--store sqlite|postgres://…] [--data-dir DIR] [--config FILE]
      Walks the audit trail's hash chain from the first event: reports the first modified, deleted or reordered
      event and exits 1, or prints the number of events and the chain head (keep it: it anchors the trail).
  trent audit lookup [--event-name NAME] [--key KEY_ID|KEY_ARN] [--principal ARN] [--account ID]
                     [--start-time ISO8601] [--end-time ISO8601] [--max-results N] [--store …] [--data-dir DIR]
      Prints matching events, newest first, one CloudTrail JSON event per line (default 50, at most 10000).
`;

const VERIFY_BATCH = 1000;

/** The lookup columns of a stored event must be those of its JSON (the hash covers the JSON only). */
function columnsMismatch(e: AuditEventRecord): string | undefined {
  let derived;
  try {
    derived = auditColumns(JSON.parse(e.json) as CloudTrailEvent, e.json);
  } catch {
    return 'its JSON does not parse';
  }
  for (const k of ['eventId', 'eventTime', 'eventName', 'account', 'resourceAccount', 'keyArn', 'principal', 'username', 'readOnly', 'usage', 'requestId'] as const) {
    if (derived[k] !== e[k]) return `its ${k} column (${JSON.stringify(e[k])}) differs from its JSON (${JSON.stringify(derived[k])})`;
  }
  return undefined;
}

export async function auditCommand(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'verify':
      return verify(rest, out);
    case 'lookup':
      return lookup(rest, out);
    default:
      throw new ConfigError(`unknown audit command "${sub ?? ''}" (verify, lookup)\n${AUDIT_USAGE}`);
  }
}

function openExisting(values: Record<string, unknown>) {
  const cfg = config(values);
  if (cfg.store.kind === 'sqlite' && !existsSync(cfg.store.file)) throw new ConfigError(`there is no SQLite store at ${cfg.store.file} (check --data-dir and --store)`);
  return { cfg, storage: openStore(cfg.store) };
}

async function verify(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({ args: argv, options: STORE_FLAGS, strict: true, allowPositionals: false });
  const { cfg, storage } = openExisting(values);
  try {
    await storage.migrate();
    // The head first: events appended while we walk extend the chain past it and are checked next time.
    const head = await storage.auditChainHead();
    const checker = new ChainChecker();
    let broken: ChainBreak | undefined;
    let after = 0;
    walk: for (;;) {
      const batch = await storage.auditEventsAfter(after, VERIFY_BATCH);
      for (const e of batch) {
        if (e.seq > head.seq) break walk;
        broken = checker.check(e);
        if (!broken) {
          const why = columnsMismatch(e);
          if (why) broken = { seq: e.seq, problem: 'modified', detail: `event ${e.seq} was modified: ${why}` };
        }
        if (broken) break walk;
        after = e.seq;
      }
      if (batch.length < VERIFY_BATCH) break;
    }
    broken ??= checker.checkHead(head);
    if (broken) {
      out.write(`BROKEN: the audit trail of ${describeStore(cfg.store)} fails at event ${broken.seq} (${broken.problem}): ${broken.detail}.\n`);
      out.write(`${checker.count} events before it verify.\n`);
      return 1;
    }
    out.write(`OK: ${checker.count} audit events in ${describeStore(cfg.store)} verify.\nChain head: event ${head.seq}, SHA-256 ${head.hash}\n`);
    return 0;
  } finally {
    await storage.close();
  }
}

function time(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new ConfigError(`--${name} must be a date and time (ISO 8601, e.g. 2026-01-31T12:00:00Z)`);
  return t;
}

async function lookup(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...STORE_FLAGS, 'event-name': { type: 'string' }, key: { type: 'string' }, principal: { type: 'string' }, account: { type: 'string' },
      'start-time': { type: 'string' }, 'end-time': { type: 'string' }, 'max-results': { type: 'string' },
    },
    strict: true, allowPositionals: false,
  });
  const max = values['max-results'] === undefined ? 50 : Number(values['max-results']);
  if (!Number.isSafeInteger(max) || max < 1 || max > 10_000) throw new ConfigError('--max-results must be a whole number from 1 to 10000');
  const key = values.key;
  if (key !== undefined && !key.startsWith('arn:') && !/^(mrk-)?[0-9a-f-]{32,36}$/i.test(key)) throw new ConfigError('--key takes a key id or a key ARN');
  const query: AuditQuery = {
    limit: max,
    ...(values['event-name'] !== undefined && { eventName: values['event-name'] }),
    ...(key !== undefined && (key.startsWith('arn:') ? { keyArn: key } : { keyId: key })),
    ...(values.principal !== undefined && { principal: values.principal }),
    ...(values.account !== undefined && { account: values.account }),
    startTime: time('start-time', values['start-time']),
    endTime: time('end-time', values['end-time']),
  };
  const { storage } = openExisting(values);
  try {
    await storage.migrate();
    for (const e of await storage.queryAuditEvents(query)) out.write(`${e.json}\n`);
    return 0;
  } finally {
    await storage.close();
  }
}
