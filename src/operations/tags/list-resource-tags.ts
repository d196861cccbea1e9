import type { ListResourceTagsRequest, ListResourceTagsResponse } from '../../model/kms-model.generated.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
import { decodeMarker, pageFields, pageLimit } from '../paging.js';

/** API_ListResourceTags: key ID or key ARN; tags ordered by key; Limit 1–50, default 50. */
export const listResourceTags = defineOperation<ListResourceTagsRequest, ListResourceTagsResponse>('ListResourceTags', async (input, ctx, svc) => {
  const limit = pageLimit(input.Limit, 50, 50);
  const after = decodeMarker(`tags`, input.Marker, (k) => k.length >= 1 && k.length <= 128);
  const key = await keyForOperation(input.KeyId, 'ListResourceTags', ctx, svc, OWN_KEY);
  const all = await svc.keys.getTags(key);
  const rest = after === undefined ? all : all.filter((t) => t.key > after);
  const items = rest.slice(0, limit);
  const next = rest.length > limit ? items[items.length - 1]!.key : undefined;
  return { Tags: items.map((t) => ({ TagKey: t.key, TagValue: t.value })), ...pageFields('tags', next) };
});
