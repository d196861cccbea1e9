import type { EncryptionAlgorithmSpec } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import type { KeyRecord, MaterialRecord } from '../../domain/ports.js';
import type { Services } from '../operation.js';

/** Symmetric encryption needs an ENCRYPT_DECRYPT key of spec SYMMETRIC_DEFAULT and that algorithm. */
export function requireSymmetricEncryption(key: KeyRecord, algorithm: EncryptionAlgorithmSpec | undefined): void {
  if (key.keyUsage !== 'ENCRYPT_DECRYPT') {
    throw new KmsError('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage} which is not valid for this operation.`);
  }
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `${key.arn} key usage is not valid for symmetric encryption.`);
  }
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `The encryption algorithm ${algorithm} is not compatible with the type of the specified KMS key.`);
  }
}

/** The material new ciphertexts are made with. */
export async function currentMaterial(key: KeyRecord, svc: Services): Promise<MaterialRecord> {
  const material = key.currentMaterialId ? await svc.keys.getMaterial(key, key.currentMaterialId) : undefined;
  if (!material) throw new KmsError('KMSInternalException', 'The key has no usable key material.');
  return material;
}
