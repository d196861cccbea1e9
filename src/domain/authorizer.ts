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
  /** aws:RequestedRegion: the Region the request acts in (ReplicateKey's kms:CreateKey: the replica Region). */
  readonly requestedRegion?: string | undefined;
  /** The request's GrantTokens: grants they name count even before they are visible everywhere. */
  readonly grantTokens?: readonly string[] | undefined;
  /** CreateGrant (kms:GrantOperations, kms:GranteePrincipal, kms:RetiringPrincipal, kms:GrantConstraintType). */
  readonly grantOperations?: readonly string[] | undefined;
  readonly granteePrincipal?: string | undefined;
  readonly retiringPrincipal?: string | undefined;
  readonly grantConstraints?: GrantConstraintsRecord | undefined;
  /** kms:GrantIsForAWSResource: present (always false in Trent) on CreateGrant, ListGrants and RevokeGrant. */
  readonly grantIsForAwsResource?: boolean | undefined;
  /** kms:ViaService: e.g. "s3.us-east-1.amazonaws.com" when the caller acts for an integrated service (request-conditions.ts). */
  readonly viaService?: string | undefined;
  /** kms:ResourceAliases / aws:ResourceTag/<key>: fetched only when a policy that applies tests them (request-conditions.ts). */
  readonly resourceAliases?: readonly string[] | undefined;
  readonly resourceTags?: Readonly<Record<string, string>> | undefined;
  /** aws:RequestTag/<key> and aws:TagKeys (CreateKey, TagResource; UntagResource: aws:TagKeys only). */
  readonly requestTags?: Readonly<Record<string, string>> | undefined;
  readonly tagKeys?: readonly string[] | undefined;
  /** CreateKey: the request's values, which kms:KeySpec, kms:KeyUsage, kms:KeyOrigin, kms:MultiRegion then name. */
  readonly keySpec?: string | undefined;
  readonly keyUsage?: string | undefined;
  readonly keyOrigin?: string | undefined;
  readonly multiRegion?: boolean | undefined;
  /** ReplicateKey: its ReplicaRegion (kms:ReplicaRegion). UpdatePrimaryRegion: its PrimaryRegion (kms:PrimaryRegion). */
  readonly replicaRegion?: string | undefined;
  readonly primaryRegion?: string | undefined;
  /** The key a request creates is a multi-Region PRIMARY or REPLICA (CreateKey, ReplicateKey): kms:MultiRegionKeyType. */
  readonly multiRegionKeyType?: 'PRIMARY' | 'REPLICA' | undefined;
  readonly rotationPeriodInDays?: number | undefined;
  readonly pendingWindowInDays?: number | undefined;
  readonly dataKeyPairSpec?: string | undefined;
  readonly wrappingAlgorithm?: string | undefined;
  readonly expirationModel?: string | undefined;
  /** kms:ValidTo (ImportKeyMaterial), compared as epoch seconds. */
  readonly validTo?: Date | undefined;
}

/** What, beyond the request itself, the policies of a request need to be decided: storage lookups done only when asked for. */
export interface ResourceConditionNeeds {
  readonly aliases: boolean;
  readonly tags: boolean;
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
  /**
   * Whether deciding for `caller` on `key` may test kms:ResourceAliases or aws:ResourceTag/* (in the key policy, or in
   * the caller's identity policies): the operation then fetches them first. Computed from the compiled policies.
   */
  resourceConditionNeeds(caller: CallerIdentity, key: KeyRecord): ResourceConditionNeeds;
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
  private readonly needsByPolicy = new WeakMap<CompiledPolicy, ResourceConditionNeeds>();

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
    const outcome = this.evaluate(this.compiledFor(key), caller, action, key, request);
    if (outcome === 'allow') return;
    if (outcome === 'resourceDeny' || outcome === 'identityDeny' || !this.grants) throw notAuthorized(caller, action, key.arn, outcome);
    const granted = this.grants.allows(caller, action, key, request);
    if (granted === true) return;
    if (granted === false) throw notAuthorized(caller, action, key.arn, outcome);
    return granted.then((ok) => {
      if (!ok) throw notAuthorized(caller, action, key.arn, outcome);
    });
  }

  resourceConditionNeeds(caller: CallerIdentity, key: KeyRecord): ResourceConditionNeeds {
    const kp = this.compiledFor(key);
    let needs = kp ? this.needsOf(kp) : NO_NEEDS;
    for (const policy of caller.identityPolicies ?? []) {
      const more = this.needsOf(policy);
      if (more !== NO_NEEDS) needs = { aliases: needs.aliases || more.aliases, tags: needs.tags || more.tags };
    }
    return needs;
  }

  private needsOf(policy: CompiledPolicy): ResourceConditionNeeds {
    let needs = this.needsByPolicy.get(policy);
    if (needs === undefined) {
      needs = needsOf(policy);
      this.needsByPolicy.set(policy, needs);
    }
    return needs;
  }

  private compiledFor(key: KeyRecord): CompiledPolicy | null {
    let compiled = this.byRecord.get(key);
    if (compiled === undefined) {
      compiled = this.compile(key.policy);
      this.byRecord.set(key, compiled);
    }
    return compiled;
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
const NO_NEEDS: ResourceConditionNeeds = { aliases: false, tags: false };

const EC_PREFIX = 'kms:encryptioncontext:';
const RESOURCE_TAG_PREFIX = 'aws:resourcetag/';
const REQUEST_TAG_PREFIX = 'aws:requesttag/';

/** Which storage-backed condition keys a compiled policy tests (its recorded condition keys, variables included). */
function needsOf(policy: CompiledPolicy): ResourceConditionNeeds {
  const keys = policy.conditionKeys;
  if (keys.size === 0) return NO_NEEDS;
  let tags = false;
  for (const k of keys) if (k.startsWith(RESOURCE_TAG_PREFIX)) tags = true;
  const aliases = keys.has('kms:resourcealiases');
  return aliases || tags ? { aliases, tags } : NO_NEEDS;
}

/** A tag's value for aws:ResourceTag/<key> or aws:RequestTag/<key>: the tag key matched case-insensitively, like the condition key name. */
function tagValue(tags: Readonly<Record<string, string>> | undefined, lowerKey: string): string | undefined {
  if (!tags) return undefined;
  for (const k of Object.keys(tags)) if (k.toLowerCase() === lowerKey) return tags[k];
  return undefined;
}

const optionalString = (v: number | boolean | undefined): string | undefined => (v === undefined ? undefined : String(v));

/** The condition keys of one request (conditions-kms.html, reference_policies_condition-keys.html), computed on demand. */
function conditionKeys(caller: CallerIdentity, key: KeyRecord | undefined, request: AuthorizationContext | undefined, clock: Clock): ConditionLookup {
  return (name) => {
    if (name.startsWith(RESOURCE_TAG_PREFIX)) return tagValue(request?.resourceTags, name.slice(RESOURCE_TAG_PREFIX.length));
    if (name.startsWith(REQUEST_TAG_PREFIX)) return tagValue(request?.requestTags, name.slice(REQUEST_TAG_PREFIX.length));
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
      case 'aws:username': {
        // IAM users only (reference_policies_variables.html: aws:username is absent for roles and the root user).
        const m = /:user\/(?:.*\/)?([^/]+)$/.exec(caller.principalArn);
        return m?.[1];
      }
      case 'kms:keyspec':
        return request?.keySpec ?? key?.keySpec;
      case 'kms:keyusage':
        return request?.keyUsage ?? key?.keyUsage;
      case 'kms:keyorigin':
        return request?.keyOrigin ?? key?.origin;
      case 'kms:multiregion':
        return optionalString(request?.multiRegion ?? key?.multiRegion);
      // kms:MultiRegionKeyType: of the key the request names (PRIMARY, REPLICA; absent for a single-Region key), or of
      // the key it creates; kms:ReplicaRegion / kms:PrimaryRegion: ReplicateKey's and UpdatePrimaryRegion's parameter.
      case 'kms:multiregionkeytype':
        return request?.multiRegionKeyType ?? (key?.primaryRegion === undefined ? undefined : key.primaryRegion === key.region ? 'PRIMARY' : 'REPLICA');
      case 'kms:replicaregion':
        return request?.replicaRegion;
      case 'kms:primaryregion':
        return request?.primaryRegion;
      case 'kms:viaservice':
        return request?.viaService;
      case 'kms:resourcealiases':
        return request?.resourceAliases;
      case 'aws:tagkeys':
        return request?.tagKeys;
      case 'kms:rotationperiodindays':
        return optionalString(request?.rotationPeriodInDays);
      case 'kms:schedulekeydeletionpendingwindowindays':
        return optionalString(request?.pendingWindowInDays);
      case 'kms:datakeypairspec':
        return request?.dataKeyPairSpec;
      case 'kms:wrappingalgorithm':
        return request?.wrappingAlgorithm;
      case 'kms:expirationmodel':
        return request?.expirationModel;
      case 'kms:validto':
        return request?.validTo === undefined ? undefined : String(Math.floor(request.validTo.getTime() / 1000));
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
      case 'aws:requestedregion':
        return request?.requestedRegion;
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
