import { KmsError } from '../../domain/errors.js';
import type { DataKeyPairSpec } from '../../model/kms-model.generated.js';
import { generateDerKeyPair } from '../../crypto/key-pairs.js';
import { SecretBytes } from '../../crypto/secret-bytes.js';
import type { EncryptionContext } from '../../domain/encryption-context.js';
import { dataKeyPairParams } from '../../domain/key-specs.js';
import { sealSymmetric } from '../../domain/symmetric.js';
import { CRYPTO_KEY, cryptoCall, dryRunCheck, keyForOperation } from '../common.js';
import type { RequestContext, Services } from '../operation.js';
import { currentMaterial, requireSymmetricDataKey } from './symmetric-key.js';

export interface DataKeyPairInput {
  readonly KeyId: string;
  readonly KeyPairSpec: DataKeyPairSpec;
  readonly EncryptionContext?: EncryptionContext;
  readonly DryRun?: boolean;
  readonly GrantTokens?: string[];
}

/**
 * GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: a fresh key pair (generated on libuv's thread pool,
 * so RSA-4096 does not block the event loop), its PKCS#8 private key sealed under a symmetric KMS key as an ordinary
 * Trent ciphertext blob (with the encryption context), and its DER SPKI public key.
 */
export async function generateDataKeyPair(
  input: DataKeyPairInput,
  operation: 'GenerateDataKeyPair' | 'GenerateDataKeyPairWithoutPlaintext',
  ctx: RequestContext,
  svc: Services,
): Promise<{ privateKey: SecretBytes; blob: Buffer; publicKey: Buffer; keyArn: string; materialId: string }> {
  const key = await keyForOperation(input.KeyId, operation, ctx, svc, CRYPTO_KEY, { encryptionContext: input.EncryptionContext, dataKeyPairSpec: input.KeyPairSpec, grantTokens: input.GrantTokens });
  requireSymmetricDataKey(key, operation);
  // AWS: keys in a custom key store (CloudHSM or external) cannot generate data key pairs (use-cmk-keystore, use-xks-key).
  if (key.origin === 'EXTERNAL_KEY_STORE' || key.origin === 'AWS_CLOUDHSM') {
    const store = key.origin === 'EXTERNAL_KEY_STORE' ? 'an external key store' : 'a CloudHSM key store';
    throw new KmsError('UnsupportedOperationException', `${key.arn} is in ${store}: ${operation} is not supported for keys in a custom key store.`);
  }
  const params = dataKeyPairParams(input.KeyPairSpec);
  const material = await currentMaterial(key, svc);
  dryRunCheck(input.DryRun);
  const pair = await generateDerKeyPair(params);
  const privateKey = SecretBytes.adopt(pair.privateKey);
  const blob = await sealSymmetric(svc.keystore, key, material, privateKey.unsafeBytes(), input.EncryptionContext, cryptoCall(ctx, operation));
  return { privateKey, blob, publicKey: pair.publicKey, keyArn: key.arn, materialId: material.materialId };
}
