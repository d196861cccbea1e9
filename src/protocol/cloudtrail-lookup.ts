// CloudTrail's LookupEvents over AWS JSON 1.1 (docs/audit.md), so that `aws cloudtrail lookup-events --endpoint-url`
// reads Trent's audit trail. SigV4 with the service `cloudtrail`; a caller sees the events of its own account only.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator } from '../auth/authenticator.js';
import { KmsError } from '../domain/errors.js';
import type { AuditEventRecord, AuditQuery, AuditStore } from '../domain/ports.js';
import { send, type ExtraRoute } from './http-handler.js';

export const CLOUDTRAIL_TARGET_PREFIX = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101';

/** Flushes the trail's queue first, so that a lookup right after a request sees its event. */
export interface LookupDeps {
  readonly authenticator: Authenticator;
  readonly store: Pick<AuditStore, 'queryAuditEvents'>;
  readonly flush: () => Promise<void>;
}

const MAX_RESULTS = 50;

class LookupError extends Error {
  constructor(readonly type: string, message: string) {
    super(message);
  }
}

interface LookupAttribute {
  readonly AttributeKey?: unknown;
  readonly AttributeValue?: unknown;
}

/** The query a LookupEvents request asks for; `undefined` when it can match nothing (another event source). */
export function lookupQuery(body: Record<string, unknown>, account: string, region: string): AuditQuery | undefined {
  const attrs = (body.LookupAttributes ?? []) as LookupAttribute[];
  if (!Array.isArray(attrs) || attrs.length > 1) throw new LookupError('InvalidLookupAttributesException', 'You can only specify one lookup attribute.');
  const max = body.MaxResults ?? MAX_RESULTS;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_RESULTS) {
    throw new LookupError('InvalidMaxResultsException', `MaxResults must be a whole number from 1 to ${MAX_RESULTS}.`);
  }
  const seconds = (name: string): number | undefined => {
    const v = body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new LookupError('SerializationException', `${name} must be a timestamp.`);
    return Math.round(v * 1000);
  };
  const startTime = seconds('StartTime');
  const endTime = seconds('EndTime');
  if (startTime !== undefined && endTime !== undefined && startTime > endTime) {
    throw new LookupError('InvalidTimeRangeException', 'Start time must be before end time.');
  }
  let beforeSeq: number | undefined;
  if (body.NextToken !== undefined) {
    const n = typeof body.NextToken === 'string' ? Number(Buffer.from(body.NextToken, 'base64url').toString('utf8')) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new LookupError('InvalidNextTokenException', 'Invalid NextToken.');
    beforeSeq = n;
  }
  const q: { -readonly [K in keyof AuditQuery]: AuditQuery[K] } = { account, limit: max, startTime, endTime, beforeSeq };
  const attr = attrs[0];
  if (attr) {
    const key = attr.AttributeKey;
    const value = attr.AttributeValue;
    if (typeof value !== 'string' || value.length === 0) throw new LookupError('InvalidLookupAttributesException', 'AttributeValue must be a non-empty string.');
    switch (key) {
      case 'EventId':
        q.eventId = value;
        break;
      case 'EventName':
        q.eventName = value;
        break;
      case 'ReadOnly':
        if (value !== 'true' && value !== 'false') throw new LookupError('InvalidLookupAttributesException', 'ReadOnly must be true or false.');
        q.readOnly = value === 'true';
        break;
      case 'Username':
        q.username = value;
        break;
      case 'ResourceName':
        if (value.startsWith('arn:')) q.keyArn = value;
        else q.keyArn = `arn:aws:kms:${region}:${account}:key/${value}`;
        break;
      case 'ResourceType':
        if (value !== 'AWS::KMS::Key') return undefined;
        break;
      case 'EventSource':
        if (value !== 'kms.amazonaws.com') return undefined;
        break;
      default:
        throw new LookupError('InvalidLookupAttributesException', `Lookup attribute ${String(key)} is not supported by Trent (EventId, EventName, ReadOnly, Username, ResourceName, ResourceType, EventSource).`);
    }
  }
  return q;
}

/** One event as LookupEvents returns it: a summary and the whole event as a JSON string. */
export function lookupEvent(e: AuditEventRecord): Record<string, unknown> {
  const event = JSON.parse(e.json) as { userIdentity?: { accessKeyId?: string } };
  return {
    EventId: e.eventId,
    EventName: e.eventName,
    ReadOnly: String(e.readOnly),
    ...(event.userIdentity?.accessKeyId !== undefined && { AccessKeyId: event.userIdentity.accessKeyId }),
    EventTime: e.eventTime / 1000,
    EventSource: 'kms.amazonaws.com',
    ...(e.username !== undefined && { Username: e.username }),
    Resources: e.keyArn === undefined ? [] : [{ ResourceType: 'AWS::KMS::Key', ResourceName: e.keyArn }],
    CloudTrailEvent: e.json,
  };
}

export function lookupEventsRoute(deps: LookupDeps): ExtraRoute {
  return async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (req.method !== 'POST' || !target.startsWith(`${CLOUDTRAIL_TARGET_PREFIX}.`)) return false;
    try {
      const operation = target.slice(CLOUDTRAIL_TARGET_PREFIX.length + 1);
      const auth = await deps.authenticator.authenticate({ method: 'POST', url: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders, body });
      if (operation !== 'LookupEvents') throw new LookupError('UnsupportedOperationException', `Trent serves CloudTrail's LookupEvents only, not ${operation}.`);
      let json: unknown;
      try {
        json = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        throw new LookupError('SerializationException', 'The request body is not valid JSON.');
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new LookupError('SerializationException', 'Expected a JSON object.');
      const query = lookupQuery(json as Record<string, unknown>, auth.identity.account, auth.region);
      if (!query) {
        send(res, 200, { Events: [] });
        return true;
      }
      await deps.flush();
      const events = await deps.store.queryAuditEvents(query);
      const more = events.length === query.limit ? events[events.length - 1]!.seq : undefined;
      send(res, 200, {
        Events: events.map(lookupEvent),
        ...(more !== undefined && more > 1 && { NextToken: Buffer.from(String(more)).toString('base64url') }),
      });
    } catch (err) {
      if (err instanceof LookupError) send(res, 400, { __type: err.type, message: err.message });
      else if (err instanceof KmsError) send(res, err.status, { __type: err.type, message: err.message });
      else throw err;
    }
    return true;
  };
}
