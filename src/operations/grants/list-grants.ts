import type { ListGrantsRequest, ListGrantsResponse } from '../../model/kms-model.generated.js';
import { GRANT_ID } from '../../domain/grants.js';
import { keyForOperation } from '../common.js';
import { defineOperation } from '../operation.js';
import { decodeMarker, pageFields, pageLimit } from '../paging.js';
import { checkGrantId, GRANT_KEY, grantListEntry } from './grant-rules.js';

/** API_ListGrants: the grants of a key (key ID or key ARN), optionally one grant id or one grantee; Limit 1–100, default 50. */
export const listGrants = defineOperation<ListGrantsRequest, ListGrantsResponse>('ListGrants', async (input, ctx, svc) => {
  const limit = pageLimit(input.Limit, 50, 100);
  if (input.GrantId !== undefined) checkGrantId(input.GrantId);
  const after = decodeMarker('grants', input.Marker, (id) => GRANT_ID.test(id));
  const key = await keyForOperation(input.KeyId, 'ListGrants', ctx, svc, GRANT_KEY, { granteePrincipal: input.GranteePrincipal, grantIsForAwsResource: false });
  const page = await svc.storage.listGrants(key.arn, limit, after, { grantId: input.GrantId, granteePrincipal: input.GranteePrincipal });
  return { Grants: page.items.map(grantListEntry), ...pageFields('grants', page.next) };
});
