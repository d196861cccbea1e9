import type { UntagResourceRequest } from '../../model/kms-model.generated.js';
import { checkTagKeys } from '../../domain/tags.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/** API_UntagResource: key ID or key ARN; removing a tag key the key does not have is not an error. */
export const untagResource = defineOperation<UntagResourceRequest, void>('UntagResource', async (input, ctx, svc) => {
  checkTagKeys(input.TagKeys);
  const key = await keyForOperation(input.KeyId, 'UntagResource', ctx, svc, OWN_KEY, { tagKeys: input.TagKeys });
  await svc.keys.removeTags(key, input.TagKeys);
});
