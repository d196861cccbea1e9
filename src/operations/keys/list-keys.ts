import type { ListKeysRequest, ListKeysResponse } from '../../model/kms-model.generated.js';
import { isKeyId } from '../../domain/arn.js';
import { defineOperation } from '../operation.js';
import { decodeMarker, pageFields, pageLimit } from '../paging.js';

/** API_ListKeys: the caller's keys in the request's region; Limit 1–1000, default 100. */
export const listKeys = defineOperation<ListKeysRequest, ListKeysResponse>('ListKeys', async (input, ctx, svc) => {
  const limit = pageLimit(input.Limit, 100, 1000);
  const after = decodeMarker('keys', input.Marker, isKeyId);
  svc.authorizer.authorize(ctx.caller, 'kms:ListKeys');
  const page = await svc.storage.listKeys(ctx.scope, limit, after);
  return { Keys: page.items.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), ...pageFields('keys', page.next) };
});
