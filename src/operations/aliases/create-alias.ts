import type { CreateAliasRequest } from '../../model/kms-model.generated.js';
import { aliasArn } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import { StorageDuplicateError, StorageLimitError } from '../../domain/ports.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
import { checkAliasName, limitExceeded, MAX_ALIASES_PER_KEY, refuseAliasTarget } from './alias-rules.js';

/** API_CreateAlias: the alias and its key are in the caller's account and the request's region. */
export const createAlias = defineOperation<CreateAliasRequest, void>('CreateAlias', async (input, ctx, svc) => {
  checkAliasName(input.AliasName);
  refuseAliasTarget(input.TargetKeyId);
  const key = await keyForOperation(input.TargetKeyId, 'CreateAlias', ctx, svc, OWN_KEY);
  const now = svc.clock.now();
  try {
    await svc.keys.createAlias(
      { account: key.account, region: key.region, aliasName: input.AliasName, targetKeyId: key.keyId, creationDate: now, lastUpdatedDate: now },
      MAX_ALIASES_PER_KEY,
    );
  } catch (err) {
    if (err instanceof StorageDuplicateError) throw new KmsError('AlreadyExistsException', `An alias with the name ${aliasArn(key, input.AliasName)} already exists`);
    if (err instanceof StorageLimitError) throw limitExceeded(key.arn);
    throw err;
  }
});
