// The backup file (docs/backup.md): JSON lines. A header line, one line per store record, a trailer line with the
// counts and the SHA-256 of every byte before it. Wrapped material and secrets stay wrapped (base64): nothing in the
// file is plaintext key material, and the root key is not in it.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  emptySnapshotCounts, type GrantConstraintsRecord, type KeyRecord, type SnapshotCounts, type SnapshotRecord,
} from '../domain/ports.js';
import {
  ConnectionErrorCodeTypeValues, CustomKeyStoreTypeValues, ExpirationModelTypeValues, GrantOperationValues, KeyManagerTypeValues, KeySpecValues, KeyStateValues, KeyUsageTypeValues, OriginTypeValues, RotationTypeValues,
} from '../model/kms-model.generated.js';
import { auditColumns, type CloudTrailEvent } from '../domain/audit-event.js';

export const BACKUP_FORMAT = 'trent-backup';
export const BACKUP_FORMAT_VERSION = 1;
export const BACKUP_NOTICE =
  'Key material and secrets in this file are wrapped under the Trent root key, which is NOT in this file. ' +
  'Without that root key (key file or passphrase) this backup cannot be restored.';
/** No line of a backup comes near this (a policy is at most 128 KiB); longer means a damaged file. */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

export type SourceBackend = 'sqlite' | 'postgres';

export interface BackupHeader {
  readonly format: typeof BACKUP_FORMAT;
  readonly formatVersion: number;
  readonly trentVersion: string;
  readonly createdAt: string;
  readonly source: SourceBackend;
  readonly notice: string;
}

export interface BackupSummary {
  readonly header: BackupHeader;
  readonly counts: SnapshotCounts;
  readonly sha256: string;
}

/** The file is not a complete, intact Trent backup of a format this Trent reads. */
export class BackupFormatError extends Error {
  override name = 'BackupFormatError';
}

const RECORD_TYPES = Object.keys(emptySnapshotCounts()) as SnapshotRecord['type'][];
/** Record types added after format version 1 was first written: a backup that predates them states no count of them. */
const LATER_TYPES: ReadonlySet<SnapshotRecord['type']> = new Set(['grant', 'auditEvent', 'customKeyStore', 'principal', 'identityPolicy']);

/** One record as a JSON object: dates as epoch milliseconds, bytes as base64. */
export function encodeRecord(r: SnapshotRecord): Record<string, unknown> {
  switch (r.type) {
    case 'setting':
      return { type: r.type, name: r.name, value: r.value };
    case 'accessKey': {
      const a = r.accessKey;
      return {
        type: r.type, accessKeyId: a.accessKeyId, account: a.account, principalArn: a.principalArn,
        secretWrapped: a.secretWrapped.toString('base64'), createdAt: a.createdAt.getTime(),
      };
    }
    case 'principal': {
      const p = r.principal;
      return { type: r.type, account: p.account, kind: p.kind, name: p.name, path: p.path, arn: p.arn, createdAt: p.createdAt.getTime() };
    }
    case 'identityPolicy':
      return { type: r.type, principalArn: r.policy.principalArn, policyName: r.policy.policyName, document: r.policy.document };
    case 'key': {
      const k = r.key;
      return {
        type: r.type, account: k.account, region: k.region, keyId: k.keyId, arn: k.arn, creationDate: k.creationDate.getTime(),
        description: k.description, keyUsage: k.keyUsage, keySpec: k.keySpec, origin: k.origin, keyManager: k.keyManager,
        keyState: k.keyState, deletionDate: k.deletionDate?.getTime() ?? null, currentMaterialId: k.currentMaterialId ?? null,
        multiRegion: k.multiRegion, policy: k.policy, version: k.version,
        // Rotation fields (added in format version 1 without a bump): written only when set, read when present, so
        // backups of stores without rotation stay byte-compatible with the Trent versions before rotation.
        ...(k.rotationPeriodDays !== undefined && { rotationPeriodDays: k.rotationPeriodDays }),
        ...(k.nextRotationDate !== undefined && { nextRotationDate: k.nextRotationDate.getTime() }),
        ...(k.onDemandRotations !== undefined && { onDemandRotations: k.onDemandRotations }),
        // Custom key stores (format version 1, no bump): as the rotation fields.
        ...(k.customKeyStoreId !== undefined && { customKeyStoreId: k.customKeyStoreId }),
        ...(k.xksKeyId !== undefined && { xksKeyId: k.xksKeyId }),
        // Multi-Region keys (format version 1, no bump): as the rotation fields.
        ...(k.primaryRegion !== undefined && { primaryRegion: k.primaryRegion }),
        ...(k.transitionState !== undefined && { transitionState: k.transitionState }),
        ...(k.transitionDate !== undefined && { transitionDate: k.transitionDate.getTime() }),
        ...(k.pendingDeletionWindowInDays !== undefined && { pendingDeletionWindowInDays: k.pendingDeletionWindowInDays }),
      };
    }
    case 'customKeyStore': {
      const c = r.customKeyStore;
      // The store's password stays wrapped under the root key, as access-key secrets do.
      return {
        type: r.type, account: c.account, region: c.region, customKeyStoreId: c.customKeyStoreId, name: c.name, storeType: c.type,
        ...(c.cloudHsmClusterId !== undefined && { cloudHsmClusterId: c.cloudHsmClusterId }),
        ...(c.trustAnchorCertificate !== undefined && { trustAnchorCertificate: c.trustAnchorCertificate }),
        ...(c.passwordWrapped !== undefined && { passwordWrapped: c.passwordWrapped.toString('base64') }),
        // External key stores (format version 1, no bump): the proxy settings, the secret still wrapped under the root key.
        ...(c.xks !== undefined && {
          xksUriEndpoint: c.xks.uriEndpoint, xksUriPath: c.xks.uriPath, xksConnectivity: c.xks.connectivity, xksAccessKeyId: c.xks.accessKeyId,
          xksSecretWrapped: c.xks.secretWrapped.toString('base64'),
        }),
        connectionState: c.connectionState,
        ...(c.connectionErrorCode !== undefined && { connectionErrorCode: c.connectionErrorCode }),
        creationDate: c.creationDate.getTime(), version: c.version,
      };
    }
    case 'material': {
      const m = r.material;
      return {
        type: r.type, keyArn: m.keyArn, materialId: m.materialId, wrapped: m.wrapped.toString('base64'), createdAt: m.createdAt.getTime(),
        ...(m.rotationType !== undefined && { rotationType: m.rotationType }),
        // Import fields (format version 1, no bump): written only when set, as the rotation fields.
        ...(m.expirationModel !== undefined && { expirationModel: m.expirationModel }),
        ...(m.validTo !== undefined && { validTo: m.validTo.getTime() }),
        ...(m.description !== undefined && { description: m.description }),
        ...(m.pendingRotation === true && { pendingRotation: true }),
      };
    }
    case 'alias': {
      const a = r.alias;
      return {
        type: r.type, account: a.account, region: a.region, aliasName: a.aliasName, targetKeyId: a.targetKeyId,
        creationDate: a.creationDate.getTime(), lastUpdatedDate: a.lastUpdatedDate.getTime(),
      };
    }
    case 'tag':
      return { type: r.type, keyArn: r.keyArn, key: r.tag.key, value: r.tag.value };
    case 'grant': {
      const g = r.grant;
      return {
        type: r.type, keyArn: g.keyArn, account: g.account, region: g.region, grantId: g.grantId, name: g.name ?? null,
        granteePrincipal: g.granteePrincipal, retiringPrincipal: g.retiringPrincipal ?? null, issuingAccount: g.issuingAccount,
        operations: [...g.operations], constraints: g.constraints ?? null, creationDate: g.creationDate.getTime(),
      };
    }
    case 'auditEvent':
      // The event's JSON as stored (its hash covers those exact bytes); the lookup columns are derived from it again.
      return { type: r.type, seq: r.event.seq, prevHash: r.event.prevHash, hash: r.event.hash, event: r.event.json };
    default: {
      const unknown: never = r;
      throw new Error(`unknown record type ${String((unknown as { type: unknown }).type)}`);
    }
  }
}

/** Reads the fields of one JSON object strictly: every field present with its type, no field left over. */
class Fields {
  readonly #seen = new Set<string>(['type']);
  constructor(private readonly o: Record<string, unknown>, private readonly where: string) {}
  /** Whether an optional field is present (absent and optional fields read as undefined). */
  has(name: string): boolean {
    this.#seen.add(name);
    return name in this.o;
  }
  #get(name: string): unknown {
    this.#seen.add(name);
    if (!(name in this.o)) throw new BackupFormatError(`${this.where}: missing "${name}"`);
    return this.o[name];
  }
  #bad(name: string, what: string): never {
    throw new BackupFormatError(`${this.where}: "${name}" must be ${what}`);
  }
  str(name: string): string {
    const v = this.#get(name);
    return typeof v === 'string' ? v : this.#bad(name, 'a string');
  }
  optStr(name: string): string | undefined {
    const v = this.#get(name);
    return v === null ? undefined : typeof v === 'string' ? v : this.#bad(name, 'a string or null');
  }
  oneOf<T extends string>(name: string, values: readonly T[]): T {
    const v = this.str(name);
    return (values as readonly string[]).includes(v) ? (v as T) : this.#bad(name, `one of ${values.join(', ')}`);
  }
  int(name: string): number {
    const v = this.#get(name);
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : this.#bad(name, 'a non-negative integer');
  }
  date(name: string): Date {
    return new Date(this.int(name));
  }
  optDate(name: string): Date | undefined {
    const v = this.#get(name);
    return v === null ? undefined : this.date(name);
  }
  oneOfList<T extends string>(name: string, values: readonly T[]): T[] {
    const v = this.#get(name);
    if (!Array.isArray(v) || !v.every((x) => (values as readonly unknown[]).includes(x))) this.#bad(name, `a list of ${values.join(', ')}`);
    return v as T[];
  }
  /** Grant constraints: null, or an object with one of encryptionContextEquals / encryptionContextSubset (string maps). */
  constraints(name: string): GrantConstraintsRecord | undefined {
    const v = this.#get(name);
    if (v === null) return undefined;
    const isMap = (m: unknown) => typeof m === 'object' && m !== null && !Array.isArray(m) && Object.values(m).every((x) => typeof x === 'string');
    if (typeof v !== 'object' || Array.isArray(v)) this.#bad(name, 'null or an object');
    const keys = Object.keys(v);
    if (keys.length !== 1 || !['encryptionContextEquals', 'encryptionContextSubset'].includes(keys[0]!) || !isMap((v as Record<string, unknown>)[keys[0]!])) {
      this.#bad(name, 'null or one of encryptionContextEquals, encryptionContextSubset with string values');
    }
    return v as GrantConstraintsRecord;
  }
  bool(name: string): boolean {
    const v = this.#get(name);
    return typeof v === 'boolean' ? v : this.#bad(name, 'true or false');
  }
  bytes(name: string): Buffer {
    const v = this.str(name);
    const b = Buffer.from(v, 'base64');
    return b.toString('base64') === v ? b : this.#bad(name, 'base64');
  }
  done(): void {
    const extra = Object.keys(this.o).filter((k) => !this.#seen.has(k));
    if (extra.length > 0) throw new BackupFormatError(`${this.where}: unknown field "${extra[0]}"`);
  }
}

export function decodeRecord(o: Record<string, unknown>, where: string): SnapshotRecord {
  const f = new Fields(o, where);
  let r: SnapshotRecord;
  switch (o.type) {
    case 'setting':
      r = { type: 'setting', name: f.str('name'), value: f.str('value') };
      break;
    case 'accessKey':
      r = {
        type: 'accessKey',
        accessKey: { accessKeyId: f.str('accessKeyId'), account: f.str('account'), principalArn: f.str('principalArn'), secretWrapped: f.bytes('secretWrapped'), createdAt: f.date('createdAt') },
      };
      break;
    case 'principal':
      r = {
        type: 'principal',
        principal: {
          account: f.str('account'), kind: f.oneOf('kind', ['user', 'role'] as const), name: f.str('name'), path: f.str('path'), arn: f.str('arn'),
          createdAt: f.date('createdAt'),
        },
      };
      break;
    case 'identityPolicy':
      r = { type: 'identityPolicy', policy: { principalArn: f.str('principalArn'), policyName: f.str('policyName'), document: f.str('document') } };
      break;
    case 'key': {
      const key: KeyRecord = {
        account: f.str('account'), region: f.str('region'), keyId: f.str('keyId'), arn: f.str('arn'), creationDate: f.date('creationDate'),
        description: f.str('description'), keyUsage: f.oneOf('keyUsage', KeyUsageTypeValues), keySpec: f.oneOf('keySpec', KeySpecValues),
        origin: f.oneOf('origin', OriginTypeValues), keyManager: f.oneOf('keyManager', KeyManagerTypeValues), keyState: f.oneOf('keyState', KeyStateValues),
        deletionDate: f.optDate('deletionDate'), currentMaterialId: f.optStr('currentMaterialId'), multiRegion: f.bool('multiRegion'),
        policy: f.str('policy'), version: f.int('version'),
        ...(f.has('rotationPeriodDays') && { rotationPeriodDays: f.int('rotationPeriodDays') }),
        ...(f.has('nextRotationDate') && { nextRotationDate: f.date('nextRotationDate') }),
        ...(f.has('onDemandRotations') && { onDemandRotations: f.int('onDemandRotations') }),
        ...(f.has('customKeyStoreId') && { customKeyStoreId: f.str('customKeyStoreId') }),
        ...(f.has('xksKeyId') && { xksKeyId: f.str('xksKeyId') }),
        ...(f.has('primaryRegion') && { primaryRegion: f.str('primaryRegion') }),
        ...(f.has('transitionState') && { transitionState: f.oneOf('transitionState', KeyStateValues) }),
        ...(f.has('transitionDate') && { transitionDate: f.date('transitionDate') }),
        ...(f.has('pendingDeletionWindowInDays') && { pendingDeletionWindowInDays: f.int('pendingDeletionWindowInDays') }),
      };
      r = { type: 'key', key };
      break;
    }
    case 'customKeyStore':
      r = {
        type: 'customKeyStore',
        customKeyStore: {
          account: f.str('account'), region: f.str('region'), customKeyStoreId: f.str('customKeyStoreId'), name: f.str('name'),
          type: f.oneOf('storeType', CustomKeyStoreTypeValues),
          ...(f.has('cloudHsmClusterId') && { cloudHsmClusterId: f.str('cloudHsmClusterId') }),
          ...(f.has('trustAnchorCertificate') && { trustAnchorCertificate: f.str('trustAnchorCertificate') }),
          ...(f.has('passwordWrapped') && { passwordWrapped: f.bytes('passwordWrapped') }),
          ...(f.has('xksUriEndpoint') && {
            xks: {
              uriEndpoint: f.str('xksUriEndpoint'), uriPath: f.str('xksUriPath'),
              connectivity: f.oneOf('xksConnectivity', ['PUBLIC_ENDPOINT', 'VPC_ENDPOINT_SERVICE'] as const),
              accessKeyId: f.str('xksAccessKeyId'), secretWrapped: f.bytes('xksSecretWrapped'),
            },
          }),
          connectionState: f.oneOf('connectionState', ['CONNECTED', 'DISCONNECTED', 'FAILED'] as const),
          ...(f.has('connectionErrorCode') && { connectionErrorCode: f.oneOf('connectionErrorCode', ConnectionErrorCodeTypeValues) }),
          creationDate: f.date('creationDate'), version: f.int('version'),
        },
      };
      break;
    case 'material':
      r = {
        type: 'material',
        material: {
          keyArn: f.str('keyArn'), materialId: f.str('materialId'), wrapped: f.bytes('wrapped'), createdAt: f.date('createdAt'),
          ...(f.has('rotationType') && { rotationType: f.oneOf('rotationType', RotationTypeValues) }),
          ...(f.has('expirationModel') && { expirationModel: f.oneOf('expirationModel', ExpirationModelTypeValues) }),
          ...(f.has('validTo') && { validTo: f.date('validTo') }),
          ...(f.has('description') && { description: f.str('description') }),
          ...(f.has('pendingRotation') && f.bool('pendingRotation') && { pendingRotation: true }),
        },
      };
      break;
    case 'alias':
      r = {
        type: 'alias',
        alias: {
          account: f.str('account'), region: f.str('region'), aliasName: f.str('aliasName'), targetKeyId: f.str('targetKeyId'),
          creationDate: f.date('creationDate'), lastUpdatedDate: f.date('lastUpdatedDate'),
        },
      };
      break;
    case 'tag':
      r = { type: 'tag', keyArn: f.str('keyArn'), tag: { key: f.str('key'), value: f.str('value') } };
      break;
    case 'grant': {
      const name = f.optStr('name');
      const retiringPrincipal = f.optStr('retiringPrincipal');
      const constraints = f.constraints('constraints');
      r = {
        type: 'grant',
        grant: {
          keyArn: f.str('keyArn'), account: f.str('account'), region: f.str('region'), grantId: f.str('grantId'),
          ...(name !== undefined && { name }),
          granteePrincipal: f.str('granteePrincipal'),
          ...(retiringPrincipal !== undefined && { retiringPrincipal }),
          issuingAccount: f.str('issuingAccount'), operations: f.oneOfList('operations', GrantOperationValues),
          ...(constraints !== undefined && { constraints }), creationDate: f.date('creationDate'),
        },
      };
      break;
    }
    case 'auditEvent': {
      const json = f.str('event');
      let event: CloudTrailEvent;
      try {
        event = JSON.parse(json) as CloudTrailEvent;
      } catch {
        throw new BackupFormatError(`${where}: "event" is not JSON`);
      }
      r = { type: 'auditEvent', event: { ...auditColumns(event, json), seq: f.int('seq'), prevHash: f.str('prevHash'), hash: f.str('hash') } };
      break;
    }
    default:
      throw new BackupFormatError(`${where}: unknown record type ${JSON.stringify(o.type)}`);
  }
  f.done();
  return r;
}

/**
 * Writes a backup of `records` to `file` (mode 0600): first to a temporary file beside it, flushed to disk, then
 * linked into place, so `file` appears whole or not at all, and an existing file is never overwritten.
 */
export async function writeBackup(
  file: string,
  header: Omit<BackupHeader, 'format' | 'formatVersion' | 'notice'>,
  records: AsyncIterable<SnapshotRecord>,
): Promise<BackupSummary> {
  const target = path.resolve(file);
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  const fullHeader: BackupHeader = { format: BACKUP_FORMAT, formatVersion: BACKUP_FORMAT_VERSION, ...header, notice: BACKUP_NOTICE };
  const hash = createHash('sha256');
  const counts = emptySnapshotCounts();
  const handle = await open(temp, 'wx', 0o600);
  try {
    let pending: string[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      const chunk = Buffer.from(pending.join(''));
      pending = [];
      pendingBytes = 0;
      hash.update(chunk);
      await handle.write(chunk);
    };
    const line = async (o: unknown) => {
      const text = `${JSON.stringify(o)}\n`;
      pending.push(text);
      pendingBytes += text.length;
      if (pendingBytes >= 256 * 1024) await flush();
    };
    await line(fullHeader);
    for await (const r of records) {
      await line(encodeRecord(r));
      counts[r.type]++;
    }
    await flush();
    const sha256 = hash.digest('hex');
    await handle.write(`${JSON.stringify({ type: 'end', counts, sha256 })}\n`);
    await handle.sync();
    await handle.close();
    try {
      await link(temp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${file} already exists: choose another --out, or move it away first`);
      throw err;
    }
    const dir = await open(path.dirname(target), 'r');
    await dir.sync().finally(() => dir.close());
    return { header: fullHeader, counts, sha256 };
  } finally {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
  }
}

/** Splits a file into lines as raw bytes (the hash covers the bytes exactly as written). */
async function* lines(file: string): AsyncGenerator<Buffer> {
  let rest = Buffer.alloc(0);
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      yield buf.subarray(0, nl + 1);
      buf = buf.subarray(nl + 1);
    }
    if (buf.length > MAX_LINE_BYTES) throw new BackupFormatError(`${file}: a line longer than ${MAX_LINE_BYTES} bytes: not a Trent backup, or damaged`);
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield rest; // no final newline: the trailer check below refuses it
}

function parseLine(line: Buffer, where: string): Record<string, unknown> {
  if (line[line.length - 1] !== 0x0a) throw new BackupFormatError(`${where}: the file ends in the middle of a line (truncated)`);
  let o: unknown;
  try {
    o = JSON.parse(line.toString('utf8'));
  } catch {
    throw new BackupFormatError(`${where}: not JSON (damaged)`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new BackupFormatError(`${where}: not a JSON object (damaged)`);
  return o as Record<string, unknown>;
}

function checkHeader(o: Record<string, unknown>, file: string): BackupHeader {
  if (o.format !== BACKUP_FORMAT) throw new BackupFormatError(`${file} is not a Trent backup (its first line has no "format": "${BACKUP_FORMAT}")`);
  if (o.formatVersion !== BACKUP_FORMAT_VERSION) {
    throw new BackupFormatError(`${file} has backup format version ${JSON.stringify(o.formatVersion)}; this Trent reads version ${BACKUP_FORMAT_VERSION}`);
  }
  if (o.source !== 'sqlite' && o.source !== 'postgres') throw new BackupFormatError(`${file}: header: unknown source backend ${JSON.stringify(o.source)}`);
  for (const field of ['trentVersion', 'createdAt', 'notice'] as const) {
    if (typeof o[field] !== 'string') throw new BackupFormatError(`${file}: header: "${field}" must be a string`);
  }
  return o as unknown as BackupHeader;
}

/**
 * The records of a backup file, checked as they stream: the header, every line, and at the end the trailer's
 * counts and SHA-256. A damaged or truncated file throws BackupFormatError — at the latest after the last record,
 * so a consumer that writes inside a transaction must commit only once the iteration has finished.
 */
export async function* readBackup(file: string, onHeader?: (h: BackupHeader) => void): AsyncGenerator<SnapshotRecord, BackupSummary> {
  const hash = createHash('sha256');
  const counts = emptySnapshotCounts();
  let header: BackupHeader | undefined;
  let trailer: Record<string, unknown> | undefined;
  let n = 0;
  for await (const line of lines(file)) {
    n++;
    const where = `${file}, line ${n}`;
    if (trailer) throw new BackupFormatError(`${where}: data after the trailer line (damaged)`);
    const o = parseLine(line, where);
    if (!header) {
      header = checkHeader(o, file);
      onHeader?.(header);
      hash.update(line);
      continue;
    }
    if (o.type === 'end') {
      trailer = o;
      continue;
    }
    hash.update(line);
    const r = decodeRecord(o, where);
    counts[r.type]++;
    yield r;
  }
  if (!header) throw new BackupFormatError(`${file} is empty: not a Trent backup`);
  if (!trailer) throw new BackupFormatError(`${file} has no trailer line: the backup is truncated (or the backup did not finish)`);
  const sha256 = hash.digest('hex');
  if (trailer.sha256 !== sha256) throw new BackupFormatError(`${file}: the SHA-256 of the content does not match the trailer: the file is damaged`);
  const stated = trailer.counts as Record<string, unknown> | undefined;
  for (const t of RECORD_TYPES) {
    // Record types that came later (format version 1, no bump): a backup made before them states no count: none.
    const declared = stated?.[t] ?? (LATER_TYPES.has(t) && stated ? 0 : undefined);
    if (declared !== counts[t]) throw new BackupFormatError(`${file}: the trailer counts ${JSON.stringify(declared)} ${t} records, the file holds ${counts[t]}`);
  }
  return { header, counts, sha256 };
}
