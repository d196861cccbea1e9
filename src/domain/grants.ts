import type { GrantOperation, KeyUsageType } from '../model/kms-model.generated.js';
import { GrantOperationValues } from '../model/kms-model.generated.js';
import { KmsError } from './errors.js';
import type { GrantConstraintsRecord, GrantRecord, KeyRecord, SecretWrapper } from './ports.js';

export type { GrantConstraintsRecord, GrantRecord } from './ports.js';
import type { CallerIdentity } from './identity.js';
import { evaluatePolicy } from './policy/index.js';

/** Quotas (KMS Developer Guide, "Resource quotas"): grants per KMS key, grants for a given principal per KMS key. */
export const MAX_GRANTS_PER_KEY = 50_000;
export const MAX_GRANTS_PER_GRANTEE_PER_KEY = 500;
/** GrantConstraints: each constraint holds at most 8 pairs, each value at most 384 characters (API_CreateGrant). */
const MAX_CONSTRAINT_PAIRS = 8;
const MAX_CONSTRAINT_VALUE = 384;

export const GRANT_ID = /^[0-9a-f]{64}$/;

const BASE: readonly GrantOperation[] = ['CreateGrant', 'RetireGrant', 'DescribeKey'];
/** Grant operations each kind of key supports ("Grant operations" in grants.html). */
export function grantOperationsFor(key: Pick<KeyRecord, 'keyUsage' | 'keySpec'>): readonly GrantOperation[] {
  const usage: KeyUsageType = key.keyUsage;
  switch (usage) {
    case 'ENCRYPT_DECRYPT':
      return key.keySpec === 'SYMMETRIC_DEFAULT'
        ? [...BASE, 'Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo']
        : [...BASE, 'Encrypt', 'Decrypt', 'GetPublicKey', 'ReEncryptFrom', 'ReEncryptTo'];
    case 'SIGN_VERIFY':
      return [...BASE, 'Sign', 'Verify', 'GetPublicKey'];
    case 'GENERATE_VERIFY_MAC':
      return [...BASE, 'GenerateMac', 'VerifyMac'];
    case 'KEY_AGREEMENT':
      return [...BASE, 'DeriveSharedSecret', 'GetPublicKey'];
    default:
      return usage satisfies never;
  }
}

/** Operations that take an encryption context: the only ones grant constraints apply to (API_GrantConstraints). */
const CONTEXT_OPERATIONS: ReadonlySet<GrantOperation> = new Set<GrantOperation>([
  'Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
  'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant',
]);

/** A principal ARN as AWS accepts it for GranteePrincipal / RetiringPrincipal (IAM ARNs, or an AWS service principal). */
const PRINCIPAL_ARN =
  /^arn:aws:(iam::\d{12}:(root|user\/[\w+=,.@/-]+|role\/[\w+=,.@/-]+|federated-user\/[\w+=,.@-]+)|sts::\d{12}:(assumed-role\/[\w+=,.@-]+\/[\w+=,.@-]+|federated-user\/[\w+=,.@-]+))$/;
const SERVICE_PRINCIPAL = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/;

export function checkPrincipal(value: string): void {
  if (!PRINCIPAL_ARN.test(value) && !SERVICE_PRINCIPAL.test(value)) {
    throw new KmsError('InvalidArnException', `ARN does not refer to a valid principal: ${value}`);
  }
}

/** The account of a principal ARN (undefined for a service principal). */
export function principalAccount(value: string): string | undefined {
  return /^arn:aws:(?:iam|sts)::(\d{12}):/.exec(value)?.[1];
}

/** CreateGrant's checks beyond the model, as AWS makes them; returns the normalised operations and constraints. */
export function checkGrantRequest(
  key: Pick<KeyRecord, 'keyUsage' | 'keySpec' | 'arn'>,
  operations: readonly GrantOperation[],
  constraints: { EncryptionContextEquals?: Record<string, string>; EncryptionContextSubset?: Record<string, string> } | undefined,
): { operations: GrantOperation[]; constraints?: GrantConstraintsRecord } {
  if (operations.length === 0) {
    throw new KmsError('ValidationException', "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1");
  }
  const allowed = grantOperationsFor(key);
  const invalid = operations.filter((op) => !allowed.includes(op));
  if (invalid.length > 0) {
    throw new KmsError('ValidationException', `Grant operations ${invalid.join(', ')} are not valid for ${key.arn}: a ${key.keySpec} key with key usage ${key.keyUsage} supports ${allowed.join(', ')}.`);
  }
  const ops = [...new Set(operations)].sort((a, b) => GrantOperationValues.indexOf(a) - GrantOperationValues.indexOf(b));
  const equals = constraints?.EncryptionContextEquals;
  const subset = constraints?.EncryptionContextSubset;
  if (equals === undefined && subset === undefined) return { operations: ops };
  if (equals !== undefined && subset !== undefined) {
    throw new KmsError('ValidationException', 'Grant constraints may contain EncryptionContextEquals or EncryptionContextSubset, not both.');
  }
  const pairs = (equals ?? subset)!;
  if (Object.keys(pairs).length > MAX_CONSTRAINT_PAIRS) {
    throw new KmsError('ValidationException', `A grant constraint can contain at most ${MAX_CONSTRAINT_PAIRS} encryption context pairs.`);
  }
  if (Object.values(pairs).some((v) => v.length > MAX_CONSTRAINT_VALUE)) {
    throw new KmsError('ValidationException', `An encryption context value in a grant constraint can be at most ${MAX_CONSTRAINT_VALUE} characters.`);
  }
  if (!ops.some((op) => CONTEXT_OPERATIONS.has(op)) || key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('ValidationException', 'Grant constraints are supported only for grant operations that take an encryption context (cryptographic operations with symmetric encryption KMS keys).');
  }
  return { operations: ops, constraints: equals !== undefined ? { encryptionContextEquals: { ...equals } } : { encryptionContextSubset: { ...subset! } } };
}

/** The grant operation that an authorized action ("kms:Encrypt") needs; undefined when no grant can allow it. */
export function grantOperationOf(action: string): GrantOperation | undefined {
  if (!action.startsWith('kms:')) return undefined;
  const op = action.slice(4);
  // The destination of ReEncrypt is authorized as kms:ReEncrypt (docs/access-control.md): ReEncryptTo in a grant.
  if (op === 'ReEncrypt' || op === 'ReEncryptTo') return 'ReEncryptTo';
  return (GrantOperationValues as readonly string[]).includes(op) ? (op as GrantOperation) : undefined;
}

/** Keys of a grant constraint match case-insensitively, values exactly (API_GrantConstraints). */
function lowerKeys(ec: Readonly<Record<string, string>>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(ec)) m.set(k.toLowerCase(), v);
  return m;
}

function contextIncludes(request: Map<string, string>, pairs: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(pairs)) if (request.get(k.toLowerCase()) !== v) return false;
  return true;
}

/** Whether a request's encryption context satisfies a grant's constraints (none: always). */
export function constraintsAllow(constraints: GrantConstraintsRecord | undefined, context: Readonly<Record<string, string>> | undefined): boolean {
  if (!constraints) return true;
  const request = lowerKeys(context ?? {});
  if (constraints.encryptionContextEquals) {
    const eq = constraints.encryptionContextEquals;
    return request.size === lowerKeys(eq).size && contextIncludes(request, eq);
  }
  if (constraints.encryptionContextSubset) return contextIncludes(request, constraints.encryptionContextSubset);
  return true;
}

/** A grant made with a grant's CreateGrant permission must be at least as strict (CreateGrant, Constraints). */
function childAtLeastAsStrict(parent: GrantConstraintsRecord | undefined, child: GrantConstraintsRecord | undefined): boolean {
  if (!parent || (!parent.encryptionContextEquals && !parent.encryptionContextSubset)) return true;
  if (!child) return false;
  if (parent.encryptionContextEquals) {
    return child.encryptionContextEquals !== undefined && constraintsAllow(parent, child.encryptionContextEquals);
  }
  const pairs = child.encryptionContextEquals ?? child.encryptionContextSubset;
  return pairs !== undefined && constraintsAllow(parent, pairs);
}

/** What a request on a key offers for grant matching (a subset of the authorization context). */
export interface GrantRequest {
  readonly encryptionContext?: Readonly<Record<string, string>> | undefined;
  /** CreateGrant: the operations and constraints of the grant being made. */
  readonly grantOperations?: readonly string[] | undefined;
  readonly grantConstraints?: GrantConstraintsRecord | undefined;
}

/**
 * Whether a caller is the grantee of a grant for `operation` on the grant's key: its principal ARN is the grantee; or
 * the grantee is the caller's account (its root ARN) and the caller's identity (IAM) policies allow the action on the
 * key — an account grantee delegates to its IAM principals, as in AWS. Identity-policy statements with conditions do
 * not count here (fail closed); their explicit denies were applied before grants were consulted.
 */
export function isGrantee(grant: GrantRecord, caller: CallerIdentity, operation: GrantOperation): boolean {
  if (grant.granteePrincipal === caller.principalArn) return true;
  if (grant.granteePrincipal !== `arn:aws:iam::${caller.account}:root` || !caller.identityPolicies) return false;
  const request = { principalArn: caller.principalArn, principalAccount: caller.account, action: `kms:${operation}`, resource: grant.keyArn, conditions: () => undefined };
  let allowed = false;
  for (const policy of caller.identityPolicies) {
    const d = evaluatePolicy(policy, request).decision;
    if (d === 'deny') return false;
    if (d === 'allow') allowed = true;
  }
  return allowed;
}

/** Whether `grant` allows `operation` for `caller` with this request. */
export function grantAllows(grant: GrantRecord, caller: CallerIdentity, operation: GrantOperation, request: GrantRequest | undefined): boolean {
  if (!isGrantee(grant, caller, operation) || !grant.operations.includes(operation)) return false;
  if (operation === 'CreateGrant') {
    const wanted = request?.grantOperations ?? [];
    if (!wanted.every((op) => grant.operations.includes(op as GrantOperation))) return false;
    return childAtLeastAsStrict(grant.constraints, request?.grantConstraints);
  }
  if (!CONTEXT_OPERATIONS.has(operation)) return true;
  return constraintsAllow(grant.constraints, request?.encryptionContext);
}

/** Whether two CreateGrant requests name the same grant (Name idempotency): same grantee, retiring principal, operations, constraints. */
export function sameGrantParameters(a: Omit<GrantRecord, 'grantId' | 'creationDate' | 'issuingAccount'>, b: GrantRecord): boolean {
  const ec = (c: GrantConstraintsRecord | undefined) => JSON.stringify([sorted(c?.encryptionContextEquals), sorted(c?.encryptionContextSubset)]);
  return (
    a.name === b.name &&
    a.granteePrincipal === b.granteePrincipal &&
    a.retiringPrincipal === b.retiringPrincipal &&
    a.operations.length === b.operations.length &&
    a.operations.every((op) => b.operations.includes(op)) &&
    ec(a.constraints) === ec(b.constraints)
  );
}

const sorted = (r: Readonly<Record<string, string>> | undefined) => (r ? Object.entries(r).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)) : null);

/**
 * Grant tokens: base64url of the grant's key ARN and id wrapped under the root key (AES-256-GCM, fresh IV each time,
 * so every CreateGrant answers a new token). Unforgeable without the root key; every node sharing the root key can
 * open it, so a grant is usable through its token before the node's grant cache has seen it.
 */
const TOKEN_CONTEXT = ['trent grant token v1'];

export class GrantTokens {
  constructor(private readonly wrapper: SecretWrapper) {}

  issue(keyArn: string, grantId: string): string {
    return this.wrapper.wrap(TOKEN_CONTEXT, Buffer.from(JSON.stringify([keyArn, grantId]), 'utf8')).toString('base64url');
  }

  /** The grant a token names; InvalidGrantTokenException when it is not a token this store made. */
  open(token: string): { keyArn: string; grantId: string } {
    const bytes = /^[A-Za-z0-9_-]+$/.test(token) ? this.wrapper.unwrap(TOKEN_CONTEXT, Buffer.from(token, 'base64url')) : undefined;
    let parsed: unknown;
    try {
      parsed = bytes && JSON.parse(bytes.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string' || !GRANT_ID.test(parsed[1])) {
      throw new KmsError('InvalidGrantTokenException', 'The request was rejected because the specified grant token is not valid.');
    }
    return { keyArn: parsed[0], grantId: parsed[1] };
  }
}
