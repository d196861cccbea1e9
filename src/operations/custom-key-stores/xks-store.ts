import type { CreateCustomKeyStoreRequest, UpdateCustomKeyStoreRequest } from '../../model/kms-model.generated.js';
import { CUSTOM_KEY_STORES_PER_ACCOUNT, customKeyStoreId } from '../../domain/custom-key-stores.js';
import { KmsError } from '../../domain/errors.js';
import { StorageDuplicateError, StorageLimitError, type CustomKeyStoreRecord, type XksCheck, type XksProxySettings } from '../../domain/ports.js';
import { cryptoCall } from '../common.js';
import type { RequestContext, Services } from '../operation.js';
import { invalidState, nameInUse, refuseCloudHsmParameters } from './store-common.js';

/** Connectivity VPC_ENDPOINT_SERVICE needs an Amazon VPC endpoint service, which a Trent deployment does not have. */
function refuseVpc(input: { XksProxyConnectivity?: string | undefined; XksProxyVpcEndpointServiceName?: string | undefined; XksProxyVpcEndpointServiceOwner?: string | undefined }): void {
  if (input.XksProxyConnectivity === 'VPC_ENDPOINT_SERVICE') {
    throw new KmsError('UnsupportedOperationException', 'XksProxyConnectivity VPC_ENDPOINT_SERVICE is not supported by Trent (there is no Amazon VPC here): use PUBLIC_ENDPOINT with an HTTPS proxy endpoint Trent can reach.');
  }
  for (const name of ['XksProxyVpcEndpointServiceName', 'XksProxyVpcEndpointServiceOwner'] as const) {
    if (input[name] !== undefined) throw new KmsError('ValidationException', `${name} is valid only with XksProxyConnectivity VPC_ENDPOINT_SERVICE.`);
  }
}

/** AWS: the proxy URI path must end in /kms/xks/v1 (the model's pattern allows other versions; XKS API v1 is the one there is). */
function checkUriPath(path: string): void {
  if (!path.endsWith('/kms/xks/v1')) throw new KmsError('ValidationException', `XksProxyUriPath ${JSON.stringify(path)} must end in /kms/xks/v1 (XKS Proxy API v1).`);
}

function failed(check: Extract<XksCheck, { ok: false }>): KmsError {
  return new KmsError(check.exception as ConstructorParameters<typeof KmsError>[0], check.message);
}

/** The same endpoint and path as another store of the account and Region: XksProxyUriInUseException. */
async function checkUriFree(uriEndpoint: string, uriPath: string, ctx: RequestContext, svc: Services, except?: string): Promise<void> {
  const all = await svc.customKeyStores.list(ctx.scope, CUSTOM_KEY_STORES_PER_ACCOUNT * 10);
  if (all.items.some((s) => s.customKeyStoreId !== except && s.xks?.uriEndpoint === uriEndpoint && s.xks.uriPath === uriPath)) {
    throw new KmsError('XksProxyUriInUseException', `Another external key store in this account and Region uses the proxy URI ${uriEndpoint}${uriPath}.`);
  }
}

/**
 * API_CreateCustomKeyStore, type EXTERNAL_KEY_STORE with PUBLIC_ENDPOINT connectivity: the proxy's URI endpoint (https),
 * URI path and SigV4 credential. Like AWS, Trent calls the proxy's GetHealthStatus before creating the store; the
 * secret access key is stored wrapped under the root key. The new store is DISCONNECTED.
 */
export async function createExternalKeyStore(input: CreateCustomKeyStoreRequest, ctx: RequestContext, svc: Services): Promise<string> {
  refuseCloudHsmParameters(input);
  for (const name of ['XksProxyUriEndpoint', 'XksProxyUriPath', 'XksProxyAuthenticationCredential', 'XksProxyConnectivity'] as const) {
    if (input[name] === undefined) throw new KmsError('ValidationException', `${name} is required for a custom key store of type EXTERNAL_KEY_STORE.`);
  }
  refuseVpc(input);
  checkUriPath(input.XksProxyUriPath!);
  svc.authorizer.authorize(ctx.caller, 'kms:CreateCustomKeyStore');
  const existing = await svc.customKeyStores.list(ctx.scope, CUSTOM_KEY_STORES_PER_ACCOUNT + 1);
  if (existing.items.some((s) => s.name === input.CustomKeyStoreName)) throw nameInUse(input.CustomKeyStoreName);
  await checkUriFree(input.XksProxyUriEndpoint!, input.XksProxyUriPath!, ctx, svc);

  const id = customKeyStoreId(svc.random.bytes(9));
  const secret = Buffer.from(input.XksProxyAuthenticationCredential!.RawSecretAccessKey, 'utf8');
  const xks: XksProxySettings = {
    uriEndpoint: input.XksProxyUriEndpoint!, uriPath: input.XksProxyUriPath!, connectivity: 'PUBLIC_ENDPOINT',
    accessKeyId: input.XksProxyAuthenticationCredential!.AccessKeyId, secretWrapped: svc.xks.wrapSecret(id, secret),
  };
  secret.fill(0);
  const check = await svc.xks.healthCheck(xks, id, cryptoCall(ctx, 'CreateCustomKeyStore'));
  if (!check.ok) throw failed(check);
  const store: CustomKeyStoreRecord = {
    account: ctx.scope.account, region: ctx.scope.region, customKeyStoreId: id, name: input.CustomKeyStoreName, type: 'EXTERNAL_KEY_STORE',
    xks, connectionState: 'DISCONNECTED', creationDate: svc.clock.now(), version: 1,
  };
  try {
    await svc.customKeyStores.insert(store, CUSTOM_KEY_STORES_PER_ACCOUNT);
  } catch (err) {
    if (err instanceof StorageLimitError) {
      throw new KmsError('LimitExceededException', `This account has reached the limit of ${CUSTOM_KEY_STORES_PER_ACCOUNT} custom key stores in this Region.`);
    }
    if (err instanceof StorageDuplicateError) throw nameInUse(input.CustomKeyStoreName);
    throw err;
  }
  return id;
}

/**
 * API_UpdateCustomKeyStore for an EXTERNAL_KEY_STORE: the name, URI path and credential may change while CONNECTED;
 * the URI endpoint and connectivity only while DISCONNECTED. New proxy settings are checked with GetHealthStatus first.
 */
export async function updateExternalKeyStore(store: CustomKeyStoreRecord, input: UpdateCustomKeyStoreRequest, ctx: RequestContext, svc: Services): Promise<void> {
  refuseCloudHsmParameters(input);
  refuseVpc(input);
  svc.authorizer.authorize(ctx.caller, 'kms:UpdateCustomKeyStore');
  const needsDisconnect = input.XksProxyUriEndpoint !== undefined || input.XksProxyConnectivity !== undefined;
  const allowed = (state: string) => state === 'DISCONNECTED' || (!needsDisconnect && state === 'CONNECTED');
  const shown = svc.customKeyStores.shownState(store);
  if (!allowed(shown)) {
    throw invalidState(store, shown, 'UpdateCustomKeyStore may change XksProxyUriEndpoint and XksProxyConnectivity only on a DISCONNECTED external key store (the name, URI path and credential also while CONNECTED).');
  }
  if (input.XksProxyUriPath !== undefined) checkUriPath(input.XksProxyUriPath);
  const current = store.xks!;
  let next: XksProxySettings = {
    ...current,
    ...(input.XksProxyUriEndpoint !== undefined && { uriEndpoint: input.XksProxyUriEndpoint }),
    ...(input.XksProxyUriPath !== undefined && { uriPath: input.XksProxyUriPath }),
  };
  if (input.XksProxyAuthenticationCredential !== undefined) {
    const secret = Buffer.from(input.XksProxyAuthenticationCredential.RawSecretAccessKey, 'utf8');
    next = { ...next, accessKeyId: input.XksProxyAuthenticationCredential.AccessKeyId, secretWrapped: svc.xks.wrapSecret(store.customKeyStoreId, secret) };
    secret.fill(0);
  }
  const proxyChanged = next !== current && (next.uriEndpoint !== current.uriEndpoint || next.uriPath !== current.uriPath || input.XksProxyAuthenticationCredential !== undefined);
  if (next.uriEndpoint !== current.uriEndpoint || next.uriPath !== current.uriPath) await checkUriFree(next.uriEndpoint, next.uriPath, ctx, svc, store.customKeyStoreId);
  if (proxyChanged) {
    const check = await svc.xks.healthCheck(next, store.customKeyStoreId, cryptoCall(ctx, 'UpdateCustomKeyStore'));
    if (!check.ok) throw failed(check);
  }
  try {
    await svc.customKeyStores.update(ctx.scope, store.customKeyStoreId, (now) => {
      const state = svc.customKeyStores.shownState(now);
      if (!allowed(state)) throw invalidState(now, state, 'it changed while being updated.');
      return { ...now, ...(input.NewCustomKeyStoreName !== undefined && { name: input.NewCustomKeyStoreName }), xks: next };
    });
  } catch (err) {
    if (err instanceof StorageDuplicateError && input.NewCustomKeyStoreName !== undefined) throw nameInUse(input.NewCustomKeyStoreName);
    throw err;
  }
}

/** ConnectCustomKeyStore of an external key store: GetHealthStatus; FAILED with AWS's connection error code if it fails. */
export async function connectExternalKeyStore(store: CustomKeyStoreRecord, ctx: RequestContext, svc: Services): Promise<void> {
  const check = await svc.xks.healthCheck(store.xks!, store.customKeyStoreId, cryptoCall(ctx, 'ConnectCustomKeyStore'));
  await svc.customKeyStores.update(ctx.scope, store.customKeyStoreId, (current) => {
    if (current.connectionState !== 'DISCONNECTED') return undefined;
    return { ...current, connectionState: check.ok ? 'CONNECTED' : 'FAILED', connectionErrorCode: check.ok ? undefined : check.connectionErrorCode };
  });
}
