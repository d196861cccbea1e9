import type { DeleteAliasRequest } from '../../model/kms-model.generated.js';
import { defineOperation } from '../operation.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { checkAliasName, notFound } from './alias-rules.js';

/** API_DeleteAlias: an alias name (not an ARN); authorized against the key it points to; any key state. */
export const deleteAlias = defineOperation<DeleteAliasRequest, void>('DeleteAlias', async (input, ctx, svc) => {
  checkAliasName(input.AliasName);
  const alias = await svc.keys.getAlias(ctx.scope, input.AliasName);
  if (!alias) throw notFound(ctx.scope, input.AliasName);
  await keyForOperation(alias.targetKeyId, 'DeleteAlias', ctx, svc, OWN_KEY);
  if (!(await svc.keys.deleteAlias(ctx.scope, input.AliasName))) throw notFound(ctx.scope, input.AliasName);
});
