import type { DisableKeyRequest } from '../../model/kms-model.generated.js';
import { assertKeyState } from '../../domain/key-state.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/** API_DisableKey: key ID or key ARN. Disabling a disabled key succeeds; an Unavailable key keeps its state ([12]). */
export const disableKey = defineOperation<DisableKeyRequest, void>('DisableKey', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'DisableKey', ctx, svc, OWN_KEY);
  await svc.keys.updateKey(key, key.keyId, (current) => {
    assertKeyState(current, 'DisableKey');
    if (current.keyState !== 'Enabled') return undefined;
    return { ...current, keyState: 'Disabled' };
  });
});
