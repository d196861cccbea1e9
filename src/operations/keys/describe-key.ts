import type { DescribeKeyRequest, DescribeKeyResponse } from '../../model/kms-model.generated.js';
import { keyMetadata } from '../../domain/key-metadata.js';
import { CRYPTO_KEY, keyForOperation } from '../common.js';
import { defineOperation, type RequestContext, type Services } from '../operation.js';
import { parseKeyReference } from '../../domain/arn.js';
import { ensureAwsManagedKey, predefinedAliasService } from '../../domain/aws-managed-keys.js';

/**
 * API_DescribeKey. "If you specify a predefined AWS alias (an AWS alias with no key ID), KMS associates the alias
 * with an AWS managed key and returns its KeyId and Arn": Trent does so for alias/aws/s3, ebs, rds and lambda
 * (domain/aws-managed-keys.ts), in the caller's own account and region.
 */
export const describeKey = defineOperation<DescribeKeyRequest, DescribeKeyResponse>('DescribeKey', async (input, ctx, svc) => {
  await createPredefinedAwsManagedKey(input.KeyId, ctx, svc);
  const key = await keyForOperation(input.KeyId, 'DescribeKey', ctx, svc, CRYPTO_KEY, { grantTokens: input.GrantTokens });
  const current = key.origin === 'EXTERNAL' && key.currentMaterialId ? await svc.keys.getMaterial(key, key.currentMaterialId) : undefined;
  // A multi-Region key: its MultiRegionConfiguration names every related key.
  if (key.multiRegion) return { KeyMetadata: keyMetadata(key, current, undefined, await svc.keys.getRelatedKeys(key.account, key.keyId)) };
  if (key.customKeyStoreId === undefined) return { KeyMetadata: keyMetadata(key, current) };
  // A key whose custom key store is not connected shows KeyState Unavailable (and Enabled false), as on AWS.
  const store = await svc.customKeyStores.get(key, key.customKeyStoreId);
  return { KeyMetadata: keyMetadata(await svc.customKeyStores.effective(key), current, store) };
});

async function createPredefinedAwsManagedKey(keyIdParam: string, ctx: RequestContext, svc: Services): Promise<void> {
  const ref = parseKeyReference(keyIdParam);
  if (!ref || (ref.kind !== 'aliasName' && ref.kind !== 'aliasArn')) return;
  if (ref.kind === 'aliasArn' && (ref.scope.account !== ctx.scope.account || ref.scope.region !== ctx.scope.region)) return;
  const service = predefinedAliasService(ref.aliasName);
  if (service === undefined || (await svc.keys.getAlias(ctx.scope, ref.aliasName))) return;
  await ensureAwsManagedKey(svc, ctx.scope, service);
}
