// Parsing of the IAM policy language as a key policy uses it (IAM User Guide, "IAM JSON policy element reference").
// A document is parsed once into a compiled form that evaluate.ts walks on every request.
import { malformed } from './malformed.js';
import { compileCondition, type CompiledCondition } from './conditions.js';
import { globMatcher } from './glob.js';

export type Effect = 'Allow' | 'Deny';

/** A principal element: '*' matches everyone; AWS ARNs are matched exactly; account roots match the whole account. */
export interface PrincipalSet {
  readonly any: boolean;
  /** Lower-cased AWS principal ARNs (an account id is stored as arn:aws:iam::<id>:root). */
  readonly arns: ReadonlySet<string>;
  /** Accounts named by their root ARN: every principal of that account matches (the key policy delegates to IAM). */
  readonly accounts: ReadonlySet<string>;
}

export interface CompiledStatement {
  readonly sid: string | undefined;
  readonly effect: Effect;
  readonly principal: PrincipalSet | undefined;
  readonly notPrincipal: PrincipalSet | undefined;
  readonly action: readonly ((s: string) => boolean)[] | undefined;
  readonly notAction: readonly ((s: string) => boolean)[] | undefined;
  readonly resource: readonly ((s: string) => boolean)[] | undefined;
  readonly notResource: readonly ((s: string) => boolean)[] | undefined;
  readonly conditions: readonly CompiledCondition[];
}

export interface CompiledPolicy {
  readonly statements: readonly CompiledStatement[];
  /** True when some statement has a Condition: evaluation then needs the request's condition keys. */
  readonly hasConditions: boolean;
  /**
   * The condition keys the document tests, lower-cased (Condition keys, and the keys named by policy variables), so that
   * a caller can fetch only what a policy asks for (aws:ResourceTag/*, kms:ResourceAliases: see docs/access-control.md).
   */
  readonly conditionKeys: ReadonlySet<string>;
}

export { malformed };

const ACCOUNT_ID = /^\d{12}$/;
const ROOT_ARN = /^arn:[a-z-]+:iam::(\d{12}):root$/;

const TOP_LEVEL = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);

function stringList(value: unknown, element: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw malformed(`Policy contains a statement with an empty ${element}.`);
  for (const v of list) if (typeof v !== 'string') throw malformed(`Policy contains a statement with an invalid ${element}.`);
  return list as string[];
}

function principalSet(value: unknown, element: string): PrincipalSet {
  if (value === '*') return { any: true, arns: new Set(), accounts: new Set() };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(`Policy contains a statement with an invalid ${element}.`);
  let any = false;
  const arns = new Set<string>();
  const accounts = new Set<string>();
  for (const [type, v] of Object.entries(value as Record<string, unknown>)) {
    if (!['AWS', 'Service', 'Federated', 'CanonicalUser'].includes(type)) throw malformed(`Policy contains a statement with an invalid ${element}.`);
    for (const p of stringList(v, element)) {
      if (type !== 'AWS') {
        // Service and federated principals never call Trent yet: they are kept so that the document stays valid.
        arns.add(`${type.toLowerCase()}:${p.toLowerCase()}`);
        continue;
      }
      if (p === '*') {
        any = true;
        continue;
      }
      const arn = ACCOUNT_ID.test(p) ? `arn:aws:iam::${p}:root` : p;
      if (!arn.startsWith('arn:')) throw malformed(`Policy contains a statement with one or more invalid principals.`);
      const root = ROOT_ARN.exec(arn);
      if (root) accounts.add(root[1]!);
      arns.add(arn.toLowerCase());
    }
  }
  return { any, arns, accounts };
}

function matchers(value: unknown, element: string, caseInsensitive: boolean): ((s: string) => boolean)[] {
  return stringList(value, element).map((p) => globMatcher(p, caseInsensitive));
}

/** Parses and compiles a key policy document; MalformedPolicyDocumentException when AWS would refuse it. */
/**
 * A key policy is resource-based: every statement names a Principal or NotPrincipal. An identity (IAM) policy is
 * attached to a user or role and must name none (IAM: "Policy document should not specify a principal").
 */
export type PolicyKind = 'resource' | 'identity';

export function compilePolicy(text: string, kind: PolicyKind = 'resource'): CompiledPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('The policy is not valid JSON.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed('The policy is not a JSON object.');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!TOP_LEVEL.has(k)) throw malformed(`Policy contains an unknown element: ${k}.`);
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') throw malformed('Policy contains an invalid Version.');
  if (!('Statement' in d)) throw malformed('Policy contains a statement with no principal or no statement.');
  const raw = Array.isArray(d.Statement) ? d.Statement : [d.Statement];
  if (raw.length === 0) throw malformed('Policy contains no statement.');
  const keys = new Set<string>();
  const statements = raw.map((st) => compileStatement(st, kind, d.Version === '2012-10-17', keys));
  return { statements, hasConditions: statements.some((s) => s.conditions.length > 0), conditionKeys: keys };
}

function compileStatement(st: unknown, kind: PolicyKind, variables: boolean, keys: Set<string>): CompiledStatement {
  if (typeof st !== 'object' || st === null || Array.isArray(st)) throw malformed('Policy contains an invalid statement.');
  const s = st as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!STATEMENT_KEYS.has(k)) throw malformed(`Policy contains a statement with an unknown element: ${k}.`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed('Policy contains a statement with an invalid Effect.');
  if (s.Sid !== undefined && typeof s.Sid !== 'string') throw malformed('Policy contains a statement with an invalid Sid.');
  const pairs: [string, string][] = [['Principal', 'NotPrincipal'], ['Action', 'NotAction'], ['Resource', 'NotResource']];
  for (const [a, b] of pairs) if (a in s && b in s) throw malformed(`Policy contains a statement with both ${a} and ${b}.`);
  if (kind === 'resource' && !('Principal' in s) && !('NotPrincipal' in s)) throw malformed('Policy contains a statement with no principal.');
  if (kind === 'identity' && ('Principal' in s || 'NotPrincipal' in s)) throw malformed('Policy document should not specify a principal.');
  if (!('Action' in s) && !('NotAction' in s)) throw malformed('Policy contains a statement with no action.');
  const conditions: CompiledCondition[] = [];
  if (s.Condition !== undefined) {
    if (typeof s.Condition !== 'object' || s.Condition === null || Array.isArray(s.Condition)) throw malformed('Policy contains a statement with an invalid Condition.');
    for (const [op, block] of Object.entries(s.Condition as Record<string, unknown>)) {
      if (typeof block !== 'object' || block === null || Array.isArray(block)) throw malformed(`Policy contains an invalid Condition block for ${op}.`);
      for (const [key, values] of Object.entries(block as Record<string, unknown>)) {
        const list = Array.isArray(values) ? values : [values];
        if (list.some((v) => typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')) {
          throw malformed(`Policy contains an invalid value for condition key ${key}.`);
        }
        const strings = list.map(String);
        keys.add(key.toLowerCase());
        if (variables) for (const v of strings) for (const m of v.matchAll(/\$\{([^},]+)/g)) keys.add(m[1]!.trim().toLowerCase());
        conditions.push(compileCondition(op, key, strings, { variables }));
      }
    }
  }
  return {
    sid: s.Sid as string | undefined,
    effect: s.Effect,
    principal: 'Principal' in s ? principalSet(s.Principal, 'Principal') : undefined,
    notPrincipal: 'NotPrincipal' in s ? principalSet(s.NotPrincipal, 'NotPrincipal') : undefined,
    action: 'Action' in s ? matchers(s.Action, 'Action', true) : undefined,
    notAction: 'NotAction' in s ? matchers(s.NotAction, 'NotAction', true) : undefined,
    // AWS: a statement without Resource has no effect in a key policy (API_PutKeyPolicy); it stays valid.
    resource: 'Resource' in s ? matchers(s.Resource, 'Resource', false) : [],
    notResource: 'NotResource' in s ? matchers(s.NotResource, 'NotResource', false) : undefined,
    conditions,
  };
}
