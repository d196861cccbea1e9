// Condition keys that need more than the request itself: kms:ViaService (who the caller acts for) and the key's
// aliases and tags (kms:ResourceAliases, aws:ResourceTag/<key>), fetched only when the key's policy tests them.
import type { AuthorizationContext, ResourceConditionNeeds } from '../domain/authorizer.js';
import type { KeyRecord } from '../domain/ports.js';
import type { RequestContext, Services } from './operation.js';

/**
 * kms:ViaService for a request signed with an access key that the deployment declared as an integrated service's
 * (config `serviceAccessKeys`): "<service>.<region>.amazonaws.com", as AWS sets it when a service calls KMS for a
 * principal. Any other request has no kms:ViaService.
 */
export function viaService(ctx: RequestContext, svc: Services): string | undefined {
  const service = svc.serviceAccessKeys?.get(ctx.caller.accessKeyId);
  return service === undefined ? undefined : `${service}.${ctx.region}.amazonaws.com`;
}

/** Adds the key's alias names and tags the policy asked for (cached by the key repository). */
export async function withResourceConditions(
  context: AuthorizationContext,
  key: KeyRecord,
  needs: ResourceConditionNeeds,
  svc: Services,
): Promise<AuthorizationContext> {
  const [aliases, tags] = await Promise.all([
    needs.aliases ? svc.keys.getKeyAliases(key) : undefined,
    needs.tags ? svc.keys.getResourceTags(key) : undefined,
  ]);
  return {
    ...context,
    ...(aliases && { resourceAliases: aliases }),
    ...(tags && { resourceTags: Object.fromEntries(tags.map((t) => [t.key, t.value])) }),
  };
}

/** aws:RequestTag/<key> and aws:TagKeys of a request that sets tags (CreateKey, TagResource). */
export function requestTagConditions(tags: readonly { readonly TagKey: string; readonly TagValue: string }[] | undefined): AuthorizationContext {
  if (!tags) return {};
  return { requestTags: Object.fromEntries(tags.map((t) => [t.TagKey, t.TagValue])), tagKeys: tags.map((t) => t.TagKey) };
}
