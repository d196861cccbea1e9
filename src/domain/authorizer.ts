import type { Clock, KeyRecord } from './ports.js';
import type { CallerIdentity } from './identity.js';
import { KmsError } from './errors.js';
import { compilePolicy, evaluatePolicy, type CompiledPolicy, type ConditionLookup, type Decision } from './policy/index.js';

/** What a request carries that key policy conditions may test (kms:* and aws:* condition keys). */
export interface AuthorizationContext {
  readonly encryptionContext?: Readonly<Record<string, string>> | undefined;
  readonly encryptionAlgorithm?: string | undefined;
  readonly signingAlgorithm?: string | undefined;
  readonly macAlgorithm?: string | undefined;
  /** kms:RequestAlias: the alias name the request used for KeyId. */
  readonly requestAlias?: string | undefined;
  readonly sourceIp?: string | undefined;
  readonly secureTransport?: boolean | undefined;
  /** kms:ViaService: e.g. "s3.us-east-1.amazonaws.com" when the caller acts for an integrated service (request-conditions.ts). */
  readonly viaService?: string | undefined;
  /** kms:ResourceAliases / aws:ResourceTag/<key>: fetched only when the key's policy tests them (request-conditions.ts). */
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
  readonly rotationPeriodInDays?: number | undefined;
  readonly pendingWindowInDays?: number | undefined;
  readonly dataKeyPairSpec?: string | undefined;
  readonly wrappingAlgorithm?: string | undefined;
  readonly expirationModel?: string | undefined;
  /** kms:ValidTo (ImportKeyMaterial), compared as epoch seconds. */
  readonly validTo?: Date | undefined;
}

/** What, beyond the request itself, a key's policy needs to be decided: storage lookups done only when asked for. */
export interface ResourceConditionNeeds {
  readonly aliases: boolean;
  readonly tags: boolean;
}

/** The one authorize step every operation goes through. Grants and IAM policies plug in here later. */
export interface Authorizer {
  /** Throws AccessDeniedException when `caller` may not perform `action` (e.g. "kms:Encrypt") on `key`. */
  authorize(caller: CallerIdentity, action: string, key?: KeyRecord, request?: AuthorizationContext): void;
  /** The key policy's decision for a request (no exception): used by the PutKeyPolicy lockout safety check. */
  decide(policy: string, caller: CallerIdentity, action: string, key: KeyRecord, request?: AuthorizationContext): Decision;
  /** Whether deciding on `key` may test kms:ResourceAliases or aws:ResourceTag/*: the operation then fetches them first. */
  resourceConditionNeeds(key: KeyRecord): ResourceConditionNeeds;
}

const notAuthorized = (caller: CallerIdentity, action: string, key: KeyRecord, decision: Decision): KmsError =>
  new KmsError(
    'AccessDeniedException',
    decision === 'deny'
      ? `User: ${caller.principalArn} is not authorized to perform: ${action} on resource: ${key.arn} with an explicit deny in a resource-based policy`
      : `User: ${caller.principalArn} is not authorized to perform: ${action} on resource: ${key.arn} because no resource-based policy allows the ${action} action`,
  );

const MAX_CACHED_DOCUMENTS = 1024;

/**
 * Decides by the key policy (KMS Developer Guide, "Determining access to an AWS KMS key"): an explicit Deny wins;
 * otherwise the policy must allow the caller, directly or through the caller's account root principal (which in AWS
 * delegates to IAM policies). Trent has no IAM policies yet and every caller is an account root, so the IAM side is
 * satisfied — for the key's own account and, for cross-account use, for the caller's account. Requests without a key
 * (CreateKey, ListKeys, ListAliases) are IAM-only actions in AWS: allowed. Compiled policies are cached per document.
 */
export class KeyPolicyAuthorizer implements Authorizer {
  private readonly byRecord = new WeakMap<KeyRecord, CompiledPolicy | null>();
  private readonly byText = new Map<string, CompiledPolicy | null>();

  constructor(private readonly clock: Clock) {}

  authorize(caller: CallerIdentity, action: string, key?: KeyRecord, request?: AuthorizationContext): void {
    if (!key) return;
    const decision = this.evaluate(this.compiledFor(key), caller, action, key, request);
    if (decision !== 'allow') throw notAuthorized(caller, action, key, decision);
  }

  resourceConditionNeeds(key: KeyRecord): ResourceConditionNeeds {
    const keys = this.compiledFor(key)?.conditionKeys;
    if (!keys || keys.size === 0) return NO_NEEDS;
    let tags = false;
    for (const k of keys) if (k.startsWith(RESOURCE_TAG_PREFIX)) tags = true;
    return { aliases: keys.has('kms:resourcealiases'), tags };
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
    return this.evaluate(this.compile(policy), caller, action, key, request);
  }

  private evaluate(compiled: CompiledPolicy | null, caller: CallerIdentity, action: string, key: KeyRecord, request?: AuthorizationContext): Decision {
    // A stored document the parser refuses (written before policies were evaluated) allows nothing: fail closed.
    if (!compiled) return 'implicitDeny';
    const conditions: ConditionLookup = compiled.hasConditions ? conditionKeys(caller, key, request, this.clock) : noConditionKeys;
    return evaluatePolicy(compiled, { principalArn: caller.principalArn, principalAccount: caller.account, action, resource: key.arn, conditions }).decision;
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

/** A tag's value for aws:ResourceTag/<key> or aws:RequestTag/<key>: the tag key matched case-insensitively, like the condition key name. */
function tagValue(tags: Readonly<Record<string, string>> | undefined, lowerKey: string): string | undefined {
  if (!tags) return undefined;
  for (const k of Object.keys(tags)) if (k.toLowerCase() === lowerKey) return tags[k];
  return undefined;
}

const optionalString = (v: number | boolean | undefined): string | undefined => (v === undefined ? undefined : String(v));

/** The condition keys of one request (conditions-kms.html, reference_policies_condition-keys.html), computed on demand. */
function conditionKeys(caller: CallerIdentity, key: KeyRecord, request: AuthorizationContext | undefined, clock: Clock): ConditionLookup {
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
        return caller.principalArn.endsWith(':root') ? 'Account' : 'User';
      case 'aws:username': {
        // IAM users only (reference_policies_variables.html: aws:username is absent for roles and the root user).
        const m = /:user\/(?:.*\/)?([^/]+)$/.exec(caller.principalArn);
        return m?.[1];
      }
      case 'kms:keyspec':
        return request?.keySpec ?? key.keySpec;
      case 'kms:keyusage':
        return request?.keyUsage ?? key.keyUsage;
      case 'kms:keyorigin':
        return request?.keyOrigin ?? key.origin;
      case 'kms:multiregion':
        return String(request?.multiRegion ?? key.multiRegion);
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
