import type { OperationName } from '../model/kms-model.generated.js';
import type { AuditCompanion } from '../domain/audit-event.js';
import type { Authorizer } from '../domain/authorizer.js';
import type { CallerIdentity } from '../domain/identity.js';
import type { KeyRepository } from '../domain/key-repository.js';
import type { CustomKeyStores } from '../domain/custom-key-stores.js';
import type { GrantRepository } from '../domain/grant-repository.js';
import type { RequestQuotas } from '../domain/request-quotas.js';
import type { Clock, HsmBackend, KeyStore, KeyUsageLog, RandomSource, Scope, Storage, XksBackend } from '../domain/ports.js';

/** What an operation may use; made once in main.ts. */
export interface Services {
  readonly keys: KeyRepository;
  /** Grants, cached per key; also the authorizer's GrantChecker. */
  readonly grants: GrantRepository;
  readonly storage: Storage;
  readonly keystore: KeyStore;
  readonly authorizer: Authorizer;
  readonly clock: Clock;
  readonly random: RandomSource;
  /** Custom key stores (cached) and the HSMs behind AWS_CLOUDHSM ones. */
  readonly customKeyStores: CustomKeyStores;
  readonly hsm: HsmBackend;
  readonly xks: XksBackend;
  /**
   * Access key id → the integrated service its caller acts for (the service's endpoint name, e.g. "s3", "ec2"):
   * requests signed with it carry kms:ViaService = <service>.<region>.amazonaws.com (docs/access-control.md).
   */
  readonly serviceAccessKeys?: ReadonlyMap<string, string>;
  /** The audit trail's record of key use (GetKeyLastUsage). */
  readonly keyUsage: KeyUsageLog;
  /** AWS's request quotas (docs/deployment.md#request-quotas); absent when off. */
  readonly quotas?: RequestQuotas | undefined;
  /**
   * Multi-Region transitions (Creating, Updating): how long they last, and `wake`, which has this node complete them
   * once due. Absent (in-process tests): DEFAULT_TRANSITION_MS, and only the scheduler's transition job completes them.
   */
  readonly transitions?: TransitionTimer;
}

export interface TransitionTimer {
  readonly delayMs: number;
  /** Completes the transitions that are due after `delayMs` (a timer; never throws). */
  wake(): void;
}

/** One request as the operation sees it. */
export interface RequestContext {
  readonly requestId: string;
  readonly caller: CallerIdentity;
  /** The region of the request: its SigV4 credential scope's region. */
  readonly region: string;
  /** The caller's own account in the request's region: where new keys and aliases go. */
  readonly scope: Scope;
  readonly sourceIp: string;
  readonly userAgent: string;
  /** aws:SecureTransport: the request came over TLS. */
  readonly secureTransport?: boolean;
  /** Filled in by the operation for the request log: the key the request acted on. */
  resourceArn?: string;
  /** Set once the request was counted toward the request quota of its key's type (operations/common.ts). */
  quotaCounted?: boolean;
  /** Set by an operation whose change AWS records as more than one event (ReplicateKey): committed with its own. */
  auditCompanions?: readonly AuditCompanion[];
}

export interface Operation<I = unknown, O = unknown> {
  readonly name: OperationName;
  handle(input: I, ctx: RequestContext, services: Services): Promise<O>;
}

export function defineOperation<I, O>(name: OperationName, handle: (input: I, ctx: RequestContext, services: Services) => Promise<O>): Operation<I, O> {
  return { name, handle };
}
