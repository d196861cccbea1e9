// Builds CloudTrail-shaped events from what the request handler captured (docs/audit.md). Runs once the response is
// written for read-only operations and failures, inside the state change's transaction for the others.
import { OPERATIONS, SHAPES, type OperationName } from '../model/kms-model.generated.js';
import { auditColumns, userIdentityOf, type AuditCompanion, type CloudTrailEvent, type UserIdentity } from '../domain/audit-event.js';
import {
  EVENT_VERSION, MAX_ERROR_MESSAGE, MAX_EVENT_NAME, MAX_USER_AGENT, accountOfArn, bounded, eventFromCompact, isoSeconds, type CompactAuditEvent,
} from '../domain/audit-batch.js';
import { canonicalJson } from '../domain/audit-chain.js';
import type { CallerIdentity } from '../domain/identity.js';
import type { AuditEventInput } from '../domain/ports.js';

/** What the handler knows of one request; filled in as the request goes. Holds references only: no copying. */
export interface AuditCapture {
  readonly requestId: string;
  /** Request arrival, ms since the epoch. */
  readonly time: number;
  readonly sourceIp: string;
  readonly userAgent: string;
  /** The raw Authorization header, read (for the access key id) only when the request did not authenticate. */
  readonly authorization: string;
  operation: string;
  /** The request context once authenticated; the operation sets resourceArn on it. */
  request?: {
    readonly caller: CallerIdentity; readonly region: string; readonly resourceArn?: string | undefined;
    /** Events the request causes beside its own (ReplicateKey: CreateKey in the replica's Region), committed with it. */
    readonly auditCompanions?: readonly AuditCompanion[] | undefined;
  } | undefined;
  /** The parsed input (may hold SecretBytes: they are never read here). */
  input?: unknown;
  /** The output of a state-changing operation (read-only ones record no response elements, as CloudTrail). */
  output?: unknown;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  /** Built once (the same eventID on a retried transaction). */
  event?: AuditEventInput | undefined;
  /** The companion events, built once as `event`. */
  companionEvents?: readonly AuditEventInput[] | undefined;
  /** The event was appended by the transaction of the request's state change. */
  committed?: boolean;
  /** The request authenticated (AuditTrail.admit): its event is never dropped nor summarized. */
  authenticated?: boolean;
  /** Refused by AuditTrail.admit because the audit queue was full: counted, not queued. */
  throttled?: boolean;
  /** The request body's size: bounds its audited parameters (the queue's byte bound). */
  bodyBytes?: number;
}

/** A companion's capture: the request's, as `companion`'s operation in its Region on its resource. */
export function companionCapture(c: AuditCapture, companion: AuditCompanion): AuditCapture {
  return {
    ...c, operation: companion.operation, input: companion.input, output: companion.output, event: undefined, companionEvents: undefined,
    request: c.request && { caller: c.request.caller, region: companion.region, resourceArn: companion.resourceArn },
  };
}

/** CloudTrail's readOnly: Describe*, Get*, List* and the cryptographic operations. */
const CRYPTO_OPERATIONS: ReadonlySet<string> = new Set([
  'Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateRandom', 'Sign', 'Verify', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
]);
const READ_ONLY = new Map<string, boolean>(
  Object.keys(OPERATIONS).map((name) => [name, /^(Describe|Get|List)/.test(name) || CRYPTO_OPERATIONS.has(name)]),
);
/** Names outside the model (a client's unknown operation) change nothing: read-only. */
export const isReadOnly = (operation: string): boolean => READ_ONLY.get(operation) ?? true;

/** Members never audited although the model does not mark them sensitive: grant tokens are bearer credentials. */
const NEVER_AUDITED: ReadonlySet<string> = new Set(['GrantToken', 'GrantTokens']);

const camel = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1);

/**
 * Each structure's audited members, sorted by their camelCase name (code-point order), so that views come out in
 * canonical key order and the event serializes canonically with one JSON.stringify (domain/audit-chain.ts canonicalJson
 * defines the form; a unit test checks they agree).
 */
const AUDITED_MEMBERS: ReadonlyMap<string, readonly (readonly [member: string, camelName: string, shape: string])[]> = new Map(
  Object.entries(SHAPES)
    .filter(([, s]) => s.type === 'structure')
    .map(([name, s]) => [
      name,
      Object.entries(s.members ?? {})
        .filter(([member]) => !NEVER_AUDITED.has(member))
        .map(([member, shape]) => [member, camel(member), shape] as const)
        .sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ]),
);
/**
 * The audited view of a value of `shapeName`, driven by the model: member names in camelCase as CloudTrail writes them,
 * every blob (plaintext, ciphertext, key material, signatures, public keys) and every member whose shape the model marks
 * sensitive left out, timestamps as ISO 8601. Undefined when nothing is left.
 */
export function auditedView(shapeName: string, value: unknown): unknown {
  const s = SHAPES[shapeName];
  if (!s || value === undefined || value === null || s.sensitive || s.type === 'blob') return undefined;
  switch (s.type) {
    case 'structure': {
      if (typeof value !== 'object') return undefined;
      const out: Record<string, unknown> = {};
      const obj = value as Record<string, unknown>;
      for (const [member, camelName, memberShape] of AUDITED_MEMBERS.get(shapeName)!) {
        const raw = obj[member];
        if (raw === undefined) continue;
        const v = auditedView(memberShape, raw);
        if (v !== undefined) out[camelName] = v;
      }
      return out;
    }
    case 'list':
      return Array.isArray(value) ? value.map((v) => auditedView(s.member!, v) ?? null) : undefined;
    case 'map': {
      if (typeof value !== 'object') return undefined;
      const map = value as Record<string, unknown>;
      // Object.fromEntries: a "__proto__" key stays a key (an assignment would drop it).
      return Object.fromEntries(Object.keys(map).sort().flatMap((k) => {
        const view = auditedView(s.value!, map[k]);
        return view === undefined ? [] : [[k, view] as const];
      }));
    }
    case 'timestamp':
      return value instanceof Date ? value.toISOString() : undefined;
    case 'string':
      return typeof value === 'string' ? value : undefined;
    case 'integer':
    case 'long':
      return typeof value === 'number' ? value : undefined;
    case 'boolean':
      return typeof value === 'boolean' ? value : undefined;
    default: {
      const never: never = s.type;
      throw new Error(`unhandled shape type ${String(never)}`);
    }
  }
}

/** userIdentity of the caller, or of the access key an unauthenticated request claimed in its Authorization header. */
export function userIdentity(caller: CallerIdentity | undefined, authorization: string): UserIdentity {
  if (caller) return userIdentityOf(caller.principalArn, caller.account, caller.accessKeyId);
  return userIdentityOf(undefined, '', claimedAccessKey(authorization));
}

const claimedAccessKey = (authorization: string): string | undefined => /Credential=([A-Za-z0-9]{1,128})\//.exec(authorization)?.[1];

/**
 * The compact form of one request's event (domain/audit-batch.ts), holding only small values: the request's input is
 * reduced to its audited view now. responseElements only for a successful state-changing operation whose output is
 * known; requestParameters only for an operation the model knows.
 */
export function compactEvent(c: AuditCapture, eventId: string, defaultRegion: string): CompactAuditEvent {
  const def = (OPERATIONS as Record<string, (typeof OPERATIONS)[OperationName] | undefined>)[c.operation];
  const readOnly = isReadOnly(c.operation);
  const caller = c.request?.caller;
  const requestParameters = def?.input && c.input !== undefined ? ((auditedView(def.input, c.input) as Record<string, unknown> | undefined) ?? null) : null;
  const responseElements =
    !readOnly && c.errorCode === undefined && def?.output && c.output !== undefined
      ? ((auditedView(def.output, c.output) as Record<string, unknown> | undefined) ?? null)
      : null;
  // What the client sent is bounded (a 16 KiB User-Agent is stored as its first 1,024 characters, marked omitted).
  const userAgent = bounded(c.userAgent, MAX_USER_AGENT);
  const eventName = bounded(c.operation, MAX_EVENT_NAME);
  const errorMessage = c.errorCode === undefined ? null : bounded(c.errorMessage ?? '', MAX_ERROR_MESSAGE);
  const event: CompactAuditEvent = [
    eventId, c.time, c.requestId, bounded(c.sourceIp, 64), userAgent, eventName, readOnly, c.request?.region ?? defaultRegion,
    caller?.principalArn ?? null, caller?.account ?? null, caller ? caller.accessKeyId : (claimedAccessKey(c.authorization) ?? null),
    c.request?.resourceArn ?? null, c.errorCode ?? null, errorMessage, requestParameters, responseElements,
  ];
  if (userAgent.length !== c.userAgent.length || eventName.length !== c.operation.length || (errorMessage !== null && errorMessage.length !== (c.errorMessage ?? '').length)) {
    event.push(true);
  }
  return event;
}

/** The event of one request, built now (a state change's event, appended in the change's transaction). */
export function buildEvent(c: AuditCapture, eventId: string, defaultRegion: string): AuditEventInput {
  return eventFromCompact(compactEvent(c, eventId, defaultRegion));
}

/** A notice from Trent itself (not an API call): e.g. that events may have been lost in a crash. */
export function serviceEvent(
  eventName: string, time: number, eventId: string, region: string, details: Record<string, unknown>, resourceArn?: string, recipientAccount?: string,
): AuditEventInput {
  const account = resourceArn === undefined ? (recipientAccount ?? '') : accountOfArn(resourceArn);
  const event: CloudTrailEvent = {
    eventVersion: EVENT_VERSION,
    userIdentity: { type: 'Unknown' },
    eventTime: isoSeconds(time),
    eventSource: 'kms.amazonaws.com',
    eventName,
    awsRegion: region,
    sourceIPAddress: 'trent',
    userAgent: 'trent',
    requestParameters: null,
    responseElements: null,
    requestID: eventId,
    eventID: eventId,
    readOnly: resourceArn === undefined,
    resources: resourceArn === undefined ? undefined : [{ ARN: resourceArn, accountId: account, type: 'AWS::KMS::Key' }],
    eventType: 'AwsServiceEvent',
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: 'Management',
    serviceEventDetails: details,
  };
  return auditColumns(event, canonicalJson(event));
}
