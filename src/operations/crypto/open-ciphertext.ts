import type { EncryptionAlgorithmSpec } from '../../model/kms-model.generated.js';
import type { SecretBytes } from '../../crypto/secret-bytes.js';
import { parseKeyReference } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import { assertKeyState } from '../../domain/key-state.js';
import type { EncryptionContext } from '../../domain/encryption-context.js';
import type { KeyRecord } from '../../domain/ports.js';
import { openSymmetric, parseBlob } from '../../domain/symmetric.js';
import { admitKeyQuota, authorizeOnKey, CRYPTO_KEY, cryptoCall, resolveKey } from '../common.js';
import type { RequestContext, Services } from '../operation.js';
import { encryptionScheme, isAsymmetric, refuseContextForAsymmetric } from '../../domain/key-specs.js';
import { currentMaterial } from './symmetric-key.js';
import { isMultiRegionKeyId } from '../../domain/multi-region.js';

const invalidCiphertext = (): KmsError => new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or was not made under this encryption context.');

export interface Opened {
  readonly key: KeyRecord;
  /** Symmetric keys: the material the blob names. */
  readonly materialId?: string | undefined;
  readonly plaintext: SecretBytes;
  readonly algorithm: EncryptionAlgorithmSpec;
}

/**
 * Decrypt's core, shared with ReEncrypt: the blob names its key and material, so no trial decryption.
 * A KeyId in the request must name the same key (IncorrectKeyException otherwise). An asymmetric ciphertext is raw
 * RSAES-OAEP output that names nothing: AWS requires the KeyId and the EncryptionAlgorithm for it.
 */
export async function openCiphertext(
  blobBytes: Buffer | undefined,
  keyIdParam: string | undefined,
  context: EncryptionContext | undefined,
  algorithm: EncryptionAlgorithmSpec | undefined,
  operation: 'Decrypt' | 'ReEncrypt',
  ctx: RequestContext,
  svc: Services,
  grantTokens?: readonly string[],
): Promise<Opened> {
  if (!blobBytes) {
    throw new KmsError('ValidationException', "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null");
  }
  const requested = keyIdParam === undefined ? undefined : await resolveKey(keyIdParam, ctx, svc, CRYPTO_KEY);
  if (requested) admitKeyQuota(operation, requested, ctx, svc);
  if (requested && keyIdParam !== undefined && isAsymmetric(requested.keySpec)) return openAsymmetric(requested, keyIdParam, blobBytes, context, algorithm, operation, ctx, svc, grantTokens);
  const blob = parseBlob(blobBytes);
  if (!blob) throw invalidCiphertext();
  const ref = parseKeyReference(blob.keyArn);
  if (!ref || ref.kind !== 'keyArn') throw invalidCiphertext();
  // A multi-Region key's ciphertext decrypts in every Region under that Region's related key (same account and key
  // id, same materials): the blob names the key it was made under, whichever Region that was.
  const scope = ref.scope.region === ctx.region ? ref.scope : isMultiRegionKeyId(ref.keyId) ? { account: ref.scope.account, region: ctx.region } : undefined;
  if (!scope) throw invalidCiphertext();
  if (requested && (requested.account !== scope.account || requested.region !== scope.region || requested.keyId !== ref.keyId)) {
    throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
  }
  // A blob naming no existing key is indistinguishable from a tampered one: InvalidCiphertextException.
  const key = requested ?? (await svc.keys.getKey(scope, ref.keyId));
  if (!key) throw invalidCiphertext();
  if (!requested) admitKeyQuota(operation, key, ctx, svc);
  ctx.resourceArn = key.arn;
  const pending = authorizeOnKey(`kms:${operation}${operation === 'ReEncrypt' ? 'From' : ''}`, key, keyIdParam, ctx, svc, { encryptionContext: context, encryptionAlgorithm: algorithm, grantTokens });
  if (pending) await pending; // a promise only when aliases, tags or grants had to be read
  assertKeyState(key.customKeyStoreId === undefined ? key : await svc.customKeyStores.effective(key), operation);
  encryptionScheme(key, algorithm, operation);
  const material = await svc.keys.getMaterial(key, blob.materialId);
  if (!material) throw invalidCiphertext();
  const plaintext = await openSymmetric(svc.keystore, blob, material, context, cryptoCall(ctx, operation));
  if (!plaintext) throw invalidCiphertext();
  return { key, materialId: blob.materialId, plaintext, algorithm: 'SYMMETRIC_DEFAULT' };
}

async function openAsymmetric(
  key: KeyRecord,
  keyIdParam: string,
  ciphertext: Buffer,
  context: EncryptionContext | undefined,
  algorithm: EncryptionAlgorithmSpec | undefined,
  operation: 'Decrypt' | 'ReEncrypt',
  ctx: RequestContext,
  svc: Services,
  grantTokens: readonly string[] | undefined,
): Promise<Opened> {
  const pending = authorizeOnKey(`kms:${operation}${operation === 'ReEncrypt' ? 'From' : ''}`, key, keyIdParam, ctx, svc, { encryptionAlgorithm: algorithm, grantTokens });
  if (pending) await pending;
  assertKeyState(key, operation);
  const scheme = encryptionScheme(key, algorithm, operation);
  if (scheme.kind === 'symmetric') throw new Error(`${key.keySpec} is asymmetric but its scheme is ${scheme.kind}`);
  refuseContextForAsymmetric(context);
  const material = await currentMaterial(key, svc);
  const plaintext = await svc.keystore.decryptAsymmetric(material, key.keySpec, scheme, ciphertext);
  if (!plaintext) throw invalidCiphertext();
  return { key, plaintext, algorithm: scheme.algorithm };
}
