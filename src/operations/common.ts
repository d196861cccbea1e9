import { aliasArn, keyArn, parseKeyReference } from '../domain/arn.js';
import { KmsError } from '../domain/errors.js';
import { assertKeyState, type KeyStateOperation } from '../domain/key-state.js';
import type { KeyRecord, Scope , CryptoCall } from '../domain/ports.js';
import type { AuthorizationContext } from '../domain/authorizer.js';
import type { OperationName } from '../model/kms-model.generated.js';
import type { RequestContext, Services } from './operation.js';
import { viaService, withResourceConditions } from './request-conditions.js';

/**
 * The condition keys an operation's request carries, plus those every request has (source IP, TLS, the alias used,
 * the integrated service the caller acts for when `svc` is given).
 */
export function authorizationContext(keyIdParam: string | undefined, ctx: RequestContext, request?: AuthorizationContext, svc?: Services): AuthorizationContext {
  const aliasAt = keyIdParam === undefined ? -1 : keyIdParam.indexOf('alias/');
  const common: AuthorizationContext = {
    sourceIp: ctx.sourceIp,
    secureTransport: ctx.secureTransport,
    requestedRegion: ctx.region,
    viaService: svc && viaService(ctx, svc),
    requestAlias: aliasAt < 0 ? undefined : keyIdParam!.slice(aliasAt),
  };
  // Object.assign, not an object spread: on Node 20 `{ ...request, ... }` of these objects took about 2 µs per call
  // (measured in-process), Object.assign about 0.08 µs; it was the costliest line of Encrypt's own code.
  return request === undefined ? common : Object.assign({}, request, common);
}

/**
 * Authorizes `action` on `key`: the request's condition keys, plus the key's aliases and tags only when a policy that
 * applies tests them (fetched, cached, before the decision). Returns a promise only when something had to be read
 * (aliases, tags, grants): on the hot path nothing is awaited.
 */
export function authorizeOnKey(
  action: string,
  key: KeyRecord,
  keyIdParam: string | undefined,
  ctx: RequestContext,
  svc: Services,
  request?: AuthorizationContext,
): Promise<void> | undefined {
  const context = authorizationContext(keyIdParam, ctx, request, svc);
  const needs = svc.authorizer.resourceConditionNeeds(ctx.caller, key);
  // The authorizer answers synchronously unless it had to read grants: a promise only then.
  if (!needs.aliases && !needs.tags) return svc.authorizer.authorize(ctx.caller, action, key, context) ?? undefined;
  return withResourceConditions(context, key, needs, svc).then((full) => svc.authorizer.authorize(ctx.caller, action, key, full));
}

export interface ResolveOptions {
  /** AWS accepts alias names and alias ARNs for this operation. */
  readonly aliases: boolean;
  /** AWS accepts a key in another account (by key ARN or alias ARN) for this operation. */
  readonly crossAccount: boolean;
}

/** Crypto operations: any of the four identifier forms, keys of other accounts by ARN. */
export const CRYPTO_KEY: ResolveOptions = { aliases: true, crossAccount: true };
/** Management operations: key id or key ARN of the caller's own account. */
export const OWN_KEY: ResolveOptions = { aliases: false, crossAccount: false };

/** Finds the key a KeyId parameter names, in the forms the operation accepts; NotFoundException otherwise. */
export async function resolveKey(keyIdParam: string, ctx: RequestContext, svc: Services, opts: ResolveOptions): Promise<KeyRecord> {
  const ref = parseKeyReference(keyIdParam);
  if (!ref) throw new KmsError('NotFoundException', `Invalid keyId '${keyIdParam}'`);
  let scope: Scope = ctx.scope;
  let keyId: string;
  switch (ref.kind) {
    case 'keyId':
      keyId = ref.keyId;
      break;
    case 'keyArn':
      scope = checkArnScope(ref.scope, keyIdParam, ctx, opts);
      keyId = ref.keyId;
      break;
    case 'aliasName':
    case 'aliasArn': {
      if (!opts.aliases) throw new KmsError('NotFoundException', `Invalid keyId '${keyIdParam}'`);
      if (ref.kind === 'aliasArn') scope = checkArnScope(ref.scope, keyIdParam, ctx, opts);
      const alias = await svc.keys.getAlias(scope, ref.aliasName);
      if (!alias) throw new KmsError('NotFoundException', `Alias ${aliasArn(scope, ref.aliasName)} is not found.`);
      keyId = alias.targetKeyId;
      break;
    }
    default: {
      const never: never = ref;
      throw new Error(`unknown key reference ${String(never)}`);
    }
  }
  const key = await svc.keys.getKey(scope, keyId);
  if (!key) throw new KmsError('NotFoundException', `Key '${keyArn(scope, keyId)}' does not exist`);
  ctx.resourceArn = key.arn;
  return key;
}

function checkArnScope(scope: Scope, value: string, ctx: RequestContext, opts: ResolveOptions): Scope {
  if (scope.region !== ctx.region) throw new KmsError('NotFoundException', `Invalid arn ${scope.region}`);
  if (scope.account !== ctx.scope.account && !opts.crossAccount) throw new KmsError('NotFoundException', `Invalid keyId '${value}'`);
  return scope;
}

/** Resolve, authorize, check the key state: the steps every operation on an existing key takes, in AWS's order. */
export async function keyForOperation(
  keyIdParam: string,
  operation: KeyStateOperation,
  ctx: RequestContext,
  svc: Services,
  opts: ResolveOptions,
  request?: AuthorizationContext,
  /** The IAM action when it is not kms:<operation> (ReEncrypt's destination: kms:ReEncryptTo). */
  action = `kms:${operation}`,
): Promise<KeyRecord> {
  const key = await resolveKey(keyIdParam, ctx, svc, opts);
  admitKeyQuota(operation, key, ctx, svc);
  const pending = authorizeOnKey(action, key, keyIdParam, ctx, svc, request);
  if (pending) await pending;
  // A key in a custom key store that is not connected is Unavailable for the state table; the stored state is returned.
  assertKeyState(key.customKeyStoreId === undefined ? key : await svc.customKeyStores.effective(key), operation);
  return key;
}

/**
 * The request quota of a cryptographic operation, once its key is known: the shared quota of the key's type (and of its
 * custom key store). Counted once per request: ReEncrypt resolves two keys and counts toward its source key's quota.
 * Management operations were counted by the request handler; this does nothing for them.
 */
export function admitKeyQuota(operation: OperationName, key: KeyRecord, ctx: RequestContext, svc: Services): void {
  if (svc.quotas === undefined || ctx.quotaCounted) return;
  ctx.quotaCounted = true;
  svc.quotas.admitKey(ctx.scope, operation, key);
}

/** AWS answers DryRunOperationException once every check has passed and DryRun is true. */
export function dryRunCheck(dryRun: boolean | undefined): void {
  if (dryRun) throw new KmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
}

/** Who asks and why, for an external key store's proxy (XKS requestMetadata). */
export function cryptoCall(ctx: RequestContext, operation: string): CryptoCall {
  return { principalArn: ctx.caller.principalArn, operation, requestId: ctx.requestId };
}
