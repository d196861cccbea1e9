import type { UpdateCustomKeyStoreRequest, UpdateCustomKeyStoreResponse } from '../../model/kms-model.generated.js';
import { CUSTOM_KEY_STORES_PER_ACCOUNT } from '../../domain/custom-key-stores.js';
import { KmsError } from '../../domain/errors.js';
import { StorageDuplicateError } from '../../domain/ports.js';
import { defineOperation } from '../operation.js';
import { nameInUse } from './create-custom-key-store.js';
import { findStore, invalidState, refuseXksParameters } from './store-common.js';
import { updateExternalKeyStore } from './xks-store.js';

/**
 * API_UpdateCustomKeyStore for an AWS_CLOUDHSM store: NewCustomKeyStoreName (also while CONNECTED), KeyStorePassword
 * (tells Trent the token's current user PIN; it does not change the PIN) and CloudHsmClusterId (a related cluster:
 * in Trent, one whose configuration names the same token label) only while DISCONNECTED.
 */
export const updateCustomKeyStore = defineOperation<UpdateCustomKeyStoreRequest, UpdateCustomKeyStoreResponse>('UpdateCustomKeyStore', async (input, ctx, svc) => {
  const store = await findStore(input.CustomKeyStoreId, ctx, svc);
  if (store.type === 'EXTERNAL_KEY_STORE') {
    await updateExternalKeyStore(store, input, ctx, svc);
    return {};
  }
  refuseXksParameters(input as unknown as Record<string, unknown>);
  svc.authorizer.authorize(ctx.caller, 'kms:UpdateCustomKeyStore');
  const shown = svc.customKeyStores.shownState(store);
  const onlyName = input.KeyStorePassword === undefined && input.CloudHsmClusterId === undefined;
  if (shown !== 'DISCONNECTED' && !(onlyName && shown === 'CONNECTED')) {
    throw invalidState(
      store, shown,
      'UpdateCustomKeyStore is valid only on a DISCONNECTED custom key store (a CONNECTED one may only be renamed with NewCustomKeyStoreName).',
    );
  }
  const cluster = input.CloudHsmClusterId;
  if (cluster !== undefined && cluster !== store.cloudHsmClusterId) {
    if (!svc.hsm.hasCluster(cluster)) {
      throw new KmsError('CloudHsmClusterNotFoundException', `Cluster ${cluster} is not found: it is not one of the HSM clusters in Trent's configuration (hsmClusters).`);
    }
    if (!store.cloudHsmClusterId || !svc.hsm.related(store.cloudHsmClusterId, cluster)) {
      throw new KmsError('CloudHsmClusterNotRelatedException', `Cluster ${cluster} is not related to cluster ${store.cloudHsmClusterId}: it does not hold the same token.`);
    }
    const others = await svc.customKeyStores.list(ctx.scope, CUSTOM_KEY_STORES_PER_ACCOUNT * 10);
    if (others.items.some((s) => s.cloudHsmClusterId === cluster && s.customKeyStoreId !== store.customKeyStoreId)) {
      throw new KmsError('CloudHsmClusterInUseException', `Cluster ${cluster} is already associated with another custom key store in this account and Region.`);
    }
  }
  let passwordWrapped: Buffer | undefined;
  if (input.KeyStorePassword !== undefined) {
    const password = Buffer.from(input.KeyStorePassword, 'utf8');
    passwordWrapped = svc.hsm.wrapPassword(store.customKeyStoreId, password);
    password.fill(0);
  }
  try {
    await svc.customKeyStores.update(ctx.scope, store.customKeyStoreId, (current) => {
      const now = svc.customKeyStores.shownState(current);
      if (now !== 'DISCONNECTED' && !(onlyName && now === 'CONNECTED')) throw invalidState(current, now, 'it changed while being updated.');
      return {
        ...current,
        ...(input.NewCustomKeyStoreName !== undefined && { name: input.NewCustomKeyStoreName }),
        ...(cluster !== undefined && { cloudHsmClusterId: cluster }),
        ...(passwordWrapped !== undefined && { passwordWrapped }),
      };
    });
  } catch (err) {
    if (err instanceof StorageDuplicateError) {
      if (input.NewCustomKeyStoreName !== undefined) throw nameInUse(input.NewCustomKeyStoreName);
      throw new KmsError('CloudHsmClusterInUseException', `Cluster ${cluster} is already associated with another custom key store in this account and Region.`);
    }
    throw err;
  }
  return {};
});
