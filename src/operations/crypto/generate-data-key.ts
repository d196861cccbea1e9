import type { GenerateDataKeyRequest, GenerateDataKeyResponse } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { defineOperation } from '../operation.js';
import { generateDataKey as makeDataKey } from './data-key.js';

export const generateDataKey = defineOperation<GenerateDataKeyRequest, GenerateDataKeyResponse>('GenerateDataKey', async (input, ctx, svc) => {
  if (input.Recipient) {
    throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available outside AWS.');
  }
  const dk = await makeDataKey(input, 'GenerateDataKey', ctx, svc);
  return { CiphertextBlob: dk.blob, Plaintext: dk.plaintext, KeyId: dk.keyArn, KeyMaterialId: dk.materialId };
});
