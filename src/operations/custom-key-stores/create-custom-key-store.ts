import type { CreateCustomKeyStoreRequest, CreateCustomKeyStoreResponse } from '../../model/kms-model.generated.js';
import { CUSTOM_KEY_STORES_PER_ACCOUNT, customKeyStoreId } from '../../domain/custom-key-stores.js';
import { KmsError, validationError } from '../../domain/errors.js';
import { StorageDuplicateError, StorageLimitError, type CustomKeyStoreRecord } from '../../domain/ports.js';
import { defineOperation } from '../operation.js';
import { nameInUse, refuseXksParameters } from './store-common.js';
import { createExternalKeyStore } from './xks-store.js';

/**
 * API_CreateCustomKeyStore, type AWS_CLOUDHSM: CloudHsmClusterId names a cluster of Trent's configuration (a PKCS#11
 * token), TrustAnchorCertificate is its trust anchor, KeyStorePassword the token's user PIN (stored wrapped under the
 * root key, checked when the store connects, as AWS checks the kmsuser password). The new store is DISCONNECTED.
 */
export const createCustomKeyStore = defineOperation<CreateCustomKeyStoreRequest, CreateCustomKeyStoreResponse>('CreateCustomKeyStore', async (input, ctx, svc) => {
  const type = input.CustomKeyStoreType ?? 'AWS_CLOUDHSM';
  if (type === 'EXTERNAL_KEY_STORE') return { CustomKeyStoreId: await createExternalKeyStore(input, ctx, svc) };
  refuseXksParameters(input as unknown as Record<string, unknown>);
  for (const [name, value] of [['CloudHsmClusterId', input.CloudHsmClusterId], ['TrustAnchorCertificate', input.TrustAnchorCertificate], ['KeyStorePassword', input.KeyStorePassword]] as const) {
    if (value === undefined) throw validationError(`${name} is required for a custom key store of type AWS_CLOUDHSM.`);
  }
  const clusterId = input.CloudHsmClusterId!;
  svc.authorizer.authorize(ctx.caller, 'kms:CreateCustomKeyStore');
  if (!svc.hsm.hasCluster(clusterId)) {
    throw new KmsError('CloudHsmClusterNotFoundException', `Cluster ${clusterId} is not found: it is not one of the HSM clusters in Trent's configuration (hsmClusters).`);
  }
  const why = svc.hsm.checkTrustAnchor(clusterId, input.TrustAnchorCertificate!);
  if (why) throw new KmsError('IncorrectTrustAnchorException', why);
  const existing = await svc.customKeyStores.list(ctx.scope, CUSTOM_KEY_STORES_PER_ACCOUNT + 1);
  if (existing.items.some((s) => s.name === input.CustomKeyStoreName)) throw nameInUse(input.CustomKeyStoreName);
  if (existing.items.some((s) => s.cloudHsmClusterId === clusterId)) throw clusterInUse(clusterId);

  const id = customKeyStoreId(svc.random.bytes(9));
  const password = Buffer.from(input.KeyStorePassword!, 'utf8');
  const store: CustomKeyStoreRecord = {
    account: ctx.scope.account,
    region: ctx.scope.region,
    customKeyStoreId: id,
    name: input.CustomKeyStoreName,
    type,
    cloudHsmClusterId: clusterId,
    trustAnchorCertificate: input.TrustAnchorCertificate,
    passwordWrapped: svc.hsm.wrapPassword(id, password),
    connectionState: 'DISCONNECTED',
    creationDate: svc.clock.now(),
    version: 1,
  };
  password.fill(0);
  try {
    await svc.customKeyStores.insert(store, CUSTOM_KEY_STORES_PER_ACCOUNT);
  } catch (err) {
    if (err instanceof StorageLimitError) {
      throw new KmsError('LimitExceededException', `This account has reached the limit of ${CUSTOM_KEY_STORES_PER_ACCOUNT} custom key stores in this Region.`);
    }
    if (err instanceof StorageDuplicateError) {
      // A concurrent request took the name or the cluster: say which.
      const now = await svc.customKeyStores.list(ctx.scope, CUSTOM_KEY_STORES_PER_ACCOUNT + 1);
      throw now.items.some((s) => s.name === input.CustomKeyStoreName) ? nameInUse(input.CustomKeyStoreName) : clusterInUse(clusterId);
    }
    throw err;
  }
  return { CustomKeyStoreId: id };
});

export { nameInUse };
const clusterInUse = (clusterId: string) =>
  new KmsError('CloudHsmClusterInUseException', `Cluster ${clusterId} is already associated with a custom key store in this account and Region.`);
