import type { CustomKeyStoresListEntry } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import type { CustomKeyStoreRecord } from '../../domain/ports.js';
import type { RequestContext, Services } from '../operation.js';

/** The caller's custom key store of that id (custom key stores are never shared across accounts). */
export async function findStore(customKeyStoreId: string, ctx: RequestContext, svc: Services): Promise<CustomKeyStoreRecord> {
  const store = await svc.customKeyStores.get(ctx.scope, customKeyStoreId);
  if (!store) throw notFound(customKeyStoreId);
  return store;
}

export const notFound = (customKeyStoreId: string) =>
  new KmsError('CustomKeyStoreNotFoundException', `Custom key store '${customKeyStoreId}' does not exist in this account and Region.`);


export const nameInUse = (name: string) =>
  new KmsError('CustomKeyStoreNameInUseException', `A custom key store named ${JSON.stringify(name)} already exists in this account and Region.`);

export function invalidState(store: CustomKeyStoreRecord, shown: string, rule: string): KmsError {
  return new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${store.customKeyStoreId} is ${shown}: ${rule}`);
}

/** A CustomKeyStoresListEntry as DescribeCustomKeyStores returns it. */
export function listEntry(store: CustomKeyStoreRecord, svc: Services): CustomKeyStoresListEntry {
  const state = svc.customKeyStores.shownState(store);
  return {
    CustomKeyStoreId: store.customKeyStoreId,
    CustomKeyStoreName: store.name,
    CustomKeyStoreType: store.type,
    CloudHsmClusterId: store.cloudHsmClusterId,
    TrustAnchorCertificate: store.trustAnchorCertificate,
    ConnectionState: state,
    // "This field appears in the response only when the ConnectionState is FAILED."
    ...(state === 'FAILED' && store.connectionErrorCode !== undefined && { ConnectionErrorCode: store.connectionErrorCode }),
    CreationDate: store.creationDate,
    // External key stores: the proxy settings, never the secret access key (API_XksProxyConfigurationType).
    ...(store.xks !== undefined && {
      XksProxyConfiguration: {
        Connectivity: store.xks.connectivity, AccessKeyId: store.xks.accessKeyId, UriEndpoint: store.xks.uriEndpoint, UriPath: store.xks.uriPath,
      },
    }),
  };
}

/** Parameters of AWS_CLOUDHSM stores, refused on an external key store. */
export function refuseCloudHsmParameters(input: { CloudHsmClusterId?: unknown; TrustAnchorCertificate?: unknown; KeyStorePassword?: unknown }): void {
  const given = (['CloudHsmClusterId', 'TrustAnchorCertificate', 'KeyStorePassword'] as const).filter((k) => input[k] !== undefined);
  if (given.length > 0) {
    throw new KmsError('ValidationException', `${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} valid only for a custom key store of type AWS_CLOUDHSM.`);
  }
}

/** Parameters of external key stores, refused on an AWS_CLOUDHSM store. */
export function refuseXksParameters(input: Record<string, unknown>): void {
  const given = Object.keys(input).filter((k) => k.startsWith('Xks') && input[k] !== undefined);
  if (given.length > 0) {
    throw new KmsError('ValidationException', `${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} valid only for a custom key store of type EXTERNAL_KEY_STORE.`);
  }
}
