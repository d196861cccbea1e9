import type { GenerateDataKeyWithoutPlaintextRequest, GenerateDataKeyWithoutPlaintextResponse } from '../../model/kms-model.generated.js';
import { defineOperation } from '../operation.js';
import { generateDataKey } from './data-key.js';

export const generateDataKeyWithoutPlaintext = defineOperation<GenerateDataKeyWithoutPlaintextRequest, GenerateDataKeyWithoutPlaintextResponse>(
  'GenerateDataKeyWithoutPlaintext',
  async (input, ctx, svc) => {
    const dk = await generateDataKey(input, 'GenerateDataKeyWithoutPlaintext', ctx, svc);
    dk.plaintext.wipe();
    return { CiphertextBlob: dk.blob, KeyId: dk.keyArn, KeyMaterialId: dk.materialId };
  },
);
