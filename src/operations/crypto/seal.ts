import type { EncryptionAlgorithmSpec } from '../../model/kms-model.generated.js';
import type { EncryptionContext } from '../../domain/encryption-context.js';
import { checkAsymmetricPlaintext, refuseContextForAsymmetric, type EncryptionScheme } from '../../domain/key-specs.js';
import type { CryptoCall, KeyRecord, MaterialRecord } from '../../domain/ports.js';
import { sealSymmetric } from '../../domain/symmetric.js';
import { dryRunCheck } from '../common.js';
import type { Services } from '../operation.js';

/**
 * Encrypt's and ReEncrypt's last step: a Trent ciphertext blob under a symmetric key, or the raw RSAES-OAEP or SM2PKE
 * output (no header, as AWS returns it) under an RSA or SM2 key. Request checks come before DryRun.
 */
export async function seal(
  svc: Services,
  key: KeyRecord,
  scheme: EncryptionScheme,
  material: MaterialRecord,
  plaintext: Buffer,
  context: EncryptionContext | undefined,
  dryRun: boolean | undefined,
  call?: CryptoCall,
): Promise<{ blob: Buffer; algorithm: EncryptionAlgorithmSpec }> {
  if (scheme.kind === 'symmetric') {
    dryRunCheck(dryRun);
    return { blob: await sealSymmetric(svc.keystore, key, material, plaintext, context, call), algorithm: 'SYMMETRIC_DEFAULT' };
  }
  refuseContextForAsymmetric(context);
  checkAsymmetricPlaintext(key, scheme, plaintext.length);
  dryRunCheck(dryRun);
  return { blob: await svc.keystore.encryptAsymmetric(material, key.keySpec, scheme, plaintext), algorithm: scheme.algorithm };
}
