import type { DescribeCustomKeyStoresRequest, DescribeCustomKeyStoresResponse } from '../../model/kms-model.generated.js';
import { CUSTOM_KEY_STORES_PER_ACCOUNT } from '../../domain/custom-key-stores.js';
import { defineOperation } from '../operation.js';
import { decodeMarker, pageFields, pageLimit } from '../paging.js';
import { listEntry, notFound } from './store-common.js';

const CKS_ID = /^cks-[0-9a-f]{17}$/;

/**
 * API_DescribeCustomKeyStores: the caller's custom key stores in the Region, ordered by id, paged with Limit (1–1000)
 * and Marker; or the one named by CustomKeyStoreId or CustomKeyStoreName (CustomKeyStoreNotFoundException if none).
 */
export const describeCustomKeyStores = defineOperation<DescribeCustomKeyStoresRequest, DescribeCustomKeyStoresResponse>('DescribeCustomKeyStores', async (input, ctx, svc) => {
  const limit = pageLimit(input.Limit, 1000, 1000);
  const after = decodeMarker('custom-key-stores', input.Marker, (k) => CKS_ID.test(k));
  svc.authorizer.authorize(ctx.caller, 'kms:DescribeCustomKeyStores');
  if (input.CustomKeyStoreId !== undefined || input.CustomKeyStoreName !== undefined) {
    let store = input.CustomKeyStoreId !== undefined ? await svc.customKeyStores.get(ctx.scope, input.CustomKeyStoreId) : undefined;
    if (input.CustomKeyStoreId === undefined) {
      // Names are unique in an account and Region, and an account has at most a handful of stores.
      store = (await svc.customKeyStores.list(ctx.scope, CUSTOM_KEY_STORES_PER_ACCOUNT * 10)).items.find((s) => s.name === input.CustomKeyStoreName);
    } else if (store && input.CustomKeyStoreName !== undefined && store.name !== input.CustomKeyStoreName) {
      store = undefined;
    }
    if (!store) throw notFound(input.CustomKeyStoreId ?? input.CustomKeyStoreName!);
    return { CustomKeyStores: [listEntry(store, svc)], Truncated: false };
  }
  const page = await svc.customKeyStores.list(ctx.scope, limit, after);
  return { CustomKeyStores: page.items.map((s) => listEntry(s, svc)), ...pageFields('custom-key-stores', page.next) };
});
