// Condition operators of the IAM policy language (IAM User Guide, "IAM JSON policy elements: Condition operators").
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { malformed } from './malformed.js';
import { globMatcher } from './glob.js';

/** The request's condition keys: a lower-cased key name → its value(s); undefined when the request has no such key. */
export type ConditionLookup = (lowerKey: string) => string | readonly string[] | undefined;

export interface CompiledCondition {
  readonly operator: string;
  readonly key: string;
  test(lookup: ConditionLookup): boolean;
}

export interface ConditionOptions {
  /**
   * Policy variables (`${aws:username}`, `${aws:PrincipalAccount}`, `${kms:CallerAccount, 'default'}`, `${*}`): only in
   * documents of Version 2012-10-17 (IAM User Guide, "IAM policy elements: Variables and tags"); elsewhere literal.
   */
  readonly variables?: boolean;
}

const VARIABLE = /\$\{([^}]*)\}/g;
const SPECIAL: Record<string, string> = { '*': '*', '?': '?', $: '$' };

/**
 * Substitutes the policy variables of one condition value from the request's condition keys. A variable whose key the
 * request lacks (and that has no default) leaves the value unusable: undefined (IAM: the element does not match).
 * In a String*Like value `${*}` and `${?}` stand for literal characters, which the wildcard matcher cannot express:
 * Trent keeps them as wildcards there (documented in docs/access-control.md).
 */
function substitute(value: string, lookup: ConditionLookup): string | undefined {
  let missing = false;
  const out = value.replace(VARIABLE, (_, inner: string) => {
    const body = inner.trim();
    if (Object.hasOwn(SPECIAL, body)) return SPECIAL[body]!;
    const m = /^([^,]+?)\s*(?:,\s*'([^']*)'\s*)?$/.exec(body);
    const v = m ? lookup(m[1]!.toLowerCase()) : undefined;
    const single = typeof v === 'string' ? v : undefined;
    if (single !== undefined) return single;
    if (m?.[2] !== undefined) return m[2];
    missing = true;
    return '';
  });
  return missing ? undefined : out;
}

type Pred = (requestValue: string) => boolean;

/** Builds, from the policy's values, a test of one request value; `negated` operators match when no policy value does. */
interface OperatorDef {
  readonly negated: boolean;
  build(values: readonly string[]): Pred;
}

const anyOf = (preds: Pred[]): Pred => (v) => preds.some((p) => p(v));

const stringOp = (negated: boolean, ignoreCase: boolean, like: boolean): OperatorDef => ({
  negated,
  build: (values) => anyOf(values.map((p) => (like ? globMatcher(p, ignoreCase) : ignoreCase ? (v: string) => v.toLowerCase() === p.toLowerCase() : (v: string) => v === p))),
});

const parseNumber = (s: string): number => (/^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(s) ? Number(s) : NaN);
const numericOp = (cmp: (a: number, b: number) => boolean, negated = false): OperatorDef => ({
  negated,
  build: (values) => {
    const nums = values.map((v) => {
      const n = parseNumber(v);
      if (Number.isNaN(n)) throw malformed(`Policy contains an invalid numeric value: ${v}.`);
      return n;
    });
    return (v) => {
      const n = parseNumber(v);
      return !Number.isNaN(n) && nums.some((b) => cmp(n, b));
    };
  },
});

/** Dates: ISO 8601 or epoch seconds (IAM User Guide, "Date condition operators"). */
const parseDate = (s: string): number => (/^\d+$/.test(s) ? Number(s) * 1000 : /^\d{4}-\d{2}-\d{2}/.test(s) ? Date.parse(s) : NaN);
const dateOp = (cmp: (a: number, b: number) => boolean, negated = false): OperatorDef => ({
  negated,
  build: (values) => {
    const dates = values.map((v) => {
      const d = parseDate(v);
      if (Number.isNaN(d)) throw malformed(`Policy contains an invalid date value: ${v}.`);
      return d;
    });
    return (v) => {
      const d = parseDate(v);
      return !Number.isNaN(d) && dates.some((b) => cmp(d, b));
    };
  },
});

const ipOp = (negated: boolean): OperatorDef => ({
  negated,
  build: (values) => {
    const list = new BlockList();
    for (const v of values) {
      const [addr, bits] = v.split('/');
      const family = isIPv4(addr ?? '') ? 'ipv4' : isIPv6(addr ?? '') ? 'ipv6' : undefined;
      const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits);
      if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) throw malformed(`Policy contains an invalid IP address: ${v}.`);
      list.addSubnet(addr!, prefix, family);
    }
    return (v) => (isIPv4(v) ? list.check(v, 'ipv4') : isIPv6(v) ? list.check(v, 'ipv6') : false);
  },
});

/** ArnEquals and ArnLike behave alike: each of the six colon-separated parts is matched with wildcards. */
const arnOp = (negated: boolean): OperatorDef => ({
  negated,
  build: (values) => {
    const matchers = values.map((p) => {
      const parts = p.split(':');
      if (parts.length < 6 && p !== '*') throw malformed(`Policy contains an invalid ARN pattern: ${p}.`);
      return globMatcher(p, false);
    });
    return (v) => v.split(':').length >= 6 && matchers.some((m) => m(v));
  },
});

const OPERATORS: Record<string, OperatorDef> = {
  stringequals: stringOp(false, false, false),
  stringnotequals: stringOp(true, false, false),
  stringequalsignorecase: stringOp(false, true, false),
  stringnotequalsignorecase: stringOp(true, true, false),
  stringlike: stringOp(false, false, true),
  stringnotlike: stringOp(true, false, true),
  numericequals: numericOp((a, b) => a === b),
  numericnotequals: numericOp((a, b) => a === b, true),
  numericlessthan: numericOp((a, b) => a < b),
  numericlessthanequals: numericOp((a, b) => a <= b),
  numericgreaterthan: numericOp((a, b) => a > b),
  numericgreaterthanequals: numericOp((a, b) => a >= b),
  dateequals: dateOp((a, b) => a === b),
  datenotequals: dateOp((a, b) => a === b, true),
  datelessthan: dateOp((a, b) => a < b),
  datelessthanequals: dateOp((a, b) => a <= b),
  dategreaterthan: dateOp((a, b) => a > b),
  dategreaterthanequals: dateOp((a, b) => a >= b),
  bool: { negated: false, build: (values) => anyOf(values.map((p) => (v: string) => v.toLowerCase() === p.toLowerCase())) },
  binaryequals: stringOp(false, false, false),
  ipaddress: ipOp(false),
  notipaddress: ipOp(true),
  arnequals: arnOp(false),
  arnlike: arnOp(false),
  arnnotequals: arnOp(true),
  arnnotlike: arnOp(true),
};

/**
 * One operator applied to one condition key. AWS's rules: several policy values are ORed (NORed for negated
 * operators); a key the request lacks makes the condition false, except for negated operators (true), ...IfExists
 * (true) and Null. ForAnyValue / ForAllValues compare each value of a multivalued key; ForAllValues is true when the
 * request has no value, ForAnyValue false.
 */
export function compileCondition(operatorName: string, key: string, values: readonly string[], options: ConditionOptions = {}): CompiledCondition {
  let op = operatorName;
  let qualifier: 'any' | 'all' | undefined;
  if (op.startsWith('ForAnyValue:')) {
    qualifier = 'any';
    op = op.slice('ForAnyValue:'.length);
  } else if (op.startsWith('ForAllValues:')) {
    qualifier = 'all';
    op = op.slice('ForAllValues:'.length);
  }
  const ifExists = op.endsWith('IfExists');
  if (ifExists) op = op.slice(0, -'IfExists'.length);
  const lowerKey = key.toLowerCase();
  if (values.length === 0) throw malformed(`Policy contains a condition with no values for ${key}.`);

  if (op === 'Null') {
    if (qualifier || ifExists) throw malformed(`Policy contains an invalid condition operator: ${operatorName}.`);
    const wantAbsent = values.map((v) => v.toLowerCase());
    if (wantAbsent.some((v) => v !== 'true' && v !== 'false')) throw malformed(`Policy contains an invalid Null condition value for ${key}.`);
    return {
      operator: operatorName,
      key,
      test: (lookup) => {
        const v = lookup(lowerKey);
        const absent = v === undefined || (Array.isArray(v) && v.length === 0);
        return wantAbsent.some((w) => (w === 'true') === absent);
      },
    };
  }
  const def = OPERATORS[op.toLowerCase()];
  if (!def || !/^[A-Za-z]+$/.test(op) || op[0] !== op[0]!.toUpperCase()) throw malformed(`Policy contains an invalid condition operator: ${operatorName}.`);
  const withVariables = options.variables === true && values.some((v) => v.includes('${'));
  // Values without variables are checked when the policy is put; those with variables when a request fills them in.
  const matchesAny = def.build(withVariables ? values.filter((v) => !v.includes('${')) : values);
  // With variables, the policy values are known per request only: built then (cost paid by such policies only).
  const matcherFor = (lookup: ConditionLookup): Pred => {
    if (!withVariables) return matchesAny;
    const resolved = values.map((v) => substitute(v, lookup)).filter((v): v is string => v !== undefined);
    try {
      return resolved.length === 0 ? () => false : def.build(resolved);
    } catch {
      return () => false; // a substituted value the operator cannot read (a name where a number goes) matches nothing
    }
  };
  return {
    operator: operatorName,
    key,
    test: (lookup) => {
      const m = matcherFor(lookup);
      // One request value satisfies the operator: it matches some policy value (not-operators: it matches none).
      const one: Pred = def.negated ? (v) => !m(v) : m;
      const raw = lookup(lowerKey);
      const list: readonly string[] = raw === undefined ? [] : typeof raw === 'string' ? [raw] : raw;
      if (qualifier === 'all') return list.every(one);
      if (qualifier === 'any') return list.some(one);
      if (list.length === 0) return ifExists || def.negated;
      // A single-valued operator on a multivalued key: satisfied when some value satisfies it (documented in access-control.md).
      return list.some(one);
    },
  };
}
