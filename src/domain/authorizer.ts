import type { Clock, GrantConstraintsRecord, KeyRecord } from './ports.js';
import type { CallerIdentity } from './identity.js';
import { KmsError } from './errors.js';
import { compilePolicy, evaluatePolicy, type CompiledPolicy, type ConditionLookup, type Decision } from './policy/index.js';

/** What a request carries that policy conditions and grants may test (kms:* and aws:* condition keys). */
export interface AuthorizationContext {
  readonly encryptionContext?: Readonly<Record<string, string>> | undefined;
  readonly encryptionAlgorithm?: string | undefined;
  readonly signingAlgorithm?: string | undefined;
  readonly macAlgorithm?: string | undefined;
  /** kms:RequestAlias: the alias name the request used for KeyId. */
  readonly requestAlias?: string | undefined;
  readonly sourceIp?: string | undefined;
  readonly secureTransport?: boolean | undefined;
  /** The request's GrantTokens: grants they name count even before they are visible everywhere. */
  readonly grantTokens?: readonly string[] | undefined;
  /** CreateGrant (kms:GrantOperations, kms:GranteePrincipal, kms:RetiringPrincipal, kms:GrantConstraintType). */
  readonly grantOperations?: readonly string[] | undefined;
  readonly granteePrincipal?: string | undefined;
  readonly retiringPrincipal?: string | undefined;
  readonly grantConstraints?: GrantConstraintsRecord | undefined;
  /** kms:GrantIsForAWSResource: present (always false in Trent) on CreateGrant, ListGrants and RevokeGrant. */
  readonly grantIsForAwsResource?: boolean | undefined;
}

/**
 * Grants: checked when the policies do not allow a request on a key. Answers synchronously when it can (grants of
 * the key cached), with a promise when it must read the store.
 */
export interface GrantChecker {
  allows(caller: CallerIdentity, action: string, key: KeyRecord, request: AuthorizationContext | undefined): boolean | Promise<boolean>;
}

/** The one authorize step every operation goes through: key policy, identity (IAM) policies, grants. */
export interface Authorizer {
  /**
   * Throws (or rejects with) AccessDeniedException when `caller` may not perform `action` (e.g. "kms:Encrypt") on
   * `key`, or — without a key — on resource "*" (CreateKey, ListKeys: identity policies only). Returns nothing when
   * allowed without reading the store (the hot path), a promise when grants had to be consulted.
   */
  authorize(caller: CallerIdentity, action: string, key?: KeyRecord, request?: AuthorizationContext): void | Promise<void>;
  /**
   * The decision of a candidate key policy together with the caller's identity policies (no grants, no exception):
   * used by the policy lockout safety check of CreateKey and PutKeyPolicy.
   */
  decide(policy: string, caller: CallerIdentity, action: string, key: KeyRecord, request?: AuthorizationContext): Decision;
}

type Denial = 'resourceDeny' | 'identityDeny' | 'noResourceAllow' | 'noIdentityAllow';

const notAuthorized = (caller: CallerIdentity, action: string, resource: string, why: Denial): KmsError => {
  const head = `User: ${caller.principalArn} is not authorized to perform: ${action} on resource: ${resource}`;
  switch (why) {
    case 'resourceDeny':
      return new KmsError('AccessDeniedException', `${head} with an explicit deny in a resource-based policy`);
    case 'identityDeny':
      return new KmsError('AccessDeniedException', `${head} with an explicit deny in an identity-based policy`);
    case 'noResourceAllow':
      return new KmsError('AccessDeniedException', `${head} because no resource-based policy allows the ${action} action`);
    case 'noIdentityAllow':
      return new KmsError('AccessDeniedException', `${head} because no identity-based policy allows the ${action} action`);
    default:
      return why satisfies never;
  }
};

const MAX_CACHED_DOCUMENTS = 1024;

/**
 * Decides as AWS KMS does (KMS Developer Guide, "Determining access to an AWS KMS key"; IAM User Guide, "Policy
 * evaluation logic", cross-account): an explicit Deny in the key policy or in an identity policy wins; otherwise the
 * key policy must allow — naming the caller (its ARN or "*"), which suffices in the key's own account, or naming the
 * caller's account, which delegates to the caller's identity policies; a caller of another account always needs its
 * identity policies to allow too. An account root has no identity policies and IAM lets it do anything in its own
 * account. When the policies do not allow, a grant may (explicit denies still win). Requests without a key are
 * decided by identity policies alone. Compiled key policies are cached per key record and per document.
 */
export class KeyPolicyAuthorizer implements Authorizer {
  private readonly byRecord = new WeakMap<KeyRecord, CompiledPolicy | null>();
  private readonly byText = new Map<string, CompiledPolicy | null>();

  constructor(
    private readonly clock: Clock,
    private readonly grants?: GrantChecker,
  ) {}

  authorize(caller: CallerIdentity, action: string, key?: KeyRecord, request?: AuthorizationContext): void | Promise<void> {
    if (!key) {
      const identity = this.identityDecision(caller, action, '*', undefined, request);
      if (identity !== 'allow') throw notAuthorized(caller, action, '*', identity === 'deny' ? 'identityDeny' : 'noIdentityAllow');
      return;
    }
    let compiled = this.byRecord.get(key);
    if (compiled === undefined) {
      compiled = this.compile(key.policy);
      this.byRecord.set(key, compiled);
    }
    const outcome = this.evaluate(compiled, caller, action, key, request);
    if (outcome === 'allow') return;
    if (outcome === 'resourceDeny' || outcome === 'identityDeny' || !this.grants) throw notAuthorized(caller, action, key.arn, outcome);
    const granted = this.grants.allows(caller, action, key, request);
    if (granted === true) return;
    if (granted === false) throw notAuthorized(caller, action, key.arn, outcome);
    return granted.then((ok) => {
      if (!ok) throw notAuthorized(caller, action, key.arn, outcome);
    });
  }

  decide(policy: string, caller: CallerIdentity, action: string, key: KeyRecord, request?: AuthorizationContext): Decision {
    const outcome = this.evaluate(this.compile(policy), caller, action, key, request);
    return outcome === 'allow' ? 'allow' : outcome === 'resourceDeny' || outcome === 'identityDeny' ? 'deny' : 'implicitDeny';
  }

  private evaluate(compiled: CompiledPolicy | null, caller: CallerIdentity, action: string, key: KeyRecord, request?: AuthorizationContext): 'allow' | Denial {
    // A stored document the parser refuses (written before policies were evaluated) allows nothing: fail closed.
    if (!compiled) return 'noResourceAllow';
    let conditions: ConditionLookup | undefined;
    const lookup = (): ConditionLookup => (conditions ??= conditionKeys(caller, key, request, this.clock));
    const kp = evaluatePolicy(compiled, { principalArn: caller.principalArn, principalAccount: caller.account, action, resource: key.arn, conditions: compiled.hasConditions ? lookup() : noConditionKeys });
    if (kp.decision === 'deny') return 'resourceDeny';
    const identity = this.identityDecision(caller, action, key.arn, key, request, lookup);
    if (identity === 'deny') return 'identityDeny';
    if (kp.decision !== 'allow') return 'noResourceAllow';
    if (caller.account === key.account && !kp.viaAccount) return 'allow';
    return identity === 'allow' ? 'allow' : 'noIdentityAllow';
  }

  /** The caller's identity policies on `resource`: an account root may do anything in its own account. */
  private identityDecision(
    caller: CallerIdentity,
    action: string,
    resource: string,
    key: KeyRecord | undefined,
    request: AuthorizationContext | undefined,
    lookup?: () => ConditionLookup,
  ): Decision {
    const policies = caller.identityPolicies;
    if (!policies) return 'allow';
    let decision: Decision = 'implicitDeny';
    for (const policy of policies) {
      const conditions = policy.hasConditions ? (lookup ? lookup() : conditionKeys(caller, key, request, this.clock)) : noConditionKeys;
      const d = evaluatePolicy(policy, { principalArn: caller.principalArn, principalAccount: caller.account, action, resource, conditions }).decision;
      if (d === 'deny') return 'deny';
      if (d === 'allow') decision = 'allow';
    }
    return decision;
  }

  private compile(policy: string): CompiledPolicy | null {
    let compiled = this.byText.get(policy);
    if (compiled !== undefined) return compiled;
    try {
      compiled = compilePolicy(policy);
    } catch {
      compiled = null;
    }
    if (this.byText.size >= MAX_CACHED_DOCUMENTS) this.byText.clear();
    this.byText.set(policy, compiled);
    return compiled;
  }
}

const noConditionKeys: ConditionLookup = () => undefined;

const EC_PREFIX = 'kms:encryptioncontext:';

/** The condition keys of one request (conditions-kms.html, reference_policies_condition-keys.html), computed on demand. */
function conditionKeys(caller: CallerIdentity, key: KeyRecord | undefined, request: AuthorizationContext | undefined, clock: Clock): ConditionLookup {
  return (name) => {
    if (name.startsWith(EC_PREFIX)) {
      const wanted = name.slice(EC_PREFIX.length);
      const ec = request?.encryptionContext;
      if (!ec) return undefined;
      // Trent matches the context key of kms:EncryptionContext:<key> case-insensitively (the condition key name is).
      for (const k of Object.keys(ec)) if (k.toLowerCase() === wanted) return ec[k];
      return undefined;
    }
    switch (name) {
      case 'kms:encryptioncontextkeys':
        return request?.encryptionContext ? Object.keys(request.encryptionContext) : undefined;
      case 'kms:calleraccount':
      case 'aws:principalaccount':
        return caller.account;
      case 'aws:principalarn':
        return caller.principalArn;
      case 'aws:principaltype':
        return caller.principalArn.endsWith(':root') ? 'Account' : caller.principalArn.includes(':role/') ? 'AssumedRole' : 'User';
      case 'kms:keyspec':
        return key?.keySpec;
      case 'kms:keyusage':
        return key?.keyUsage;
      case 'kms:keyorigin':
        return key?.origin;
      case 'kms:encryptionalgorithm':
        return request?.encryptionAlgorithm;
      case 'kms:signingalgorithm':
        return request?.signingAlgorithm;
      case 'kms:macalgorithm':
        return request?.macAlgorithm;
      case 'kms:requestalias':
        return request?.requestAlias;
      case 'kms:grantoperations':
        return request?.grantOperations;
      case 'kms:granteeprincipal':
        return request?.granteePrincipal;
      case 'kms:retiringprincipal':
        return request?.retiringPrincipal;
      case 'kms:grantisforawsresource':
        return request?.grantIsForAwsResource === undefined ? undefined : String(request.grantIsForAwsResource);
      case 'kms:grantconstrainttype':
        return request?.grantConstraints?.encryptionContextEquals ? 'EncryptionContextEquals' : request?.grantConstraints?.encryptionContextSubset ? 'EncryptionContextSubset' : undefined;
      case 'aws:sourceip':
        // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; policies name it as a.b.c.d.
        return request?.sourceIp?.startsWith('::ffff:') && request.sourceIp.includes('.') ? request.sourceIp.slice(7) : request?.sourceIp;
      case 'aws:securetransport':
        return request?.secureTransport === undefined ? undefined : String(request.secureTransport);
      case 'aws:currenttime':
        return clock.now().toISOString();
      case 'aws:epochtime':
        return String(Math.floor(clock.now().getTime() / 1000));
      default:
        return undefined;
    }
  };
}
