import { CustomerMasterKeySpecValues, type CustomerMasterKeySpec, type EncryptionAlgorithmSpec, type KeyMetadata, type KeySpec } from '../model/kms-model.generated.js';
import type { KeyRecord } from './ports.js';

function encryptionAlgorithms(spec: KeySpec): EncryptionAlgorithmSpec[] | undefined {
  switch (spec) {
    case 'SYMMETRIC_DEFAULT':
      return ['SYMMETRIC_DEFAULT'];
    default:
      return undefined;
  }
}

/** The KeyMetadata AWS returns for a key (CreateKey, DescribeKey). */
export function keyMetadata(key: KeyRecord): KeyMetadata {
  return {
    AWSAccountId: key.account,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: key.creationDate,
    Enabled: key.keyState === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.keyState,
    DeletionDate: key.keyState === 'PendingDeletion' ? key.deletionDate : undefined,
    Origin: key.origin,
    KeyManager: key.keyManager,
    // The deprecated field mirrors KeySpec for the specs it knows.
    CustomerMasterKeySpec: (CustomerMasterKeySpecValues as readonly string[]).includes(key.keySpec) ? (key.keySpec as CustomerMasterKeySpec) : undefined,
    KeySpec: key.keySpec,
    EncryptionAlgorithms: key.keyUsage === 'ENCRYPT_DECRYPT' ? encryptionAlgorithms(key.keySpec) : undefined,
    MultiRegion: key.multiRegion,
    CurrentKeyMaterialId: key.currentMaterialId,
  };
}
