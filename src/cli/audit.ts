// `trent audit verify` and `trent audit lookup` (docs/audit.md): read the audit trail of a store, like `trent backup`,
// with the server running or not.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serviceEvent } from '../audit/cloudtrail.js';
import { ConfigError, describeStore } from '../config/config.js';
import { isoSeconds } from '../domain/audit-batch.js';
import {
  AUDIT_ARCHIVED_EVENT, ChainChecker, GENESIS_HASH, canonicalJson, sameAnchor, type AuditAnchor, type ChainBreak, type ChainLink,
} from '../domain/audit-chain.js';
import { auditColumns, uuidV7, type CloudTrailEvent } from '../domain/audit-event.js';
import { StorageConflictError, type AuditEventRecord, type AuditQuery } from '../domain/ports.js';
import { config, openStore, STORE_FLAGS } from './backup.js';

export const AUDIT_USAGE = `  trent audit verify [--archive FILE]... [--store sqlite|postgres://…] [--data-dir DIR] [--config FILE]
      Walks the audit trail's hash chain from the first event (or from the anchor a prune left): reports the first
      modified, deleted or reordered event and exits 1, or prints the number of events and the chain head (keep it:
      it anchors the trail). With --archive, the archive files first, and the store must continue where they end.
  trent audit verify-archive FILE...
      Verifies archive files on their own (and that each continues the one before it), without a store.
  trent audit archive --before ISO8601 --out FILE [--store …] [--data-dir DIR]
      Retention: writes the events before that time to FILE (JSON lines with their hashes), then deletes them from
      the store in one transaction that records the anchor (the last archived event) and an AuditEventsArchived event.
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
    case 'archive':
      return archive(rest, out);
    case 'verify-archive': {
      const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
      if (positionals.length === 0) throw new ConfigError('trent audit verify-archive takes one or more archive files');
      return verifyArchives(positionals, out) ? 0 : 1;
    }
    default:
      throw new ConfigError(`unknown audit command "${sub ?? ''}" (verify, verify-archive, lookup, archive)\n${AUDIT_USAGE}`);
  }
}

function openExisting(values: Record<string, unknown>) {
  const cfg = config(values);
  if (cfg.store.kind === 'sqlite' && !existsSync(cfg.store.file)) throw new ConfigError(`there is no SQLite store at ${cfg.store.file} (check --data-dir and --store)`);
  return { cfg, storage: openStore(cfg.store) };
}

async function verify(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...STORE_FLAGS, archive: { type: 'string', multiple: true } }, strict: true, allowPositionals: false });
  let archived: AuditAnchor | undefined;
  if (values.archive && values.archive.length > 0) {
    const end = verifyArchives(values.archive, out);
    if (!end) return 1;
    archived = end;
  }
  const { cfg, storage } = openExisting(values);
  try {
    await storage.migrate();
    // The head first: events appended while we walk extend the chain past it and are checked next time.
    const head = await storage.auditChainHead();
    const anchor = await storage.auditAnchor();
    if (archived && !sameAnchor(archived, anchor)) {
      out.write(`BROKEN: the archives end at event ${archived.seq} (${archived.hash.slice(0, 16)}…), but the audit trail of ${describeStore(cfg.store)} continues from ${anchor ? `event ${anchor.seq} (${anchor.hash.slice(0, 16)}…)` : 'the first event'}: give every archive since the first, in order.\n`);
      return 1;
    }
    const checker = new ChainChecker(anchor);
    let broken: ChainBreak | undefined;
    let after = anchor?.seq ?? 0;
    /** The newest prune's event: it must name the anchor (else events were deleted outside `trent audit archive`). */
    let lastPrune: { seq: number; details: Record<string, unknown> } | undefined;
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
        if (e.eventName === AUDIT_ARCHIVED_EVENT) {
          const event = JSON.parse(e.json) as CloudTrailEvent;
          if (event.eventType === 'AwsServiceEvent') lastPrune = { seq: e.seq, details: event.serviceEventDetails ?? {} };
        }
        after = e.seq;
      }
      if (batch.length < VERIFY_BATCH) break;
    }
    broken ??= checker.checkHead(head);
    if (!broken && anchor && (lastPrune?.details.archivedThroughSeq !== anchor.seq || lastPrune.details.archivedThroughHash !== anchor.hash)) {
      broken = {
        seq: anchor.seq, problem: 'missing',
        detail: `the trail continues from event ${anchor.seq}, but no ${AUDIT_ARCHIVED_EVENT} event records that anchor: events were removed outside trent audit archive`,
      };
    }
    if (broken) {
      out.write(`BROKEN: the audit trail of ${describeStore(cfg.store)} fails at event ${broken.seq} (${broken.problem}): ${broken.detail}.\n`);
      out.write(`${checker.count} events before it verify.\n`);
      return 1;
    }
    const from = anchor
      ? ` from the anchor, event ${anchor.seq} (SHA-256 ${anchor.hash}); the events up to it were archived (event ${lastPrune!.seq} records it)`
      : '';
    out.write(`OK: ${checker.count} audit events in ${describeStore(cfg.store)} verify${from}.\nChain head: event ${head.seq}, SHA-256 ${head.hash}\n`);
    return 0;
  } finally {
    await storage.close();
  }
}

/** The last line of an archive file: what it holds, so that a truncated file is found. */
interface ArchiveTrailer {
  readonly version: 1;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly count: number;
  /** The hash of the event before the first (GENESIS_HASH when the archive starts the trail). */
  readonly prevHash: string;
  readonly lastHash: string;
  readonly before: string;
  readonly createdAt: string;
}

/** One archived event: its chain position, its hashes and the event (as an object; `eventJson` if it is not canonical). */
const archiveLine = (e: AuditEventRecord): string => {
  const event = JSON.parse(e.json) as unknown;
  const exact = canonicalJson(event) === e.json;
  return `${JSON.stringify({ seq: e.seq, prevHash: e.prevHash, hash: e.hash, ...(exact ? { event } : { eventJson: e.json }) })}\n`;
};

/**
 * Verifies archive files in order of their first event: each file's chain, its trailer, and that each continues the
 * one before it. Returns the last archived link (the anchor the store must continue from), or undefined when broken.
 */
function verifyArchives(files: readonly string[], out: NodeJS.WritableStream): AuditAnchor | undefined {
  const parsed = files.map((file) => {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    const last = lines.length > 0 ? (JSON.parse(lines.at(-1)!) as { trentAuditArchive?: ArchiveTrailer }) : {};
    return { file, lines: lines.slice(0, -1), trailer: last.trentAuditArchive };
  });
  for (const p of parsed) {
    if (!p.trailer) {
      out.write(`BROKEN: ${p.file} is not a whole Trent audit archive (its last line is not the archive trailer: the file was cut short).\n`);
      return undefined;
    }
  }
  parsed.sort((a, b) => a.trailer!.firstSeq - b.trailer!.firstSeq);
  const first = parsed[0]!.trailer!;
  const checker = new ChainChecker(first.firstSeq === 1 ? undefined : { seq: first.firstSeq - 1, hash: first.prevHash });
  for (const { file, lines, trailer } of parsed) {
    const t = trailer!;
    const fail = (detail: string) => (out.write(`BROKEN: archive ${file}: ${detail}.\n`), undefined);
    if (checker.lastSeq !== t.firstSeq - 1 || checker.lastHash !== t.prevHash) {
      return fail(`it starts after event ${t.firstSeq - 1} (${t.prevHash.slice(0, 16)}…), but the archive before it ends at event ${checker.lastSeq} (${checker.lastHash.slice(0, 16)}…)`);
    }
    for (const line of lines) {
      const l = JSON.parse(line) as { seq: number; prevHash: string; hash: string; event?: unknown; eventJson?: string };
      const link: ChainLink = { seq: l.seq, prevHash: l.prevHash, hash: l.hash, json: l.eventJson ?? canonicalJson(l.event) };
      const broken = checker.check(link);
      if (broken) return fail(`event ${broken.seq} (${broken.problem}): ${broken.detail}`);
    }
    if (checker.lastSeq !== t.lastSeq || checker.lastHash !== t.lastHash || lines.length !== t.count) {
      return fail(`its trailer records events ${t.firstSeq} to ${t.lastSeq} (${t.count}), but it holds ${lines.length} ending at event ${checker.lastSeq}`);
    }
    out.write(`OK: archive ${path.basename(file)}: events ${t.firstSeq} to ${t.lastSeq} (${t.count}, before ${t.before}) verify.\n`);
  }
  const start = first.firstSeq === 1 ? 'the first event of the trail' : `event ${first.firstSeq} (after ${first.prevHash}: the archive of the events before it is needed to verify them)`;
  out.write(`Archives: from ${start} to event ${checker.lastSeq}, SHA-256 ${checker.lastHash}\n`);
  return { seq: checker.lastSeq, hash: checker.lastHash };
}

/**
 * Retention: the events older than --before, from the store's anchor (or the first event) on, up to the first event
 * at or after that time, go to the archive file (written and synced first), then one transaction deletes them, records
 * the new anchor and appends an AuditEventsArchived event. A chain that does not verify is not archived.
 */
async function archive(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...STORE_FLAGS, before: { type: 'string' }, out: { type: 'string' } }, strict: true, allowPositionals: false });
  const before = time('before', values.before);
  if (before === undefined || values.out === undefined) throw new ConfigError('trent audit archive needs --before ISO8601 and --out FILE');
  const file = values.out;
  if (existsSync(file)) throw new ConfigError(`${file} exists: an archive is never overwritten`);
  const { cfg, storage } = openExisting(values);
  let fd: number | undefined;
  let complete = false;
  const digest = createHash('sha256');
  const write = (text: string) => {
    fd ??= openSync(file, 'wx', 0o600);
    writeSync(fd, text);
    digest.update(text);
  };
  const discard = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    if (existsSync(file)) unlinkSync(file);
  };
  try {
    await storage.migrate();
    const from = await storage.auditAnchor();
    const checker = new ChainChecker(from);
    let first: AuditEventRecord | undefined;
    let last: AuditEventRecord | undefined;
    walk: for (let after = from?.seq ?? 0; ; ) {
      const batch = await storage.auditEventsAfter(after, VERIFY_BATCH);
      for (const e of batch) {
        if (e.eventTime >= before) break walk;
        const broken = checker.check(e) ?? (columnsMismatch(e) === undefined ? undefined : { seq: e.seq, problem: 'modified', detail: columnsMismatch(e)! });
        if (broken) {
          discard();
          out.write(`BROKEN: the audit trail fails at event ${broken.seq} (${broken.problem}): ${broken.detail}. Nothing was archived.\n`);
          return 1;
        }
        write(archiveLine(e));
        first ??= e;
        last = e;
        after = e.seq;
      }
      if (batch.length < VERIFY_BATCH) break;
    }
    if (!first || !last) {
      out.write(`Nothing to archive: no event before ${isoSeconds(before)}${from ? ` after the anchor (event ${from.seq})` : ''}.\n`);
      return 0;
    }
    const count = last.seq - first.seq + 1;
    const trailer: ArchiveTrailer = {
      version: 1, firstSeq: first.seq, lastSeq: last.seq, count, prevHash: from?.hash ?? GENESIS_HASH, lastHash: last.hash,
      before: isoSeconds(before), createdAt: new Date().toISOString(),
    };
    write(`${JSON.stringify({ trentAuditArchive: trailer })}\n`);
    fsyncSync(fd!);
    closeSync(fd!);
    fd = undefined;
    complete = true;
    const sha256 = digest.digest('hex');
    const now = Date.now();
    const event = serviceEvent(AUDIT_ARCHIVED_EVENT, now, uuidV7(now, randomBytes(10)), cfg.region, {
      reason: 'trent audit archive: the events before the given time were written to an archive file and deleted from the store',
      before: isoSeconds(before), archivedFromSeq: first.seq, archivedThroughSeq: last.seq, archivedThroughHash: last.hash, count,
      archiveFile: path.basename(file), archiveSha256: sha256,
    });
    let result;
    try {
      result = await storage.pruneAuditEvents(from, { seq: last.seq, hash: last.hash }, before, event);
    } catch (err) {
      if (!(err instanceof StorageConflictError)) throw err;
      discard();
      out.write(`The audit trail changed while it was archived (${err.message}): nothing was deleted and ${file} was removed; run the command again.\n`);
      return 1;
    }
    out.write(
      `Archived events ${first.seq} to ${last.seq} (${count}, before ${isoSeconds(before)}) to ${file} (SHA-256 ${sha256}) and deleted ${result.deleted} from ${describeStore(cfg.store)}.\n`
      + `Anchor: event ${last.seq}, SHA-256 ${last.hash}; recorded as event ${result.record.seq} (${AUDIT_ARCHIVED_EVENT}).\n`
      + `Keep the archive: trent audit verify --archive ${file} checks it and the store together.\n`,
    );
    return 0;
  } catch (err) {
    // A whole archive stays if the prune failed otherwise: whether it committed is for `trent audit verify` to tell.
    if (!complete) discard();
    throw err;
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
