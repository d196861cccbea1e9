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
  /**
   * For an allow: true when no allowing statement names the caller other than through its account (the account's
   * root ARN or id). Such an allow delegates to the caller's identity (IAM) policies, which must then allow too.
   */
  readonly viaAccount?: boolean;
}

function principalMatches(set: PrincipalSet, arnLower: string, account: string): boolean {
  // An account's root principal in a key policy names the account: every principal of it matches, and its IAM
  // policies then decide (key-policy-default.html).
  return set.any || set.arns.has(arnLower) || set.accounts.has(account);
}

/** Whether a statement that applies names the caller itself ('*' or its ARN), not only its account. */
const namesCallerDirectly = (st: CompiledStatement, arnLower: string): boolean =>
  !st.principal || st.principal.any || st.principal.arns.has(arnLower);

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
  let direct = false;
  for (const st of policy.statements) {
    if (st.effect === 'Allow' && direct) continue;
    if (!statementApplies(st, req, arnLower)) continue;
    if (st.effect === 'Deny') return { decision: 'deny', statement: st };
    if (!allow || namesCallerDirectly(st, arnLower)) {
      allow = st;
      direct = namesCallerDirectly(st, arnLower);
    }
  }
  return allow ? { decision: 'allow', statement: allow, viaAccount: !direct } : { decision: 'implicitDeny' };
}
