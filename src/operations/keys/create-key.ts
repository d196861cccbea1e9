import type { CreateKeyRequest, CreateKeyResponse, KeySpec } from '../../model/kms-model.generated.js';
import { keyArn } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import { keyMetadata } from '../../domain/key-metadata.js';
import { checkKeyUsage, materialForm } from '../../domain/key-specs.js';
import { checkKeyPolicy, defaultKeyPolicy } from '../../domain/key-policy.js';
import type { KeyRecord } from '../../domain/ports.js';
import { checkTagCount, checkTags } from '../../domain/tags.js';
import { importable } from '../../domain/import.js';
import { authorizationContext, cryptoCall } from '../common.js';
import { StorageDuplicateError } from '../../domain/ports.js';
import { defineOperation } from '../operation.js';
import { requestTagConditions } from '../request-conditions.js';
import { checkPolicyLockout } from '../policies/lockout.js';
import { newMultiRegionKeyId } from '../../domain/multi-region.js';

export const createKey = defineOperation<CreateKeyRequest, CreateKeyResponse>('CreateKey', async (input, ctx, svc) => {
  if (input.KeySpec && input.CustomerMasterKeySpec) {
    throw new KmsError('ValidationException', 'You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec instead.');
  }
  const keySpec: KeySpec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
  // KeyUsage is optional for SYMMETRIC_DEFAULT only (API_CreateKey); each spec allows its own usages.
  const keyUsage = checkKeyUsage(keySpec, input.KeyUsage);
  const origin = input.Origin ?? 'AWS_KMS';
  const form = materialForm(keySpec);
  if (form.kind === 'unsupported') {
    throw new KmsError('UnsupportedOperationException', `KeySpec ${keySpec} is not supported by this Trent version yet: ${form.why}.`);
  }
  if (origin === 'EXTERNAL' && !importable(keySpec)) {
    throw new KmsError('UnsupportedOperationException', `KeySpec ${keySpec} does not support Origin EXTERNAL: its key material cannot be imported.`);
  }
  if (input.XksKeyId !== undefined && origin !== 'EXTERNAL_KEY_STORE') {
    throw new KmsError('ValidationException', `XksKeyId is valid only with Origin EXTERNAL_KEY_STORE, not ${origin}.`);
  }
  if (input.CustomKeyStoreId !== undefined && origin !== 'AWS_CLOUDHSM' && origin !== 'EXTERNAL_KEY_STORE') {
    throw new KmsError('UnsupportedOperationException', `A KMS key in a custom key store needs Origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE, not ${origin}.`);
  }
  if (origin === 'EXTERNAL_KEY_STORE' && input.XksKeyId === undefined) {
    throw new KmsError('ValidationException', 'XksKeyId is required when Origin is EXTERNAL_KEY_STORE.');
  }
  if (origin === 'AWS_CLOUDHSM' || origin === 'EXTERNAL_KEY_STORE') {
    if (input.CustomKeyStoreId === undefined) throw new KmsError('ValidationException', `CustomKeyStoreId is required when Origin is ${origin}.`);
    // Keys in an AWS CloudHSM key store are symmetric encryption keys only.
    if (keySpec !== 'SYMMETRIC_DEFAULT' || keyUsage !== 'ENCRYPT_DECRYPT') {
      throw new KmsError('UnsupportedOperationException', `KeySpec ${keySpec} with KeyUsage ${keyUsage} is not supported in a custom key store: only SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys.`);
    }
  }
  // "You cannot create a multi-Region key in a custom key store" (API_CreateKey, MultiRegion).
  const multiRegion = input.MultiRegion === true;
  if (multiRegion && (input.CustomKeyStoreId !== undefined || origin === 'AWS_CLOUDHSM' || origin === 'EXTERNAL_KEY_STORE')) {
    throw new KmsError('UnsupportedOperationException', 'Multi-Region keys cannot be created in a custom key store.');
  }
  checkTagCount(input.Tags ?? []);
  const tags = checkTags(input.Tags ?? []);
  const policy = input.Policy ?? defaultKeyPolicy(ctx.scope.account);
  if (input.Policy !== undefined) checkKeyPolicy(input.Policy);
  // CreateKey names no key: in AWS only IAM policies decide it; these condition keys are for them.
  svc.authorizer.authorize(ctx.caller, 'kms:CreateKey', undefined, authorizationContext(undefined, ctx, {
    ...requestTagConditions(input.Tags), keySpec, keyUsage, keyOrigin: origin, multiRegion, ...(multiRegion && { multiRegionKeyType: 'PRIMARY' as const }),
  }, svc));

  const store = input.CustomKeyStoreId === undefined ? undefined : await svc.customKeyStores.get(ctx.scope, input.CustomKeyStoreId);
  if (input.CustomKeyStoreId !== undefined) {
    if (!store) throw new KmsError('CustomKeyStoreNotFoundException', `Custom key store '${input.CustomKeyStoreId}' does not exist in this account and Region.`);
    const wanted = origin === 'EXTERNAL_KEY_STORE' ? 'EXTERNAL_KEY_STORE' : 'AWS_CLOUDHSM';
    if (store.type !== wanted) throw new KmsError('UnsupportedOperationException', `Custom key store ${store.customKeyStoreId} is of type ${store.type}: Origin ${origin} needs an ${wanted} store.`);
    if (store.connectionState !== 'CONNECTED') {
      throw new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${store.customKeyStoreId} is ${store.connectionState}: CreateKey needs a CONNECTED store.`);
    }
  }

  const keyId = multiRegion ? newMultiRegionKeyId(svc.random) : svc.random.uuid();
  const arn = keyArn(ctx.scope, keyId);
  const xksKeyId = origin === 'EXTERNAL_KEY_STORE' ? input.XksKeyId : undefined;
  if (store && xksKeyId !== undefined) {
    // AWS checks the external key through the proxy (GetKeyMetadata): AES_256, ENCRYPT and DECRYPT, ENABLED.
    const check = await svc.xks.checkKey(store, xksKeyId, cryptoCall(ctx, 'CreateKey'));
    if (!check.ok) {
      const keyProblem = check.exception === 'XksKeyNotFoundException' || check.exception === 'XksKeyInvalidConfigurationException';
      // A proxy that cannot be used is a store problem: CreateKey's model lists CustomKeyStoreInvalidStateException for it.
      throw new KmsError(keyProblem ? (check.exception as 'XksKeyNotFoundException') : 'CustomKeyStoreInvalidStateException', check.message);
    }
  }
  // Origin EXTERNAL: no material until ImportKeyMaterial (state PendingImport).
  const external = origin === 'EXTERNAL';
  const materialId = external ? undefined : svc.random.bytes(32).toString('hex');
  // In an AWS CloudHSM key store the AES-256 key is made inside the token; the material record only names it.
  const material =
    materialId === undefined ? undefined
    : store && xksKeyId !== undefined ? await svc.xks.createMaterial(store, arn, materialId, xksKeyId)
    : store ? await svc.hsm.createMaterial(store, arn, materialId)
    : await svc.keystore.createMaterial(arn, materialId, keySpec);
  const key: KeyRecord = {
    account: ctx.scope.account,
    region: ctx.scope.region,
    keyId,
    arn,
    creationDate: svc.clock.now(),
    description: input.Description ?? '',
    keyUsage,
    keySpec,
    origin,
    keyManager: 'CUSTOMER',
    keyState: external ? 'PendingImport' : 'Enabled',
    currentMaterialId: materialId,
    multiRegion,
    // A multi-Region key is created as the primary: its Region is the primary Region of every replica made from it.
    ...(multiRegion && { primaryRegion: ctx.scope.region }),
    policy,
    version: 1,
    ...(store && { customKeyStoreId: store.customKeyStoreId }),
    ...(xksKeyId !== undefined && { xksKeyId }),
  };
  if (input.Policy !== undefined) {
    await checkPolicyLockout(input.Policy, input.BypassPolicyLockoutSafetyCheck, key, ctx, svc, {
      resourceAliases: [], resourceTags: Object.fromEntries(tags.map((t) => [t.key, t.value])),
    });
  }
  // Before the write: the audit event committed with it names the key.
  ctx.resourceArn = arn;
  try {
    await svc.keys.createKey(key, material ? [material] : [], tags);
  } catch (err) {
    if (xksKeyId !== undefined && err instanceof StorageDuplicateError) {
      throw new KmsError('XksKeyAlreadyInUseException', `The external key ${xksKeyId} is already associated with a KMS key in custom key store ${store!.customKeyStoreId}.`);
    }
    throw err;
  }
  return { KeyMetadata: keyMetadata(key, undefined, store) };
});
