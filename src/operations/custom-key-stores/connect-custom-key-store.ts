import type { ConnectCustomKeyStoreRequest, ConnectCustomKeyStoreResponse } from '../../model/kms-model.generated.js';
import { defineOperation } from '../operation.js';
import { findStore, invalidState } from './store-common.js';
import { connectExternalKeyStore } from './xks-store.js';

/**
 * API_ConnectCustomKeyStore: valid unless the store is DISCONNECTING or FAILED (a FAILED store is disconnected first).
 * AWS connects in the background and answers at once; Trent opens the token within the request (the store shows
 * CONNECTING meanwhile) and answers success either way: a failed connection leaves the store FAILED with its
 * ConnectionErrorCode (INVALID_CREDENTIALS for a wrong PIN, CLUSTER_NOT_FOUND for a missing module or token, ...).
 */
export const connectCustomKeyStore = defineOperation<ConnectCustomKeyStoreRequest, ConnectCustomKeyStoreResponse>('ConnectCustomKeyStore', async (input, ctx, svc) => {
  const store = await findStore(input.CustomKeyStoreId, ctx, svc);
  svc.authorizer.authorize(ctx.caller, 'kms:ConnectCustomKeyStore');
  const shown = svc.customKeyStores.shownState(store);
  if (shown === 'DISCONNECTING' || shown === 'FAILED') {
    throw invalidState(store, shown, 'ConnectCustomKeyStore is not valid in this state; disconnect the store (DisconnectCustomKeyStore) first.');
  }
  if (shown === 'CONNECTED' || shown === 'CONNECTING') return {};
  await svc.customKeyStores.transition(store, 'CONNECTING', async () => {
    if (store.type === 'EXTERNAL_KEY_STORE') return connectExternalKeyStore(store, ctx, svc);
    const failure = await svc.hsm.connect(store);
    const stored = await svc.customKeyStores.update(ctx.scope, store.customKeyStoreId, (current) => {
      if (current.connectionState !== 'DISCONNECTED') return undefined; // another node decided first
      return { ...current, connectionState: failure ? 'FAILED' : 'CONNECTED', connectionErrorCode: failure };
    });
    if (failure || stored?.connectionState !== 'CONNECTED') svc.hsm.disconnect(store.customKeyStoreId);
  });
  return {};
});
