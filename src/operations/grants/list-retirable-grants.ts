import type { ListGrantsResponse, ListRetirableGrantsRequest } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { checkPrincipal, GRANT_ID, principalAccount } from '../../domain/grants.js';
import { defineOperation } from '../operation.js';
import { decodeMarker, pageFields, pageLimit } from '../paging.js';
import { grantListEntry } from './grant-rules.js';

/**
 * API_ListRetirableGrants: grants in the request's region, on keys of any account, whose retiring principal is the
 * given principal, which must be in the caller's account; an IAM-only permission (kms:ListRetirableGrants). Limit 1–100.
 */
export const listRetirableGrants = defineOperation<ListRetirableGrantsRequest, ListGrantsResponse>('ListRetirableGrants', async (input, ctx, svc) => {
  const limit = pageLimit(input.Limit, 50, 100);
  checkPrincipal(input.RetiringPrincipal);
  const after = decodeMarker('retirable-grants', input.Marker, (k) => /^arn:aws:kms:\S+ \S+$/.test(k) && GRANT_ID.test(k.slice(k.lastIndexOf(' ') + 1)));
  svc.authorizer.authorize(ctx.caller, 'kms:ListRetirableGrants');
  if (principalAccount(input.RetiringPrincipal) !== ctx.caller.account) {
    throw new KmsError('AccessDeniedException', `User: ${ctx.caller.principalArn} is not authorized to list the grants retirable by ${input.RetiringPrincipal}: it is not a principal of account ${ctx.caller.account}`);
  }
  const page = await svc.storage.listRetirableGrants(ctx.region, input.RetiringPrincipal, limit, after);
  return { Grants: page.items.map(grantListEntry), ...pageFields('retirable-grants', page.next) };
});
