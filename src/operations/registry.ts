import { TARGET_PREFIX, type OperationName } from '../model/kms-model.generated.js';
import type { Operation } from './operation.js';
import { createKey } from './keys/create-key.js';
import { describeKey } from './keys/describe-key.js';
import { listKeys } from './keys/list-keys.js';
import { enableKey } from './keys/enable-key.js';
import { disableKey } from './keys/disable-key.js';
import { scheduleKeyDeletion } from './keys/schedule-key-deletion.js';
import { cancelKeyDeletion } from './keys/cancel-key-deletion.js';
import { updateKeyDescription } from './keys/update-key-description.js';
import { createAlias } from './aliases/create-alias.js';
import { updateAlias } from './aliases/update-alias.js';
import { deleteAlias } from './aliases/delete-alias.js';
import { listAliases } from './aliases/list-aliases.js';
import { tagResource } from './tags/tag-resource.js';
import { untagResource } from './tags/untag-resource.js';
import { listResourceTags } from './tags/list-resource-tags.js';
import { getKeyPolicy } from './policies/get-key-policy.js';
import { putKeyPolicy } from './policies/put-key-policy.js';
import { listKeyPolicies } from './policies/list-key-policies.js';
import { encrypt } from './crypto/encrypt.js';
import { decrypt } from './crypto/decrypt.js';
import { reEncrypt } from './crypto/re-encrypt.js';
import { generateDataKey } from './crypto/generate-data-key.js';
import { generateDataKeyWithoutPlaintext } from './crypto/generate-data-key-without-plaintext.js';
import { generateRandom } from './crypto/generate-random.js';
import { sign } from './asymmetric/sign.js';
import { verify } from './asymmetric/verify.js';
import { getPublicKey } from './asymmetric/get-public-key.js';
import { generateMac } from './asymmetric/generate-mac.js';
import { verifyMac } from './asymmetric/verify-mac.js';
import { deriveSharedSecret } from './asymmetric/derive-shared-secret.js';
import { generateDataKeyPair } from './crypto/generate-data-key-pair.js';
import { generateDataKeyPairWithoutPlaintext } from './crypto/generate-data-key-pair-without-plaintext.js';
import { enableKeyRotation } from './rotation/enable-key-rotation.js';
import { disableKeyRotation } from './rotation/disable-key-rotation.js';
import { getKeyRotationStatus } from './rotation/get-key-rotation-status.js';
import { rotateKeyOnDemand } from './rotation/rotate-key-on-demand.js';
import { listKeyRotations } from './rotation/list-key-rotations.js';
import { getParametersForImport } from './import/get-parameters-for-import.js';
import { importKeyMaterial } from './import/import-key-material.js';
import { deleteImportedKeyMaterial } from './import/delete-imported-key-material.js';
import { createCustomKeyStore } from './custom-key-stores/create-custom-key-store.js';
import { connectCustomKeyStore } from './custom-key-stores/connect-custom-key-store.js';
import { disconnectCustomKeyStore } from './custom-key-stores/disconnect-custom-key-store.js';
import { describeCustomKeyStores } from './custom-key-stores/describe-custom-key-stores.js';
import { updateCustomKeyStore } from './custom-key-stores/update-custom-key-store.js';
import { deleteCustomKeyStore } from './custom-key-stores/delete-custom-key-store.js';
import { createGrant } from './grants/create-grant.js';
import { listGrants } from './grants/list-grants.js';
import { listRetirableGrants } from './grants/list-retirable-grants.js';
import { retireGrant } from './grants/retire-grant.js';
import { revokeGrant } from './grants/revoke-grant.js';
import { getKeyLastUsage } from './audit/get-key-last-usage.js';
import { replicateKey } from './keys/replicate-key.js';
import { updatePrimaryRegion } from './keys/update-primary-region.js';

/** Every operation Trent implements. One module per operation; add new ones here. */
const OPERATIONS: readonly Operation<any, any>[] = [
  createKey,
  describeKey,
  listKeys,
  enableKey,
  disableKey,
  scheduleKeyDeletion,
  cancelKeyDeletion,
  updateKeyDescription,
  createAlias,
  updateAlias,
  deleteAlias,
  listAliases,
  tagResource,
  untagResource,
  listResourceTags,
  getKeyPolicy,
  putKeyPolicy,
  listKeyPolicies,
  encrypt,
  decrypt,
  reEncrypt,
  generateDataKey,
  generateDataKeyWithoutPlaintext,
  generateRandom,
  sign,
  verify,
  getPublicKey,
  generateMac,
  verifyMac,
  deriveSharedSecret,
  generateDataKeyPair,
  generateDataKeyPairWithoutPlaintext,
  createGrant,
  listGrants,
  listRetirableGrants,
  retireGrant,
  revokeGrant,
  enableKeyRotation,
  disableKeyRotation,
  getKeyRotationStatus,
  rotateKeyOnDemand,
  listKeyRotations,
  getParametersForImport,
  importKeyMaterial,
  deleteImportedKeyMaterial,
  createCustomKeyStore,
  connectCustomKeyStore,
  disconnectCustomKeyStore,
  describeCustomKeyStores,
  updateCustomKeyStore,
  deleteCustomKeyStore,
  getKeyLastUsage,
  replicateKey,
  updatePrimaryRegion,
];

/** Maps `TrentService.<Operation>` targets to operation modules. */
export class OperationRegistry {
  readonly #byTarget = new Map<string, Operation<any, any>>();
  constructor(operations: readonly Operation<any, any>[] = OPERATIONS) {
    for (const op of operations) {
      if (this.#byTarget.has(`${TARGET_PREFIX}.${op.name}`)) throw new Error(`operation ${op.name} registered twice`);
      this.#byTarget.set(`${TARGET_PREFIX}.${op.name}`, op);
    }
  }
  byTarget(target: string): Operation<any, any> | undefined {
    return this.#byTarget.get(target);
  }
  names(): OperationName[] {
    return [...this.#byTarget.values()].map((op) => op.name);
  }
}
