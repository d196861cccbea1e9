import type { DisconnectCustomKeyStoreRequest, DisconnectCustomKeyStoreResponse } from '../../model/kms-model.generated.js';
import { defineOperation } from '../operation.js';
import { findStore, invalidState } from './store-common.js';

/**
 * API_DisconnectCustomKeyStore: valid unless the store is DISCONNECTING or DISCONNECTED. The token's sessions are
 * closed (on this node at once, on others when the change reaches them); the store's keys become Unavailable and
 * refuse cryptographic operations (KMSInvalidStateException) until it is connected again.
 */
export const disconnectCustomKeyStore = defineOperation<DisconnectCustomKeyStoreRequest, DisconnectCustomKeyStoreResponse>('DisconnectCustomKeyStore', async (input, ctx, svc) => {
  const store = await findStore(input.CustomKeyStoreId, ctx, svc);
  svc.authorizer.authorize(ctx.caller, 'kms:DisconnectCustomKeyStore');
  const shown = svc.customKeyStores.shownState(store);
  if (shown === 'DISCONNECTING' || shown === 'DISCONNECTED') {
    throw invalidState(store, shown, 'DisconnectCustomKeyStore is not valid in this state.');
  }
  await svc.customKeyStores.transition(store, 'DISCONNECTING', async () => {
    await svc.customKeyStores.update(ctx.scope, store.customKeyStoreId, (current) =>
      current.connectionState === 'DISCONNECTED' ? undefined : { ...current, connectionState: 'DISCONNECTED', connectionErrorCode: undefined },
    );
    svc.hsm.disconnect(store.customKeyStoreId);
  });
  return {};
});
