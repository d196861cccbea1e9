// Principals (issue #6): accounts, IAM users and roles, their inline identity policies and their access keys.
// The rules here are IAM's ("IAM and AWS STS quotas": name requirements and object quotas).
import { compilePolicy, type CompiledPolicy } from './policy/index.js';

export type PrincipalKind = 'user' | 'role';

export interface PrincipalRecord {
  readonly account: string;
  readonly kind: PrincipalKind;
  /** As created (case kept); unique per account and kind without regard to case, as IAM's names are. */
  readonly name: string;
  /** IAM path: "/" or "/a/b/", part of the ARN. */
  readonly path: string;
  /** arn:aws:iam::<account>:user<path><name> or :role<path><name>. */
  readonly arn: string;
  readonly createdAt: Date;
}

/** An inline identity (IAM) policy embedded in a user or role. */
export interface IdentityPolicyRecord {
  readonly principalArn: string;
  readonly policyName: string;
  /** The policy document as given (JSON text). */
  readonly document: string;
}

/**
 * The setting every change to principals, identity policies or access keys increments, in the same transaction: a
 * node that sees a new value drops what it cached about callers (see auth/identity-resolver.ts).
 */
export const IAM_GENERATION_SETTING = 'iam.generation';

/** Raised for a principal, policy or access key request that IAM would refuse; `code` is IAM's error code. */
export class PrincipalError extends Error {
  constructor(
    readonly code: 'ValidationError' | 'NoSuchEntity' | 'EntityAlreadyExists' | 'LimitExceeded' | 'MalformedPolicyDocument',
    message: string,
  ) {
    super(message);
    this.name = 'PrincipalError';
  }
}

export const ACCOUNT_ID = /^\d{12}$/;
/** Users and roles: 1-64 characters of [\w+=,.@-]. */
const ENTITY_NAME = /^[\w+=,.@-]{1,64}$/;
/** Inline policy names: 1-128 characters of [\w+=,.@-]. */
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
/** IAM path: "/" or "/.../" of printable ASCII, at most 512 characters. */
const PATH = /^(\/|\/[\u0021-\u007e]+\/)$/;
/** IAM access key ids: 16-128 word characters. */
const ACCESS_KEY_ID = /^\w{16,128}$/;

/** Aggregate size of a principal's inline policies, in characters other than white space (IAM quotas). */
export const INLINE_POLICY_QUOTA: Readonly<Record<PrincipalKind, number>> = { user: 2048, role: 10240 };
/** IAM: two access keys per user (and here per role). */
export const ACCESS_KEYS_PER_PRINCIPAL = 2;

export function checkAccount(account: string): void {
  if (!ACCOUNT_ID.test(account)) throw new PrincipalError('ValidationError', `the account id must be 12 digits, not ${JSON.stringify(account)}`);
}

export function checkPrincipalName(kind: PrincipalKind, name: string): void {
  if (!ENTITY_NAME.test(name)) {
    throw new PrincipalError(
      'ValidationError',
      `invalid ${kind} name ${JSON.stringify(name)}: 1 to 64 characters, letters, digits and + = , . @ _ - only`,
    );
  }
}

export function checkPath(path: string): void {
  if (path.length > 512 || !PATH.test(path)) {
    throw new PrincipalError('ValidationError', `invalid path ${JSON.stringify(path)}: "/" or "/.../" of printable ASCII characters, at most 512`);
  }
}

export function checkPolicyName(name: string): void {
  if (!POLICY_NAME.test(name)) {
    throw new PrincipalError('ValidationError', `invalid policy name ${JSON.stringify(name)}: 1 to 128 characters, letters, digits and + = , . @ _ - only`);
  }
}

export function checkAccessKeyId(id: string): void {
  if (!ACCESS_KEY_ID.test(id)) throw new PrincipalError('ValidationError', `invalid access key id ${JSON.stringify(id)}: 16 to 128 letters, digits or _`);
}

/** A secret given by an operator (not generated): what the SDKs accept, at least 16 characters, no white space. */
export function checkSecretAccessKey(secret: string): void {
  if (!/^[\x21-\x7e]{16,128}$/.test(secret)) {
    throw new PrincipalError('ValidationError', 'a secret access key must be 16 to 128 printable ASCII characters without spaces');
  }
}

export function principalArn(account: string, kind: PrincipalKind, name: string, path = '/'): string {
  // The partition is spelled out (arn.ts's PARTITION): importing arn.ts would make ports.ts import itself.
  return `arn:aws:iam::${account}:${kind}${path}${name}`;
}

const PRINCIPAL_ARN = /^arn:aws:iam::(\d{12}):(user|role)(\/(?:[\u0021-\u007e]*\/)?)([\w+=,.@-]{1,64})$/;

/** The parts of a user or role ARN; undefined for anything else (an account root included). */
export function parsePrincipalArn(arn: string): { account: string; kind: PrincipalKind; path: string; name: string } | undefined {
  const m = PRINCIPAL_ARN.exec(arn);
  return m ? { account: m[1]!, kind: m[2] as PrincipalKind, path: m[3]!, name: m[4]! } : undefined;
}

export const isAccountRootArn = (arn: string): boolean => /^arn:aws:iam::\d{12}:root$/.test(arn);

/** IAM's size of a policy: its characters other than white space. */
export const policySize = (document: string): number => document.replace(/\s/g, '').length;

/**
 * Checks an identity policy document as IAM would take it (the characters IAM allows, valid JSON, no Principal) and
 * returns it compiled. PrincipalError('MalformedPolicyDocument') with the parser's message otherwise.
 */
export function checkIdentityPolicy(document: string): CompiledPolicy {
  // IAM: tab, line feed, carriage return and U+0020-U+00FF only.
  if (/[^\t\n\r\u0020-\u00ff]/.test(document)) {
    throw new PrincipalError('MalformedPolicyDocument', 'the policy document may hold only tab, line feed, carriage return and characters U+0020 to U+00FF');
  }
  try {
    return compilePolicy(document, 'identity');
  } catch (err) {
    throw new PrincipalError('MalformedPolicyDocument', (err as Error).message);
  }
}

/** IAM's aggregate quota: the inline policies of a user or role, `replacing` one of them by name, must fit. */
export function checkInlinePolicyQuota(principal: PrincipalRecord, existing: readonly IdentityPolicyRecord[], policyName: string, document: string): void {
  const total = existing.filter((p) => p.policyName !== policyName).reduce((n, p) => n + policySize(p.document), 0) + policySize(document);
  const quota = INLINE_POLICY_QUOTA[principal.kind];
  if (total > quota) {
    throw new PrincipalError(
      'LimitExceeded',
      `Maximum policy size of ${quota} bytes exceeded for ${principal.kind} ${principal.name} (its inline policies would total ${total} characters other than white space)`,
    );
  }
}
