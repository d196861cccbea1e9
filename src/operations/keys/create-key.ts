import type { CreateKeyRequest, CreateKeyResponse, KeySpec } from '../../model/kms-model.generated.js';
import { keyArn } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import { keyMetadata } from '../../domain/key-metadata.js';
import { checkKeyUsage, materialForm } from '../../domain/key-specs.js';
import { checkKeyPolicy, defaultKeyPolicy } from '../../domain/key-policy.js';
import type { KeyRecord } from '../../domain/ports.js';
import { checkTags } from '../../domain/tags.js';
import { importable } from '../../domain/import.js';
import { authorizationContext } from '../common.js';
import { defineOperation } from '../operation.js';
import { requestTagConditions } from '../request-conditions.js';
import { checkPolicyLockout } from '../policies/lockout.js';

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
  if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') {
    throw new KmsError('UnsupportedOperationException', `Origin ${origin} is not supported by this Trent version yet.`);
  }
  if (input.CustomKeyStoreId !== undefined || input.XksKeyId !== undefined) {
    throw new KmsError('UnsupportedOperationException', 'Custom key stores are not supported by this Trent version yet.');
  }
  if (input.MultiRegion) {
    throw new KmsError('UnsupportedOperationException', 'Multi-Region keys are not supported by Trent.');
  }
  const tags = checkTags(input.Tags ?? []);
  const policy = input.Policy ?? defaultKeyPolicy(ctx.scope.account);
  if (input.Policy !== undefined) checkKeyPolicy(input.Policy);
  // CreateKey names no key: in AWS only IAM policies decide it; these condition keys are for them.
  svc.authorizer.authorize(ctx.caller, 'kms:CreateKey', undefined, authorizationContext(undefined, ctx, {
    ...requestTagConditions(input.Tags), keySpec, keyUsage, keyOrigin: origin, multiRegion: input.MultiRegion ?? false,
  }, svc));

  const keyId = svc.random.uuid();
  const arn = keyArn(ctx.scope, keyId);
  // Origin EXTERNAL: no material until ImportKeyMaterial (state PendingImport).
  const external = origin === 'EXTERNAL';
  const materialId = external ? undefined : svc.random.bytes(32).toString('hex');
  const material = materialId === undefined ? undefined : await svc.keystore.createMaterial(arn, materialId, keySpec);
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
    multiRegion: false,
    policy,
    version: 1,
  };
  if (input.Policy !== undefined) {
    await checkPolicyLockout(input.Policy, input.BypassPolicyLockoutSafetyCheck, key, ctx, svc, {
      resourceAliases: [], resourceTags: Object.fromEntries(tags.map((t) => [t.key, t.value])),
    });
  }
  await svc.keys.createKey(key, material ? [material] : [], tags);
  ctx.resourceArn = arn;
  return { KeyMetadata: keyMetadata(key) };
});
