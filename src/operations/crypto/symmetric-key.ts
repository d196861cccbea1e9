import { KmsError } from '../../domain/errors.js';
import { requireUsage } from '../../domain/key-specs.js';
import type { KeyRecord, MaterialRecord } from '../../domain/ports.js';
import type { Services } from '../operation.js';

/** Data keys need an ENCRYPT_DECRYPT key of spec SYMMETRIC_DEFAULT. */
export function requireSymmetricDataKey(
  key: KeyRecord,
  operation: 'GenerateDataKey' | 'GenerateDataKeyWithoutPlaintext' | 'GenerateDataKeyPair' | 'GenerateDataKeyPairWithoutPlaintext',
): void {
  requireUsage(key, 'ENCRYPT_DECRYPT', operation);
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `${key.arn} key usage is not valid for symmetric encryption.`);
  }
}

/** The material new ciphertexts (and signatures, MACs) are made with. */
export async function currentMaterial(key: KeyRecord, svc: Services): Promise<MaterialRecord> {
  const material = key.currentMaterialId ? await svc.keys.getMaterial(key, key.currentMaterialId) : undefined;
  if (!material) throw new KmsError('KMSInternalException', 'The key has no usable key material.');
  return material;
}
