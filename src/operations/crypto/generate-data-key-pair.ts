import type { GenerateDataKeyPairRequest, GenerateDataKeyPairResponse } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { defineOperation } from '../operation.js';
import { generateDataKeyPair as makeDataKeyPair } from './data-key-pair.js';

export const generateDataKeyPair = defineOperation<GenerateDataKeyPairRequest, GenerateDataKeyPairResponse>('GenerateDataKeyPair', async (input, ctx, svc) => {
  if (input.Recipient) {
    throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available outside AWS.');
  }
  const dk = await makeDataKeyPair(input, 'GenerateDataKeyPair', ctx, svc);
  return {
    PrivateKeyCiphertextBlob: dk.blob,
    PrivateKeyPlaintext: dk.privateKey,
    PublicKey: dk.publicKey,
    KeyId: dk.keyArn,
    KeyPairSpec: input.KeyPairSpec,
    KeyMaterialId: dk.materialId,
  };
});
