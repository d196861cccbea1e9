import type { ReEncryptRequest, ReEncryptResponse } from '../../model/kms-model.generated.js';
import { sealSymmetric } from '../../domain/symmetric.js';
import { CRYPTO_KEY, dryRunCheck, keyForOperation } from '../common.js';
import { defineOperation } from '../operation.js';
import { openCiphertext } from './open-ciphertext.js';
import { currentMaterial, requireSymmetricEncryption } from './symmetric-key.js';

export const reEncrypt = defineOperation<ReEncryptRequest, ReEncryptResponse>('ReEncrypt', async (input, ctx, svc) => {
  const source = await openCiphertext(
    input.CiphertextBlob, input.SourceKeyId, input.SourceEncryptionContext, input.SourceEncryptionAlgorithm, 'ReEncrypt', ctx, svc,
  );
  try {
    const destination = await keyForOperation(input.DestinationKeyId, 'ReEncrypt', ctx, svc, CRYPTO_KEY);
    requireSymmetricEncryption(destination, input.DestinationEncryptionAlgorithm);
    const material = await currentMaterial(destination, svc);
    dryRunCheck(input.DryRun);
    const blob = await sealSymmetric(svc.keystore, destination, material, source.plaintext.unsafeBytes(), input.DestinationEncryptionContext);
    return {
      CiphertextBlob: blob,
      SourceKeyId: source.key.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      SourceKeyMaterialId: source.materialId,
      DestinationKeyMaterialId: material.materialId,
    };
  } finally {
    source.plaintext.wipe();
  }
});
