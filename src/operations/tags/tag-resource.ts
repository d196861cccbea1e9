import type { TagResourceRequest } from '../../model/kms-model.generated.js';
import { StorageLimitError } from '../../domain/ports.js';
import { checkTags, MAX_TAGS_PER_KEY, tagLimitExceeded } from '../../domain/tags.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';
import { requestTagConditions } from '../request-conditions.js';

/** API_TagResource: key ID or key ARN; adds tags, overwriting the value of a key already there; at most 50 per key. */
export const tagResource = defineOperation<TagResourceRequest, void>('TagResource', async (input, ctx, svc) => {
  const tags = checkTags(input.Tags);
  const key = await keyForOperation(input.KeyId, 'TagResource', ctx, svc, OWN_KEY, requestTagConditions(input.Tags));
  try {
    await svc.keys.putTags(key, tags, MAX_TAGS_PER_KEY);
  } catch (err) {
    if (err instanceof StorageLimitError) throw tagLimitExceeded(key.arn);
    throw err;
  }
});
