import type { GenerateDataKeyPairWithoutPlaintextRequest, GenerateDataKeyPairWithoutPlaintextResponse } from '../../model/kms-model.generated.js';
import { defineOperation } from '../operation.js';
import { generateDataKeyPair } from './data-key-pair.js';

export const generateDataKeyPairWithoutPlaintext = defineOperation<GenerateDataKeyPairWithoutPlaintextRequest, GenerateDataKeyPairWithoutPlaintextResponse>(
  'GenerateDataKeyPairWithoutPlaintext',
  async (input, ctx, svc) => {
    const dk = await generateDataKeyPair(input, 'GenerateDataKeyPairWithoutPlaintext', ctx, svc);
    dk.privateKey.wipe();
    return { PrivateKeyCiphertextBlob: dk.blob, PublicKey: dk.publicKey, KeyId: dk.keyArn, KeyPairSpec: input.KeyPairSpec, KeyMaterialId: dk.materialId };
  },
);
