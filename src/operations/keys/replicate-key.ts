import type { KeyState, ReplicateKeyRequest, ReplicateKeyResponse } from '../../model/kms-model.generated.js';
import { keyArn } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import { keyMetadata } from '../../domain/key-metadata.js';
import { checkKeyPolicy, defaultKeyPolicy } from '../../domain/key-policy.js';
import { DEFAULT_TRANSITION_MS, inTransition, requirePrimaryAndRegion } from '../../domain/multi-region.js';
import { StorageDuplicateError, type KeyRecord } from '../../domain/ports.js';
import { checkTagCount, checkTags } from '../../domain/tags.js';
import { authorizationContext, keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
import { checkPolicyLockout } from '../policies/lockout.js';
import { requestTagConditions } from '../request-conditions.js';

/**
 * API_ReplicateKey: a replica of a multi-Region primary key in another Region of the partition, with the same key id,
 * key spec, usage, origin, materials and rotation settings, and its own policy (the default one when none is given),
 * description ("" when none), tags and state. It is Creating for a few seconds (`svc.transitions.delayMs`), then Enabled,
 * or PendingImport when the primary's material is imported (the same material must be imported into the replica).
 */
export const replicateKey = defineOperation<ReplicateKeyRequest, ReplicateKeyResponse>('ReplicateKey', async (input, ctx, svc) => {
  const primary = await keyForOperation(input.KeyId, 'ReplicateKey', ctx, svc, OWN_KEY, { replicaRegion: input.ReplicaRegion });
  const region = input.ReplicaRegion;
  requirePrimaryAndRegion(primary, 'ReplicaRegion', region);
  const scope = { account: primary.account, region };
  const arn = keyArn(scope, primary.keyId);
  const related = await svc.keys.getRelatedKeys(primary.account, primary.keyId);
  if (related.some((k) => k.region === region)) throw new KmsError('AlreadyExistsException', `${arn} already exists`);
  checkTagCount(input.Tags ?? []);
  const tags = checkTags(input.Tags ?? []);
  if (input.Policy !== undefined) checkKeyPolicy(input.Policy);
  const policy = input.Policy ?? defaultKeyPolicy(primary.account);
  // The replica Region's own permissions, from IAM policies (API_ReplicateKey "Required permissions").
  const inReplicaRegion = { ...ctx, region, scope };
  const request = authorizationContext(undefined, inReplicaRegion, {
    ...requestTagConditions(input.Tags), keySpec: primary.keySpec, keyUsage: primary.keyUsage, keyOrigin: primary.origin, multiRegion: true,
    multiRegionKeyType: 'REPLICA',
  }, svc);
  // kms:CreateKey, and kms:PutKeyPolicy / kms:TagResource when a policy / tags are given: identity policies only (the
  // replica does not exist yet), decided in the replica Region.
  const actions = ['kms:CreateKey', ...(input.Policy !== undefined ? ['kms:PutKeyPolicy'] : []), ...(input.Tags?.length ? ['kms:TagResource'] : [])];
  for (const action of actions) {
    const allowed = svc.authorizer.authorize(ctx.caller, action, undefined, request);
    if (allowed) await allowed;
  }

  const now = svc.clock.now();
  // An imported primary's replica has no material until the same material is imported into it.
  const imported = primary.origin === 'EXTERNAL';
  const settled: KeyState = imported ? 'PendingImport' : 'Enabled';
  const delayMs = svc.transitions?.delayMs ?? DEFAULT_TRANSITION_MS;
  const replica: KeyRecord = inTransition({
    account: primary.account,
    region,
    keyId: primary.keyId,
    arn,
    creationDate: now,
    description: input.Description ?? '',
    keyUsage: primary.keyUsage,
    keySpec: primary.keySpec,
    origin: primary.origin,
    keyManager: primary.keyManager,
    keyState: 'Creating',
    currentMaterialId: imported ? undefined : primary.currentMaterialId,
    multiRegion: true,
    primaryRegion: primary.primaryRegion,
    policy,
    version: 1,
    // Shared properties: the rotation settings (automatic rotation is managed on the primary).
    ...(primary.rotationPeriodDays !== undefined && { rotationPeriodDays: primary.rotationPeriodDays }),
    ...(primary.nextRotationDate !== undefined && { nextRotationDate: primary.nextRotationDate }),
    ...(primary.onDemandRotations !== undefined && { onDemandRotations: primary.onDemandRotations }),
  }, 'Creating', settled, new Date(now.getTime() + delayMs));
  if (input.Policy !== undefined) {
    await checkPolicyLockout(input.Policy, input.BypassPolicyLockoutSafetyCheck, replica, inReplicaRegion, svc, {
      resourceAliases: [], resourceTags: Object.fromEntries(tags.map((t) => [t.key, t.value])),
    });
  }
  // The same materials, each wrapped for the replica's own ARN (never in plaintext outside memory).
  const materials = imported ? [] : await Promise.all((await svc.storage.getMaterials(primary.arn)).map((m) => svc.keystore.copyMaterial(m, arn)));
  const replicaMetadata = keyMetadata(replica, undefined, undefined, [...related, replica]);
  // Recorded as ReplicateKey in the primary's Region and CreateKey in the replica's (API_ReplicateKey), together.
  ctx.resourceArn = primary.arn;
  ctx.auditCompanions = [{
    operation: 'CreateKey', region, resourceArn: arn,
    input: { Description: input.Description, Tags: input.Tags, Policy: input.Policy, KeySpec: primary.keySpec, KeyUsage: primary.keyUsage, Origin: primary.origin, MultiRegion: true },
    output: { KeyMetadata: replicaMetadata },
  }];
  try {
    await svc.keys.createKey(replica, materials, tags);
  } catch (err) {
    if (err instanceof StorageDuplicateError) throw new KmsError('AlreadyExistsException', `${arn} already exists`);
    throw err;
  }
  svc.transitions?.wake();
  return {
    ReplicaKeyMetadata: replicaMetadata,
    ReplicaPolicy: policy,
    ReplicaTags: tags.map((t) => ({ TagKey: t.key, TagValue: t.value })),
  };
});
