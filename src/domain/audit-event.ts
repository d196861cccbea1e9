// The CloudTrail event shape Trent records (docs/audit.md), and the lookup columns derived from it.
import { KeyLastUsageTrackingOperationValues, type OperationName } from '../model/kms-model.generated.js';
import type { AuditEventInput } from './ports.js';

export interface UserIdentity {
  readonly type: 'Root' | 'IAMUser' | 'AssumedRole' | 'Role' | 'Unknown';
  readonly principalId?: string;
  readonly arn?: string;
  readonly accountId?: string;
  readonly accessKeyId?: string;
  readonly userName?: string;
  readonly sessionContext?: { readonly sessionIssuer: { readonly type: 'Role'; readonly arn: string; readonly accountId: string; readonly userName: string } };
}

export interface CloudTrailEvent {
  readonly eventVersion: string;
  readonly userIdentity: UserIdentity;
  readonly eventTime: string;
  readonly eventSource: 'kms.amazonaws.com';
  readonly eventName: string;
  readonly awsRegion: string;
  readonly sourceIPAddress: string;
  readonly userAgent: string;
  readonly errorCode?: string | undefined;
  readonly errorMessage?: string | undefined;
  /** CloudTrail: present (true) when a field was truncated to its maximum size. */
  readonly omitted?: true | undefined;
  readonly requestParameters: Record<string, unknown> | null;
  readonly responseElements: Record<string, unknown> | null;
  readonly requestID: string;
  readonly eventID: string;
  readonly readOnly: boolean;
  readonly resources?: readonly { readonly ARN: string; readonly accountId: string; readonly type: 'AWS::KMS::Key' }[] | undefined;
  readonly eventType: 'AwsApiCall' | 'AwsServiceEvent';
  readonly managementEvent: boolean;
  readonly recipientAccountId: string;
  readonly eventCategory: 'Management';
  readonly serviceEventDetails?: Record<string, unknown>;
}

/**
 * userIdentity of a caller from its principal ARN (arn:aws:iam::<account>:root | :user/<name> | :role/<name> |
 * arn:aws:sts::<account>:assumed-role/<role>/<session>); without one (the request did not authenticate), the access
 * key the request claimed, if any. Keys in canonical (sorted) order.
 */
export function userIdentityOf(arn: string | undefined, accountId: string, accessKeyId: string | undefined): UserIdentity {
  if (arn === undefined) return accessKeyId === undefined ? { type: 'Unknown' } : { accessKeyId, type: 'Unknown' };
  const resource = arn.split(':').slice(5).join(':');
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

/**
 * A UUID version 7 (RFC 9562): 48 bits of milliseconds, then random bits. Event ids in time order make the
 * event-id index grow at its end instead of at random places: appending costs about a third less.
 */
export function uuidV7(ms: number, random: Buffer): string {
  const b = Buffer.alloc(16);
  b.writeUIntBE(ms, 0, 6);
  random.copy(b, 6, 0, 10);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const TRACKED: ReadonlySet<string> = new Set(KeyLastUsageTrackingOperationValues);

/** The name LookupEvents' Username attribute matches. */
export function usernameOf(u: UserIdentity): string | undefined {
  if (u.type === 'Root') return 'root';
  if (u.userName) return u.userName;
  if (u.type === 'AssumedRole' && u.arn) return u.arn.slice(u.arn.lastIndexOf('/') + 1);
  return undefined;
}

/** Lookup columns of an event; `trent audit verify` recomputes them from the stored JSON to catch an edited column. */
export function auditColumns(e: CloudTrailEvent, json: string): AuditEventInput {
  const resource = e.resources?.[0];
  return {
    eventId: e.eventID,
    eventTime: Date.parse(e.eventTime),
    eventName: e.eventName,
    account: e.recipientAccountId,
    resourceAccount: resource?.accountId,
    keyArn: resource?.ARN,
    principal: e.userIdentity.arn,
    username: usernameOf(e.userIdentity),
    readOnly: e.readOnly,
    usage: e.errorCode === undefined && e.eventType === 'AwsApiCall' && resource !== undefined && TRACKED.has(e.eventName) ? e.eventName : undefined,
    requestId: e.requestID,
    json,
  };
}

/**
 * An event a request causes in another Region or on another resource, recorded as that operation by the same caller
 * (ReplicateKey: "records a ReplicateKey operation in the primary key's Region and a CreateKey operation in the replica
 * key's Region", API_ReplicateKey).
 */
export interface AuditCompanion {
  readonly operation: OperationName;
  readonly region: string;
  readonly resourceArn: string;
  /** Request parameters and response elements as that operation's input and output shapes (audited views are taken). */
  readonly input?: unknown;
  readonly output?: unknown;
}
