import type { AliasListEntry, ListAliasesRequest, ListAliasesResponse } from '../../model/kms-model.generated.js';
import { aliasArn } from '../../domain/arn.js';
import { predefinedAliasNames } from '../../domain/aws-managed-keys.js';
import type { AliasRecord, Page, Scope } from '../../domain/ports.js';
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
  await svc.authorizer.authorize(ctx.caller, 'kms:ListAliases');
  const page = await svc.storage.listAliases(ctx.scope, limit, after, targetKeyId);
  if (targetKeyId !== undefined) return { Aliases: page.items.map(aliasListEntry), ...pageFields('aliases', page.next) };
  return withPredefinedAliases(page, limit, after, ctx.scope);
});

/**
 * API_ListAliases: "The response might include several aliases that do not have a TargetKeyId field. These are
 * predefined aliases that AWS has created but has not yet associated with a KMS key." Merged, in name order, into the
 * stored page: a predefined name within the page's range is missing from the store exactly when the page lacks it.
 */
function withPredefinedAliases(page: Page<AliasRecord>, limit: number, after: string | undefined, scope: Scope): ListAliasesResponse {
  const last = page.items.at(-1)?.aliasName;
  const stored = new Set(page.items.map((a) => a.aliasName));
  const missing = predefinedAliasNames().filter((n) => (after === undefined || n > after) && (page.next === undefined || n <= last!) && !stored.has(n));
  if (missing.length === 0) return { Aliases: page.items.map(aliasListEntry), ...pageFields('aliases', page.next) };
  const merged: AliasListEntry[] = [...page.items.map(aliasListEntry), ...missing.map((n) => ({ AliasName: n, AliasArn: aliasArn(scope, n) }))];
  merged.sort((a, b) => (a.AliasName! < b.AliasName! ? -1 : 1));
  if (merged.length <= limit) return { Aliases: merged, ...pageFields('aliases', page.next) };
  const shown = merged.slice(0, limit);
  return { Aliases: shown, ...pageFields('aliases', shown.at(-1)!.AliasName!) };
}
