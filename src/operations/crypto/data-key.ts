import type { DataKeySpec } from '../../model/kms-model.generated.js';
import { SecretBytes } from '../../crypto/secret-bytes.js';
import { KmsError } from '../../domain/errors.js';
import type { EncryptionContext } from '../../domain/encryption-context.js';
import { sealSymmetric } from '../../domain/symmetric.js';
import { CRYPTO_KEY, dryRunCheck, keyForOperation } from '../common.js';
import type { RequestContext, Services } from '../operation.js';
import { currentMaterial, requireSymmetricDataKey } from './symmetric-key.js';

export interface DataKeyInput {
  readonly KeyId: string;
  readonly EncryptionContext?: EncryptionContext;
  readonly NumberOfBytes?: number;
  readonly KeySpec?: DataKeySpec;
  readonly DryRun?: boolean;
  readonly GrantTokens?: string[];
}

function dataKeyLength(input: DataKeyInput): number {
  if ((input.NumberOfBytes === undefined) === (input.KeySpec === undefined)) {
    throw new KmsError('ValidationException', 'Please specify either number of bytes or key spec.');
  }
  if (input.NumberOfBytes !== undefined) return input.NumberOfBytes;
  const spec: DataKeySpec = input.KeySpec!;
  switch (spec) {
    case 'AES_128':
      return 16;
    case 'AES_256':
      return 32;
    default: {
      const never: never = spec;
      throw new KmsError('ValidationException', `Unsupported key spec ${String(never)}`);
    }
  }
}

/** GenerateDataKey and GenerateDataKeyWithoutPlaintext: a fresh random key and its copy under the KMS key. */
export async function generateDataKey(
  input: DataKeyInput,
  operation: 'GenerateDataKey' | 'GenerateDataKeyWithoutPlaintext',
  ctx: RequestContext,
  svc: Services,
): Promise<{ plaintext: SecretBytes; blob: Buffer; keyArn: string; materialId: string }> {
  const length = dataKeyLength(input);
  const key = await keyForOperation(input.KeyId, operation, ctx, svc, CRYPTO_KEY, { encryptionContext: input.EncryptionContext, grantTokens: input.GrantTokens });
  requireSymmetricDataKey(key, operation);
  const material = await currentMaterial(key, svc);
  dryRunCheck(input.DryRun);
  const plaintext = SecretBytes.adopt(svc.random.bytes(length));
  const blob = await sealSymmetric(svc.keystore, key, material, plaintext.unsafeBytes(), input.EncryptionContext);
  return { plaintext, blob, keyArn: key.arn, materialId: material.materialId };
}
