import { CustomerMasterKeySpecValues, type CustomerMasterKeySpec, type KeyMetadata, type KeySpec } from '../model/kms-model.generated.js';
import { algorithmLists } from './key-specs.js';
import type { CustomKeyStoreRecord, KeyRecord, MaterialRecord } from './ports.js';

/** The deprecated CustomerMasterKeySpec mirrors KeySpec for the specs it knows. */
export function customerMasterKeySpec(spec: KeySpec): CustomerMasterKeySpec | undefined {
  return (CustomerMasterKeySpecValues as readonly string[]).includes(spec) ? (spec as CustomerMasterKeySpec) : undefined;
}

/** The KeyMetadata AWS returns for a key (CreateKey, DescribeKey). */
export function keyMetadata(key: KeyRecord, current?: MaterialRecord, store?: CustomKeyStoreRecord): KeyMetadata {
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
    CustomerMasterKeySpec: customerMasterKeySpec(key.keySpec),
    KeySpec: key.keySpec,
    // The list of the key's usage: EncryptionAlgorithms, SigningAlgorithms, MacAlgorithms or KeyAgreementAlgorithms.
    ...algorithmLists(key.keySpec, key.keyUsage),
    MultiRegion: key.multiRegion,
    CurrentKeyMaterialId: key.currentMaterialId,
    // Imported keys: the expiration of the current material, once there is one (API_KeyMetadata ExpirationModel, ValidTo).
    ...(key.origin === 'EXTERNAL' && current?.expirationModel !== undefined && { ExpirationModel: current.expirationModel }),
    ...(key.origin === 'EXTERNAL' && current?.validTo !== undefined && { ValidTo: current.validTo }),
    // Keys in a custom key store: the store, and for AWS_CLOUDHSM its cluster (API_KeyMetadata).
    ...(key.customKeyStoreId !== undefined && { CustomKeyStoreId: key.customKeyStoreId }),
    ...(store?.cloudHsmClusterId !== undefined && { CloudHsmClusterId: store.cloudHsmClusterId }),
    // Keys in an external key store: the external key's id in the proxy (API_KeyMetadata XksKeyConfiguration).
    ...(key.xksKeyId !== undefined && { XksKeyConfiguration: { Id: key.xksKeyId } }),
  };
}
