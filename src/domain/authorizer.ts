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
}

/** The one authorize step every operation goes through. Grants and IAM policies plug in here later. */
export interface Authorizer {
  /** Throws AccessDeniedException when `caller` may not perform `action` (e.g. "kms:Encrypt") on `key`. */
  authorize(caller: CallerIdentity, action: string, key?: KeyRecord, request?: AuthorizationContext): void;
  /** The key policy's decision for a request (no exception): used by the PutKeyPolicy lockout safety check. */
  decide(policy: string, caller: CallerIdentity, action: string, key: KeyRecord, request?: AuthorizationContext): Decision;
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
    let compiled = this.byRecord.get(key);
    if (compiled === undefined) {
      compiled = this.compile(key.policy);
      this.byRecord.set(key, compiled);
    }
    const decision = this.evaluate(compiled, caller, action, key, request);
    if (decision !== 'allow') throw notAuthorized(caller, action, key, decision);
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

const EC_PREFIX = 'kms:encryptioncontext:';

/** The condition keys of one request (conditions-kms.html, reference_policies_condition-keys.html), computed on demand. */
function conditionKeys(caller: CallerIdentity, key: KeyRecord, request: AuthorizationContext | undefined, clock: Clock): ConditionLookup {
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
        return caller.principalArn.endsWith(':root') ? 'Account' : 'User';
      case 'kms:keyspec':
        return key.keySpec;
      case 'kms:keyusage':
        return key.keyUsage;
      case 'kms:keyorigin':
        return key.origin;
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
