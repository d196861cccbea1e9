import { CustomerMasterKeySpecValues, type CustomerMasterKeySpec, type KeyMetadata, type KeySpec, type MultiRegionConfiguration } from '../model/kms-model.generated.js';
import { keyArn } from './arn.js';
import { algorithmLists } from './key-specs.js';
import type { CustomKeyStoreRecord, KeyRecord, MaterialRecord } from './ports.js';

/** The deprecated CustomerMasterKeySpec mirrors KeySpec for the specs it knows. */
export function customerMasterKeySpec(spec: KeySpec): CustomerMasterKeySpec | undefined {
  return (CustomerMasterKeySpecValues as readonly string[]).includes(spec) ? (spec as CustomerMasterKeySpec) : undefined;
}

/**
 * A multi-Region key's MultiRegionConfiguration, the same on every related key: the primary (from the Region every
 * related key records) and the replicas, every related key but the primary, in creation order. `related`: every related
 * key, `key` included (Storage.getRelatedKeys).
 */
export function multiRegionConfiguration(key: KeyRecord, related: readonly KeyRecord[]): MultiRegionConfiguration | undefined {
  if (key.primaryRegion === undefined) return undefined;
  const primaryRegion = key.primaryRegion;
  return {
    MultiRegionKeyType: key.region === primaryRegion ? 'PRIMARY' : 'REPLICA',
    PrimaryKey: { Arn: keyArn({ account: key.account, region: primaryRegion }, key.keyId), Region: primaryRegion },
    ReplicaKeys: related.filter((k) => k.region !== primaryRegion).map((k) => ({ Arn: k.arn, Region: k.region })),
  };
}

/**
 * The KeyMetadata AWS returns for a key (CreateKey, DescribeKey, ReplicateKey). `related`: a multi-Region key's related
 * keys (itself included), for its MultiRegionConfiguration; a single-Region key has none (AWS leaves the member out).
 */
export function keyMetadata(key: KeyRecord, current?: MaterialRecord, store?: CustomKeyStoreRecord, related: readonly KeyRecord[] = [key]): KeyMetadata {
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
    ...(key.multiRegion && { MultiRegionConfiguration: multiRegionConfiguration(key, related) }),
    // A primary pending replica deletion: its waiting period, which begins when its last replica is deleted.
    ...(key.keyState === 'PendingReplicaDeletion' && key.pendingDeletionWindowInDays !== undefined && { PendingDeletionWindowInDays: key.pendingDeletionWindowInDays }),
    // A replica being created has no usable material yet: AWS shows no CurrentKeyMaterialId until it is Enabled.
    CurrentKeyMaterialId: key.keyState === 'Creating' ? undefined : key.currentMaterialId,
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
