import type { ListAliasesRequest, ListAliasesResponse } from '../../model/kms-model.generated.js';
import { OWN_KEY, resolveKey } from '../common.js';
import { defineOperation } from '../operation.js';
import { decodeMarker, pageFields, pageLimit } from '../paging.js';
import { aliasListEntry } from './alias-rules.js';

const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]+$/;

/** API_ListAliases: the caller's aliases in the request's region, optionally of one key (key ID or ARN); Limit 1–100, default 50. */
export const listAliases = defineOperation<ListAliasesRequest, ListAliasesResponse>('ListAliases', async (input, ctx, svc) => {
  const limit = pageLimit(input.Limit, 50, 100);
  const after = decodeMarker('aliases', input.Marker, (name) => ALIAS_NAME.test(name));
  let targetKeyId: string | undefined;
  if (input.KeyId !== undefined) {
    const key = await resolveKey(input.KeyId, ctx, svc, OWN_KEY);
    targetKeyId = key.keyId;
  }
  svc.authorizer.authorize(ctx.caller, 'kms:ListAliases');
  const page = await svc.storage.listAliases(ctx.scope, limit, after, targetKeyId);
  return { Aliases: page.items.map(aliasListEntry), ...pageFields('aliases', page.next) };
});
