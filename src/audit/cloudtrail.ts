// Builds CloudTrail-shaped events from what the request handler captured (docs/audit.md). Runs once the response is
// written for read-only operations and failures, inside the state change's transaction for the others.
import { OPERATIONS, SHAPES, type OperationName } from '../model/kms-model.generated.js';
import { auditColumns, type CloudTrailEvent, type UserIdentity } from '../domain/audit-event.js';
import { canonicalJson } from '../domain/audit-chain.js';
import type { CallerIdentity } from '../domain/identity.js';
import type { AuditEventInput } from '../domain/ports.js';

export const EVENT_VERSION = '1.08';

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
  request?: { readonly caller: CallerIdentity; readonly region: string; readonly resourceArn?: string | undefined } | undefined;
  /** The parsed input (may hold SecretBytes: they are never read here). */
  input?: unknown;
  /** The output of a state-changing operation (read-only ones record no response elements, as CloudTrail). */
  output?: unknown;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  /** Built once (the same eventID on a retried transaction). */
  event?: AuditEventInput | undefined;
  /** The event was appended by the transaction of the request's state change. */
  committed?: boolean;
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
const isoSeconds = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

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
      const out: Record<string, unknown> = {};
      const map = value as Record<string, unknown>;
      for (const k of Object.keys(map).sort()) {
        const view = auditedView(s.value!, map[k]);
        if (view !== undefined) out[k] = view;
      }
      return out;
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

/** userIdentity from the caller's principal ARN (arn:aws:iam::<account>:root | :user/<name> | sts ...:assumed-role/<role>/<session>). */
export function userIdentity(caller: CallerIdentity | undefined, authorization: string): UserIdentity {
  if (!caller) {
    // Not authenticated: the access key the request claimed, if its Authorization header names one.
    const m = /Credential=([A-Za-z0-9]{1,128})\//.exec(authorization);
    return m ? { accessKeyId: m[1]!, type: 'Unknown' } : { type: 'Unknown' };
  }
  const { principalArn: arn, account: accountId, accessKeyId } = caller;
  const resource = arn.split(':').slice(5).join(':');
  // Keys in canonical (sorted) order.
  if (resource === 'root') return { accessKeyId, accountId, arn, principalId: accountId, type: 'Root' };
  if (resource.startsWith('user/')) {
    const userName = resource.slice(resource.lastIndexOf('/') + 1);
    return { accessKeyId, accountId, arn, principalId: `${accountId}:${userName}`, type: 'IAMUser', userName };
  }
  if (resource.startsWith('assumed-role/')) {
    const [, role = '', session = ''] = resource.split('/');
    const roleArn = `arn:aws:iam::${accountId}:role/${role}`;
    return {
      accessKeyId, accountId, arn, principalId: `${accountId}:${session}`,
      sessionContext: { sessionIssuer: { accountId, arn: roleArn, type: 'Role', userName: role } }, type: 'AssumedRole',
    };
  }
  if (resource.startsWith('role/')) return { accessKeyId, accountId, arn, principalId: accountId, type: 'Role' };
  return { accessKeyId, accountId, arn, principalId: accountId, type: 'Unknown' };
}

const accountOfArn = (arn: string): string => arn.split(':')[4] ?? '';

/**
 * The event of one request. `eventId` comes from the caller (the random source). responseElements only for a successful
 * state-changing operation whose output is known; requestParameters only for an operation the model knows.
 */
export function buildEvent(c: AuditCapture, eventId: string, defaultRegion: string): AuditEventInput {
  const def = (OPERATIONS as Record<string, (typeof OPERATIONS)[OperationName] | undefined>)[c.operation];
  const readOnly = isReadOnly(c.operation);
  const caller = c.request?.caller;
  const resourceArn = c.request?.resourceArn;
  const requestParameters = def?.input && c.input !== undefined ? ((auditedView(def.input, c.input) as Record<string, unknown> | undefined) ?? null) : null;
  const responseElements =
    !readOnly && c.errorCode === undefined && def?.output && c.output !== undefined
      ? ((auditedView(def.output, c.output) as Record<string, unknown> | undefined) ?? null)
      : null;
  // Members in canonical (sorted) order, undefined ones left out by JSON.stringify: the JSON is canonical as built.
  const event: CloudTrailEvent = {
    awsRegion: c.request?.region ?? defaultRegion,
    errorCode: c.errorCode,
    errorMessage: c.errorCode === undefined ? undefined : (c.errorMessage ?? ''),
    eventCategory: 'Management',
    eventID: eventId,
    eventName: c.operation,
    eventSource: 'kms.amazonaws.com',
    eventTime: isoSeconds(c.time),
    eventType: 'AwsApiCall',
    eventVersion: EVENT_VERSION,
    managementEvent: true,
    readOnly,
    recipientAccountId: caller?.account ?? '',
    requestID: c.requestId,
    requestParameters,
    resources: resourceArn === undefined ? undefined : [{ ARN: resourceArn, accountId: accountOfArn(resourceArn), type: 'AWS::KMS::Key' }],
    responseElements: responseElements && Object.keys(responseElements).length > 0 ? responseElements : null,
    sourceIPAddress: c.sourceIp,
    userAgent: c.userAgent,
    userIdentity: userIdentity(caller, c.authorization),
  };
  return auditColumns(event, JSON.stringify(event));
}

/** A notice from Trent itself (not an API call): e.g. that events may have been lost in a crash. */
export function serviceEvent(eventName: string, time: number, eventId: string, region: string, details: Record<string, unknown>, resourceArn?: string): AuditEventInput {
  const account = resourceArn === undefined ? '' : accountOfArn(resourceArn);
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
