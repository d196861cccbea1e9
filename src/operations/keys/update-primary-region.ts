import type { UpdatePrimaryRegionRequest } from '../../model/kms-model.generated.js';
import { keyArn } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import { assertKeyState } from '../../domain/key-state.js';
import { DEFAULT_TRANSITION_MS, inTransition, isPrimary, notPrimaryMessage, requirePrimaryAndRegion } from '../../domain/multi-region.js';
import type { KeyRecord } from '../../domain/ports.js';
import { authorizeOnKey, keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * API_UpdatePrimaryRegion: the replica in PrimaryRegion becomes the primary, the current primary a replica; every
 * related key records the new primary Region, all in one transaction. The old and the new primary are Updating for a
 * few seconds (`svc.transitions.delayMs`), usable in cryptographic operations, then get their own state back. Needs
 * kms:UpdatePrimaryRegion on both keys, each under its own key policy.
 */
export const updatePrimaryRegion = defineOperation<UpdatePrimaryRegionRequest, void>('UpdatePrimaryRegion', async (input, ctx, svc) => {
  const primary = await keyForOperation(input.KeyId, 'UpdatePrimaryRegion', ctx, svc, OWN_KEY, { primaryRegion: input.PrimaryRegion });
  const region = input.PrimaryRegion;
  requirePrimaryAndRegion(primary, 'PrimaryRegion', region);
  if (region === primary.region) throw new KmsError('UnsupportedOperationException', `${primary.arn} is already the primary key in ${region}.`);
  const scope = { account: primary.account, region };
  const replica = await svc.keys.getKey(scope, primary.keyId);
  if (!replica?.multiRegion) throw new KmsError('NotFoundException', `Key '${keyArn(scope, primary.keyId)}' does not exist`);
  const inReplicaRegion = { ...ctx, region, scope };
  const pending = authorizeOnKey('kms:UpdatePrimaryRegion', replica, undefined, inReplicaRegion, svc, { primaryRegion: region });
  if (pending) await pending;
  assertKeyState(replica, 'UpdatePrimaryRegion');

  const until = new Date(svc.clock.now().getTime() + (svc.transitions?.delayMs ?? DEFAULT_TRANSITION_MS));
  await svc.keys.updateRelated(primary.account, primary.keyId, async (related) => {
    const oldPrimary = related.find((k) => k.region === primary.region);
    const newPrimary = related.find((k) => k.region === region);
    if (!oldPrimary || !newPrimary) throw new KmsError('NotFoundException', `Key '${(oldPrimary ? newPrimary : oldPrimary)?.arn ?? keyArn(scope, primary.keyId)}' does not exist`);
    // As stored now: a concurrent change of primary, or of either key's state, is re-checked.
    if (!isPrimary(oldPrimary)) throw new KmsError('UnsupportedOperationException', notPrimaryMessage(oldPrimary));
    assertKeyState(oldPrimary, 'UpdatePrimaryRegion');
    assertKeyState(newPrimary, 'UpdatePrimaryRegion');
    const keys = related.map((k): KeyRecord => {
      const moved = { ...k, primaryRegion: region };
      return k === oldPrimary || k === newPrimary ? inTransition(moved, 'Updating', k.keyState, until) : moved;
    });
    return { keys, materials: [] };
  });
  svc.transitions?.wake();
});
