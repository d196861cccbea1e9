import type { UpdateAliasRequest } from '../../model/kms-model.generated.js';
import { validationError } from '../../domain/errors.js';
import { StorageLimitError } from '../../domain/ports.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
import { checkAliasName, limitExceeded, MAX_ALIASES_PER_KEY, notFound, refuseAliasTarget } from './alias-rules.js';

/**
 * API_UpdateAlias: moves an alias name (not an ARN) to another key of the same account and region, of the same
 * type and key usage. The new key's state is checked ([10]); the old key's is not.
 */
export const updateAlias = defineOperation<UpdateAliasRequest, void>('UpdateAlias', async (input, ctx, svc) => {
  checkAliasName(input.AliasName);
  refuseAliasTarget(input.TargetKeyId);
  const target = await keyForOperation(input.TargetKeyId, 'UpdateAlias', ctx, svc, OWN_KEY);
  const alias = await svc.keys.getAlias(ctx.scope, input.AliasName);
  if (!alias) throw notFound(ctx.scope, input.AliasName);
  const current = await svc.keys.getKey(ctx.scope, alias.targetKeyId);
  if (current) {
    await svc.authorizer.authorize(ctx.caller, 'kms:UpdateAlias', current);
    if (current.keySpec !== target.keySpec || current.keyUsage !== target.keyUsage) {
      throw validationError(
        `${target.arn} is not compatible with the current key of ${input.AliasName}: the key spec and key usage must be the same (${current.keySpec}/${current.keyUsage}).`,
      );
    }
  }
  let moved: boolean;
  try {
    moved = await svc.keys.updateAlias(ctx.scope, input.AliasName, target.keyId, MAX_ALIASES_PER_KEY);
  } catch (err) {
    if (err instanceof StorageLimitError) throw limitExceeded(target.arn);
    throw err;
  }
  if (!moved) throw notFound(ctx.scope, input.AliasName);
});
