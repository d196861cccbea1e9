// The CloudTrail event shape Trent records (docs/audit.md), and the lookup columns derived from it.
import { KeyLastUsageTrackingOperationValues } from '../model/kms-model.generated.js';
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
