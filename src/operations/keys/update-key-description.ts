import type { UpdateKeyDescriptionRequest } from '../../model/kms-model.generated.js';
import { assertKeyState } from '../../domain/key-state.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/** API_UpdateKeyDescription: key ID or key ARN; Description 0–8192 characters (the model checks the length). */
export const updateKeyDescription = defineOperation<UpdateKeyDescriptionRequest, void>('UpdateKeyDescription', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'UpdateKeyDescription', ctx, svc, OWN_KEY);
  await svc.keys.updateKey(key, key.keyId, (current) => {
    assertKeyState(current, 'UpdateKeyDescription');
    return current.description === input.Description ? undefined : { ...current, description: input.Description };
  });
});
