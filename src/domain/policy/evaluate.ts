// The decision of one key policy for one request (KMS Developer Guide, "Determining access to an AWS KMS key";
// IAM User Guide, "Policy evaluation logic"): an explicit Deny wins, then an Allow, otherwise an implicit deny.
import type { ConditionLookup } from './conditions.js';
import type { CompiledPolicy, CompiledStatement, PrincipalSet } from './document.js';

export type Decision = 'allow' | 'deny' | 'implicitDeny';

export interface EvaluationRequest {
  /** The caller's ARN, e.g. arn:aws:iam::111122223333:root or :user/Alice. */
  readonly principalArn: string;
  readonly principalAccount: string;
  /** e.g. "kms:Encrypt". */
  readonly action: string;
  /** The key ARN. */
  readonly resource: string;
  /** Condition keys; only consulted when a statement has a Condition. */
  readonly conditions: ConditionLookup;
}

export interface Evaluation {
  readonly decision: Decision;
  /** The statement that decided (the first Deny, or the first Allow), for logs and tests. */
  readonly statement?: CompiledStatement;
}

function principalMatches(set: PrincipalSet, arnLower: string, account: string): boolean {
  // An account's root principal in a key policy names the account: every principal of it matches, and its IAM
  // policies then decide (key-policy-default.html). Trent has no IAM policies yet; see docs/access-control.md.
  return set.any || set.arns.has(arnLower) || set.accounts.has(account);
}

function statementApplies(st: CompiledStatement, req: EvaluationRequest, arnLower: string): boolean {
  if (st.principal && !principalMatches(st.principal, arnLower, req.principalAccount)) return false;
  if (st.notPrincipal && principalMatches(st.notPrincipal, arnLower, req.principalAccount)) return false;
  if (st.action && !st.action.some((m) => m(req.action))) return false;
  if (st.notAction && st.notAction.some((m) => m(req.action))) return false;
  if (st.resource && !st.resource.some((m) => m(req.resource))) return false;
  if (st.notResource && st.notResource.some((m) => m(req.resource))) return false;
  for (const c of st.conditions) if (!c.test(req.conditions)) return false;
  return true;
}

export function evaluatePolicy(policy: CompiledPolicy, req: EvaluationRequest): Evaluation {
  const arnLower = req.principalArn.toLowerCase();
  let allow: CompiledStatement | undefined;
  for (const st of policy.statements) {
    if (st.effect === 'Allow' && allow) continue;
    if (!statementApplies(st, req, arnLower)) continue;
    if (st.effect === 'Deny') return { decision: 'deny', statement: st };
    allow = st;
  }
  return allow ? { decision: 'allow', statement: allow } : { decision: 'implicitDeny' };
}
