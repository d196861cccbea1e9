import type { GrantOperation } from '../model/kms-model.generated.js';
import type { GrantConstraintsRecord, GrantRecord } from '../domain/ports.js';

/** A grants row as both backends store it (operations and constraints as JSON text; dates in ms). */
export interface GrantRow {
  key_arn: string; grant_id: string; account: string; region: string; name: string | null; grantee_principal: string;
  retiring_principal: string | null; issuing_account: string; operations: string; constraints: string | null;
  creation_date: number | string;
}

export const GRANT_COLUMNS =
  'key_arn, grant_id, account, region, name, grantee_principal, retiring_principal, issuing_account, operations, constraints, creation_date';

export function toGrant(r: GrantRow): GrantRecord {
  const constraints = r.constraints === null ? undefined : (JSON.parse(r.constraints) as GrantConstraintsRecord);
  return {
    keyArn: r.key_arn, account: r.account, region: r.region, grantId: r.grant_id,
    ...(r.name !== null && { name: r.name }),
    granteePrincipal: r.grantee_principal,
    ...(r.retiring_principal !== null && { retiringPrincipal: r.retiring_principal }),
    issuingAccount: r.issuing_account,
    operations: JSON.parse(r.operations) as GrantOperation[],
    ...(constraints !== undefined && { constraints }),
    creationDate: new Date(Number(r.creation_date)),
  };
}

/** The column values of a grant, in GRANT_COLUMNS order. */
export function grantValues(g: GrantRecord): unknown[] {
  return [
    g.keyArn, g.grantId, g.account, g.region, g.name ?? null, g.granteePrincipal, g.retiringPrincipal ?? null, g.issuingAccount,
    JSON.stringify(g.operations), g.constraints === undefined ? null : JSON.stringify(g.constraints), g.creationDate.getTime(),
  ];
}

/** "<key ARN> <grant id>": the sort key of ListRetirableGrants (an ARN holds no space). */
export const retirableSortKey = (g: GrantRecord): string => `${g.keyArn} ${g.grantId}`;
export function splitRetirableSortKey(after: string | undefined): [string, string] {
  if (after === undefined) return ['', ''];
  const at = after.lastIndexOf(' ');
  return at < 0 ? [after, ''] : [after.slice(0, at), after.slice(at + 1)];
}
