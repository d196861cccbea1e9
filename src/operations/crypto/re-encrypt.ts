import type { ReEncryptRequest, ReEncryptResponse } from '../../model/kms-model.generated.js';
import { encryptionScheme } from '../../domain/key-specs.js';
import { CRYPTO_KEY, keyForOperation } from '../common.js';
import { defineOperation } from '../operation.js';
import { openCiphertext } from './open-ciphertext.js';
import { seal } from './seal.js';
import { currentMaterial } from './symmetric-key.js';

export const reEncrypt = defineOperation<ReEncryptRequest, ReEncryptResponse>('ReEncrypt', async (input, ctx, svc) => {
  const source = await openCiphertext(
    input.CiphertextBlob, input.SourceKeyId, input.SourceEncryptionContext, input.SourceEncryptionAlgorithm, 'ReEncrypt', ctx, svc, input.GrantTokens,
  );
  try {
    const destination = await keyForOperation(input.DestinationKeyId, 'ReEncrypt', ctx, svc, CRYPTO_KEY, {
      encryptionContext: input.DestinationEncryptionContext, encryptionAlgorithm: input.DestinationEncryptionAlgorithm, grantTokens: input.GrantTokens,
    }, 'kms:ReEncryptTo');
    const scheme = encryptionScheme(destination, input.DestinationEncryptionAlgorithm, 'ReEncrypt');
    const material = await currentMaterial(destination, svc);
    const sealed = await seal(svc, destination, scheme, material, source.plaintext.unsafeBytes(), input.DestinationEncryptionContext, input.DryRun);
    return {
      CiphertextBlob: sealed.blob,
      SourceKeyId: source.key.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: source.algorithm,
      DestinationEncryptionAlgorithm: sealed.algorithm,
      SourceKeyMaterialId: source.materialId,
      DestinationKeyMaterialId: scheme.kind === 'symmetric' ? material.materialId : undefined,
    };
  } finally {
    source.plaintext.wipe();
  }
});
