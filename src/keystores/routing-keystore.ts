import type { AsymmetricCipher } from '../crypto/asymmetric-cipher.js';
import type { PeerPublicKey } from '../crypto/ecdh.js';
import type { HmacHash } from '../crypto/hmac.js';
import type { WrappingAlgorithm, WrappingKeyParams } from '../crypto/key-import.js';
import type { SecretBytes } from '../crypto/secret-bytes.js';
import type { SignatureScheme } from '../crypto/signatures.js';
import type { CryptoCall, ImportedMaterial, KeyStore, MaterialRecord } from '../domain/ports.js';
import type { KeySpec } from '../model/kms-model.generated.js';
import { isHsmMaterial, type HsmKeyStore } from './pkcs11/hsm-keystore.js';
import { isXksMaterial, type XksKeyStore } from './xks/xks-keystore.js';

/**
 * The KeyStore the operations use: the material record says where the key lives. Material of a key in an
 * AWS_CLOUDHSM custom key store is a reference to a key object in a PKCS#11 token, and its AES-GCM runs there;
 * everything else is the local store's (material wrapped under the root key). Keys in a custom key store are
 * SYMMETRIC_DEFAULT only, so only encrypt and decrypt ever see an HSM material.
 */
export class RoutingKeyStore implements KeyStore {
  constructor(
    private readonly local: KeyStore,
    private readonly hsm: HsmKeyStore,
    private readonly xks: XksKeyStore,
  ) {}

  createMaterial(keyArn: string, materialId: string, keySpec: KeySpec): Promise<MaterialRecord> {
    return this.local.createMaterial(keyArn, materialId, keySpec);
  }
  encrypt(material: MaterialRecord, plaintext: Buffer, aad: Buffer, call?: CryptoCall) {
    if (isXksMaterial(material)) return this.xks.encrypt(material, plaintext, aad, call);
    return isHsmMaterial(material) ? this.hsm.encrypt(material, plaintext, aad) : this.local.encrypt(material, plaintext, aad);
  }
  decrypt(material: MaterialRecord, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer, call?: CryptoCall): Promise<SecretBytes | undefined> {
    if (isXksMaterial(material)) return this.xks.decrypt(material, iv, ciphertext, tag, aad, call);
    return isHsmMaterial(material) ? this.hsm.decrypt(material, iv, ciphertext, tag, aad) : this.local.decrypt(material, iv, ciphertext, tag, aad);
  }
  publicKey(material: MaterialRecord, keySpec: KeySpec) {
    return this.local.publicKey(localOnly(material), keySpec);
  }
  sign(material: MaterialRecord, keySpec: KeySpec, scheme: SignatureScheme, message: Buffer, prehashed: boolean) {
    return this.local.sign(localOnly(material), keySpec, scheme, message, prehashed);
  }
  verify(material: MaterialRecord, keySpec: KeySpec, scheme: SignatureScheme, message: Buffer, prehashed: boolean, signature: Buffer) {
    return this.local.verify(localOnly(material), keySpec, scheme, message, prehashed, signature);
  }
  mac(material: MaterialRecord, keySpec: KeySpec, hash: HmacHash, message: Buffer) {
    return this.local.mac(localOnly(material), keySpec, hash, message);
  }
  encryptAsymmetric(material: MaterialRecord, keySpec: KeySpec, cipher: AsymmetricCipher, plaintext: Buffer) {
    return this.local.encryptAsymmetric(localOnly(material), keySpec, cipher, plaintext);
  }
  decryptAsymmetric(material: MaterialRecord, keySpec: KeySpec, cipher: AsymmetricCipher, ciphertext: Buffer) {
    return this.local.decryptAsymmetric(localOnly(material), keySpec, cipher, ciphertext);
  }
  deriveSharedSecret(material: MaterialRecord, keySpec: KeySpec, peerPublicKey: PeerPublicKey) {
    return this.local.deriveSharedSecret(localOnly(material), keySpec, peerPublicKey);
  }
  createImportParameters(keyArn: string, algorithm: WrappingAlgorithm, wrappingKey: WrappingKeyParams, validTo: Date) {
    return this.local.createImportParameters(keyArn, algorithm, wrappingKey, validTo);
  }
  importMaterial(keyArn: string, keySpec: KeySpec, importToken: Buffer, encryptedKeyMaterial: Buffer, now: Date): Promise<ImportedMaterial> {
    return this.local.importMaterial(keyArn, keySpec, importToken, encryptedKeyMaterial, now);
  }
  copyMaterial(material: MaterialRecord, keyArn: string): Promise<MaterialRecord> {
    return this.local.copyMaterial(localOnly(material), keyArn);
  }
  forget(keyArn: string): void {
    this.local.forget(keyArn);
  }
  forgetAll(): void {
    this.local.forgetAll();
  }
}

function localOnly(material: MaterialRecord): MaterialRecord {
  if (isHsmMaterial(material) || isXksMaterial(material)) throw new Error('a custom key store key (SYMMETRIC_DEFAULT) reached an asymmetric or HMAC operation');
  return material;
}
