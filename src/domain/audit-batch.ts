// An API call's audit event in compact form, and the batch form in which queued events travel to the store
// (docs/audit.md). The request path records a few values per call; the CloudTrail JSON is made from them where the
// batch is appended (on SQLite, the append worker's thread), not on the thread that answers requests.
import { auditColumns, userIdentityOf, type CloudTrailEvent } from './audit-event.js';
import type { AuditEventInput } from './ports.js';

export const EVENT_VERSION = '1.08';

/**
 * The values an API call's event is made of. JSON-safe (a batch of them travels as one string); the eventID is drawn
 * when the call is recorded, so that a batch retried after a failed append keeps its ids.
 */
export type CompactAuditEvent = [
  eventId: string,
  /** Request arrival, ms since the epoch. */
  time: number,
  requestId: string,
  sourceIp: string,
  userAgent: string,
  eventName: string,
  readOnly: boolean,
  region: string,
  /** The caller's principal ARN; null when the request did not authenticate. */
  principalArn: string | null,
  /** The caller's account; null when the request did not authenticate. */
  account: string | null,
  /** The caller's access key id, or the one an unauthenticated request claimed. */
  accessKeyId: string | null,
  resourceArn: string | null,
  errorCode: string | null,
  errorMessage: string | null,
  /** The audited view of the request (no blob, no sensitive member): requestParameters. */
  requestParameters: Record<string, unknown> | null,
  /** The audited view of a state change's output: responseElements. */
  responseElements: Record<string, unknown> | null,
  /** A field taken from the client was cut to its bound (CloudTrail's `omitted`); absent in batches of older versions. */
  omitted?: boolean,
];

/**
 * Bounds of the fields an event takes from the client (or builds from what the client sent). CloudTrail truncates a
 * field whose content exceeds its maximum size and marks the record `omitted: true`; 1,024 characters is the bound
 * AWS documents for a user agent (GuardDuty's ApiCall.userAgent) and for CloudTrail's own error messages.
 */
export const MAX_USER_AGENT = 1024;
export const MAX_ERROR_MESSAGE = 1024;
/** Event names are operation names: the longest KMS operation name is 35 characters. */
export const MAX_EVENT_NAME = 128;

/** `s` cut to `max` UTF-16 code units (never splitting a surrogate pair). */
export function bounded(s: string, max: number): string {
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/** One entry of a batch: an API call in compact form, or an event built already (Trent's own notices). */
export type AuditBatchEntry = CompactAuditEvent | AuditEventInput;

/** eventTime: ISO 8601 to the second, as CloudTrail writes it. */
export const isoSeconds = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
export const accountOfArn = (arn: string): string => arn.split(':')[4] ?? '';

/**
 * The event of an API call. Members in canonical (sorted) order, undefined ones left out by JSON.stringify: the JSON
 * is canonical as built (domain/audit-chain.ts canonicalJson; a unit test checks they agree).
 */
export function eventFromCompact(c: CompactAuditEvent): AuditEventInput {
  const [eventId, time, requestId, sourceIp, userAgent, eventName, readOnly, region, principalArn, account, accessKeyId, resourceArn, errorCode, errorMessage, requestParameters, responseElements, omitted] = c;
  const event: CloudTrailEvent = {
    awsRegion: region,
    errorCode: errorCode ?? undefined,
    errorMessage: errorCode === null ? undefined : (errorMessage ?? ''),
    eventCategory: 'Management',
    eventID: eventId,
    eventName,
    eventSource: 'kms.amazonaws.com',
    eventTime: isoSeconds(time),
    eventType: 'AwsApiCall',
    eventVersion: EVENT_VERSION,
    managementEvent: true,
    omitted: omitted === true ? true : undefined,
    readOnly,
    recipientAccountId: account ?? '',
    requestID: requestId,
    requestParameters,
    resources: resourceArn === null ? undefined : [{ ARN: resourceArn, accountId: accountOfArn(resourceArn), type: 'AWS::KMS::Key' }],
    responseElements: responseElements && Object.keys(responseElements).length > 0 ? responseElements : null,
    sourceIPAddress: sourceIp,
    userAgent,
    userIdentity: userIdentityOf(principalArn ?? undefined, account ?? '', accessKeyId ?? undefined),
  };
  return auditColumns(event, JSON.stringify(event));
}

/** The batch as one string: one JSON.stringify for the whole batch, and no structured clone of objects to a worker. */
export const packAuditBatch = (entries: readonly AuditBatchEntry[]): string => JSON.stringify(entries);

/** The events of a packed batch, in order; the API calls' events are built here. */
export function unpackAuditBatch(packed: string): AuditEventInput[] {
  const entries = JSON.parse(packed) as AuditBatchEntry[];
  if (!Array.isArray(entries)) throw new Error('audit batch: not a list');
  return entries.map((e) => (Array.isArray(e) ? eventFromCompact(e) : e));
}
