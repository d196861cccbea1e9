import type { EnableKeyRequest } from '../../model/kms-model.generated.js';
import { assertKeyState } from '../../domain/key-state.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/** API_EnableKey: key ID or key ARN. Enabling an enabled key succeeds; an Unavailable key keeps its state ([12]). */
export const enableKey = defineOperation<EnableKeyRequest, void>('EnableKey', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'EnableKey', ctx, svc, OWN_KEY);
  await svc.keys.updateKey(key, key.keyId, (current) => {
    assertKeyState(current, 'EnableKey');
    if (current.keyState !== 'Disabled') return undefined;
    return { ...current, keyState: 'Enabled' };
  });
});
