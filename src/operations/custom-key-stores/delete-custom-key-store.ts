import type { DeleteCustomKeyStoreRequest, DeleteCustomKeyStoreResponse } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { StorageConflictError } from '../../domain/ports.js';
import { defineOperation } from '../operation.js';
import { findStore, invalidState, notFound } from './store-common.js';

/**
 * API_DeleteCustomKeyStore: only a DISCONNECTED store with no KMS keys (in any state, PendingDeletion included:
 * CustomKeyStoreHasCMKsException). The token and its objects are left as they are.
 */
export const deleteCustomKeyStore = defineOperation<DeleteCustomKeyStoreRequest, DeleteCustomKeyStoreResponse>('DeleteCustomKeyStore', async (input, ctx, svc) => {
  const store = await findStore(input.CustomKeyStoreId, ctx, svc);
  svc.authorizer.authorize(ctx.caller, 'kms:DeleteCustomKeyStore');
  const shown = svc.customKeyStores.shownState(store);
  if (shown !== 'DISCONNECTED') throw invalidState(store, shown, 'DeleteCustomKeyStore is valid only on a DISCONNECTED custom key store.');
  let result: 'deleted' | 'has-keys' | 'not-found';
  try {
    result = await svc.customKeyStores.delete(ctx.scope, store.customKeyStoreId, store.version);
  } catch (err) {
    if (err instanceof StorageConflictError) throw invalidState(store, 'changing', 'it changed while being deleted; describe it and retry.');
    throw err;
  }
  switch (result) {
    case 'deleted':
      return {};
    case 'has-keys':
      throw new KmsError('CustomKeyStoreHasCMKsException', `Custom key store ${store.customKeyStoreId} still has KMS keys: schedule their deletion and wait until they are deleted.`);
    case 'not-found':
      throw notFound(store.customKeyStoreId);
    default:
      return result satisfies never;
  }
});
