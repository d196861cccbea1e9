import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { AsymmetricCipher } from '../../crypto/asymmetric-cipher.js';
import type { KeySpec } from '../../model/kms-model.generated.js';
import { gcmDecrypt, gcmEncrypt } from '../../crypto/aes-gcm.js';
import { ecdhSharedSecret, type PeerPublicKey } from '../../crypto/ecdh.js';
import { hmac, type HmacHash } from '../../crypto/hmac.js';
import { unwrapImportedMaterial, unwrapSm2Pke, type WrappingAlgorithm, type WrappingKeyParams } from '../../crypto/key-import.js';
import { generateDerKeyPair, parsePkcs8, spkiDer, type KeyPairParams } from '../../crypto/key-pairs.js';
import { MlDsaKey } from '../../crypto/ml-dsa.js';
import { RandomPool } from '../../crypto/random-pool.js';
import { oaepDecrypt, oaepEncrypt } from '../../crypto/rsa.js';
import { SecretBytes } from '../../crypto/secret-bytes.js';
import { generateSm2KeyPair, Sm2Key } from '../../crypto/sm2.js';
import { signMessage, verifySignature, type SignatureScheme, type SigningKey } from '../../crypto/signatures.js';
import { materialForm } from '../../domain/key-specs.js';
import type { KeySpec as Spec } from '../../model/kms-model.generated.js';
import type { Clock, ImportedMaterial, KeyStore, MaterialRecord, RandomSource, RootOfTrust } from '../../domain/ports.js';
import { BoundedMap } from '../../domain/bounded-map.js';
import { MAX_CACHED_KEYS } from '../../domain/key-repository.js';

/** Associated data that binds wrapped material to its key and material id. */
export const materialWrapContext = (keyArn: string, materialId: string): string[] => ['material', keyArn, materialId];

/** Associated data of an import token: it opens only for the key it was made for. */
const importTokenContext = (keyArn: string): string[] => ['import-token', keyArn];
const IMPORT_TOKEN_VERSION = 1;
/** A token's algorithm byte indexes this list: append only (tokens made earlier must keep their meaning). */
const WRAPPING_ALGORITHMS: readonly WrappingAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'];

/**
 * HMAC key material sizes AWS accepts on import (importing-keys-conceptual / key spec reference): from the hash's
 * output size up to its block size.
 */
const HMAC_IMPORT_BYTES: Readonly<Record<string, readonly [number, number]>> = {
  HMAC_224: [28, 64], HMAC_256: [32, 64], HMAC_384: [48, 128], HMAC_512: [64, 128],
};

/** Imported key-pair material: PKCS#8 DER of a private key of exactly the key spec's type and size. */
function checkImportedKeyPair(der: Buffer, params: KeyPairParams, keySpec: Spec): Buffer | string {
  if (params.type === 'sm2') {
    // Node cannot load SM2 keys as SM2: Trent's own parser checks id-ecPublicKey with the SM2 curve OID, the scalar
    // range and any embedded public key; the canonical form is Trent's PKCS#8 encoding of the same key.
    try {
      return Sm2Key.fromPkcs8(der).pkcs8();
    } catch {
      return `the key material is not a PKCS#8 DER private key on the SM2 curve (${keySpec} needs one)`;
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    return `the key material is not a PKCS#8 DER private key (${keySpec} needs one)`;
  }
  const d = key.asymmetricKeyDetails ?? {};
  switch (params.type) {
    case 'rsa':
      if (key.asymmetricKeyType !== 'rsa' || d.modulusLength !== params.bits) return `the key material is not an RSA ${params.bits}-bit private key`;
      break;
    case 'ec':
      if (key.asymmetricKeyType !== 'ec' || d.namedCurve !== params.curve) return `the key material is not an EC private key on ${params.curve}`;
      break;
    default:
      return `${keySpec} key material cannot be imported`;
  }
  createPublicKey(key); // the public half must be derivable
  // Canonical PKCS#8 (OpenSSL's encoding): the same key always has the same bytes, hence the same material id.
  return key.export({ format: 'der', type: 'pkcs8' });
}

/**
 * Unwrapped key-pair material: parsed once, kept as KeyObjects (OpenSSL holds the private key), or for ML-DSA as one
 * MlDsaKey for both halves (OpenSSL 3.0 has no ML-DSA).
 */
interface KeyPair {
  readonly privateKey: SigningKey;
  readonly publicKey: SigningKey;
  readonly spki: Buffer;
}

function openssl(key: SigningKey): KeyObject {
  if (key instanceof MlDsaKey) throw new Error('ML-DSA material neither encrypts nor agrees keys');
  if (key instanceof Sm2Key) throw new Error('SM2 material is not an OpenSSL key');
  return key;
}
function sm2(key: SigningKey): Sm2Key {
  if (!(key instanceof Sm2Key)) throw new Error('SM2PKE needs SM2 material');
  return key;
}

/**
 * The default key store: material generated here, stored wrapped under the root key, and kept unwrapped in memory
 * (by key ARN and material id) once used, so the hot path does no unwrapping. Byte material (AES-256, HMAC) is kept
 * as SecretBytes; key pairs (PKCS#8 DER at rest) as parsed KeyObjects.
 */
export class LocalKeyStore implements KeyStore {
  /**
   * Bounded: the oldest key's copies are dropped (not wiped: a request under way may still hold them; the garbage
   * collector frees them) and unwrapped again at their next use.
   */
  readonly #unwrapped = new BoundedMap<string, Map<string, SecretBytes>>(MAX_CACHED_KEYS);
  readonly #pairs = new BoundedMap<string, Map<string, KeyPair>>(MAX_CACHED_KEYS);
  readonly #ivs = new RandomPool();

  constructor(
    private readonly root: RootOfTrust,
    private readonly random: RandomSource,
    private readonly clock: Clock,
  ) {}

  async createMaterial(keyArn: string, materialId: string, keySpec: KeySpec): Promise<MaterialRecord> {
    const form = materialForm(keySpec);
    let bytes: Buffer;
    switch (form.kind) {
      case 'aes':
      case 'hmac':
        bytes = this.random.bytes(form.bytes);
        this.#remember(keyArn, materialId, new SecretBytes(bytes));
        break;
      case 'key-pair':
        bytes = (await generateDerKeyPair(form.params)).privateKey;
        this.#rememberPair(keyArn, materialId, bytes, form.params);
        break;
      case 'unsupported':
        throw new Error(`no material for ${keySpec}: ${form.why}`);
      default: {
        const never: never = form;
        throw new Error(`unknown material form ${String(never)}`);
      }
    }
    const wrapped = this.root.wrap(materialWrapContext(keyArn, materialId), bytes);
    bytes.fill(0);
    return { keyArn, materialId, wrapped, createdAt: this.clock.now() };
  }

  async createImportParameters(keyArn: string, algorithm: WrappingAlgorithm, wrappingKey: WrappingKeyParams, validTo: Date) {
    const alg = WRAPPING_ALGORITHMS.indexOf(algorithm);
    if (alg < 0) throw new Error(`wrapping algorithm ${algorithm} is not implemented`);
    if ((algorithm === 'SM2PKE') !== (wrappingKey.type === 'sm2')) throw new Error(`wrapping algorithm ${algorithm} does not go with a ${wrappingKey.type} wrapping key`);
    const pair = wrappingKey.type === 'sm2' ? generateSm2KeyPair() : await generateDerKeyPair(wrappingKey);
    // Token payload: u8 algorithm || u64 validTo (ms) || PKCS#8 of the wrapping private key; wrapped under the root
    // key for this key ARN only. The private key leaves Trent only inside it, encrypted.
    const head = Buffer.alloc(9);
    head.writeUInt8(alg, 0);
    head.writeBigUInt64BE(BigInt(validTo.getTime()), 1);
    const payload = Buffer.concat([head, pair.privateKey]);
    try {
      const importToken = Buffer.concat([Buffer.of(IMPORT_TOKEN_VERSION), this.root.wrap(importTokenContext(keyArn), payload)]);
      return { publicKey: pair.publicKey, importToken };
    } finally {
      payload.fill(0);
      pair.privateKey.fill(0);
    }
  }

  async importMaterial(keyArn: string, keySpec: Spec, importToken: Buffer, encryptedKeyMaterial: Buffer, now: Date): Promise<ImportedMaterial> {
    const payload = importToken[0] === IMPORT_TOKEN_VERSION ? this.root.unwrap(importTokenContext(keyArn), importToken.subarray(1)) : undefined;
    if (!payload || payload.length < 10 || payload[0]! >= WRAPPING_ALGORITHMS.length) {
      return { kind: 'invalid-token', why: `The import token is not valid for ${keyArn}.` };
    }
    let material: Buffer | undefined;
    try {
      const algorithm = WRAPPING_ALGORITHMS[payload[0]!]!;
      const validTo = Number(payload.readBigUInt64BE(1));
      if (now.getTime() > validTo) return { kind: 'expired-token', why: 'The import token has expired: call GetParametersForImport again.' };
      material = algorithm === 'SM2PKE'
        ? unwrapSm2Pke(payload.subarray(9), encryptedKeyMaterial)
        : unwrapImportedMaterial(createPrivateKey({ key: payload.subarray(9), format: 'der', type: 'pkcs8' }), algorithm, encryptedKeyMaterial);
      if (!material) return { kind: 'invalid-ciphertext', why: `The encrypted key material does not decrypt with the wrapping key of this import token (${algorithm}).` };
      const form = materialForm(keySpec);
      let canonical: Buffer;
      switch (form.kind) {
        case 'aes':
          if (material.length !== form.bytes) return { kind: 'incorrect-material', why: `${keySpec} key material must be ${form.bytes} bytes (256 bits).` };
          canonical = material;
          break;
        case 'hmac': {
          const [min, max] = HMAC_IMPORT_BYTES[keySpec] ?? [form.bytes, form.bytes];
          if (material.length < min || material.length > max) return { kind: 'incorrect-material', why: `${keySpec} key material must be ${min} to ${max} bytes.` };
          canonical = material;
          break;
        }
        case 'key-pair': {
          const checked = checkImportedKeyPair(material, form.params, keySpec);
          if (typeof checked === 'string') return { kind: 'incorrect-material', why: checked };
          material.fill(0);
          canonical = material = checked;
          break;
        }
        case 'unsupported':
          return { kind: 'incorrect-material', why: `${keySpec} key material cannot be imported: ${form.why}.` };
        default: {
          const never: never = form;
          throw new Error(`unknown material form ${String(never)}`);
        }
      }
      // The same material always gets the same id for this key (re-import finds it); nobody can test a guess. The
      // related keys of a multi-Region key (key id mrk-..., one per Region) share the id: the ARN without its Region.
      const idScope = keyArn.includes(':key/mrk-') ? keyArn.replace(/^(arn:[^:]+:kms:)[^:]*:/, '$1:') : keyArn;
      const materialId = this.root.fingerprint(['imported-material-id', idScope], canonical).toString('hex');
      const wrapped = this.root.wrap(materialWrapContext(keyArn, materialId), canonical);
      return { kind: 'ok', material: { keyArn, materialId, wrapped, createdAt: now } };
    } finally {
      payload.fill(0);
      material?.fill(0);
    }
  }

  async encrypt(material: MaterialRecord, plaintext: Buffer, aad: Buffer) {
    return gcmEncrypt(this.#material(material).keyObject(), plaintext, aad, (n) => this.#ivs.take(n));
  }

  async decrypt(material: MaterialRecord, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer) {
    const out = gcmDecrypt(this.#material(material).keyObject(), { iv, ciphertext, tag }, aad);
    return out && SecretBytes.adopt(out);
  }

  async publicKey(material: MaterialRecord, keySpec: KeySpec): Promise<Buffer> {
    return Buffer.from(this.#pair(material, keySpec).spki);
  }

  async sign(material: MaterialRecord, keySpec: KeySpec, scheme: SignatureScheme, message: Buffer, prehashed: boolean): Promise<Buffer> {
    return signMessage(this.#pair(material, keySpec).privateKey, scheme, message, prehashed);
  }

  async verify(material: MaterialRecord, keySpec: KeySpec, scheme: SignatureScheme, message: Buffer, prehashed: boolean, signature: Buffer): Promise<boolean> {
    return verifySignature(this.#pair(material, keySpec).publicKey, scheme, message, prehashed, signature);
  }

  async mac(material: MaterialRecord, keySpec: KeySpec, hash: HmacHash, message: Buffer): Promise<Buffer> {
    if (materialForm(keySpec).kind !== 'hmac') throw new Error(`${keySpec} material is not an HMAC key`);
    return hmac(hash, this.#material(material).keyObject(), message);
  }

  async encryptAsymmetric(material: MaterialRecord, keySpec: KeySpec, cipher: AsymmetricCipher, plaintext: Buffer): Promise<Buffer> {
    const pair = this.#pair(material, keySpec);
    return cipher.kind === 'sm2pke' ? sm2(pair.publicKey).encrypt(plaintext) : oaepEncrypt(openssl(pair.publicKey), cipher.hash, plaintext);
  }

  async decryptAsymmetric(material: MaterialRecord, keySpec: KeySpec, cipher: AsymmetricCipher, ciphertext: Buffer): Promise<SecretBytes | undefined> {
    const pair = this.#pair(material, keySpec);
    const out = cipher.kind === 'sm2pke' ? sm2(pair.privateKey).decrypt(ciphertext) : oaepDecrypt(openssl(pair.privateKey), cipher.hash, ciphertext);
    return out && SecretBytes.adopt(out);
  }

  async deriveSharedSecret(material: MaterialRecord, keySpec: KeySpec, peerPublicKey: PeerPublicKey): Promise<SecretBytes> {
    const privateKey = this.#pair(material, keySpec).privateKey;
    return SecretBytes.adopt(ecdhSharedSecret(privateKey instanceof Sm2Key ? privateKey : openssl(privateKey), peerPublicKey));
  }

  async copyMaterial(material: MaterialRecord, keyArn: string): Promise<MaterialRecord> {
    // An erased imported material stays erased: its row (id, import fields) is copied, no bytes.
    if (material.wrapped.length === 0) return { ...material, keyArn };
    const bytes = this.#unwrap(material);
    try {
      return { ...material, keyArn, wrapped: this.root.wrap(materialWrapContext(keyArn, material.materialId), bytes) };
    } finally {
      bytes.fill(0);
    }
  }

  forget(keyArn: string): void {
    for (const secret of this.#unwrapped.get(keyArn)?.values() ?? []) secret.wipe();
    for (const pair of this.#pairs.get(keyArn)?.values() ?? []) if (pair.privateKey instanceof MlDsaKey) pair.privateKey.wipe();
    this.#unwrapped.delete(keyArn);
    this.#pairs.delete(keyArn);
  }

  forgetAll(): void {
    for (const arn of [...this.#unwrapped.keys(), ...this.#pairs.keys()]) this.forget(arn);
  }

  #unwrap(material: MaterialRecord): Buffer {
    if (material.wrapped.length === 0) throw new Error(`key material ${material.materialId} of ${material.keyArn} was erased`);
    const bytes = this.root.unwrap(materialWrapContext(material.keyArn, material.materialId), material.wrapped);
    if (!bytes) throw new Error(`key material ${material.materialId} of ${material.keyArn} does not unwrap under the root key`);
    return bytes;
  }

  #material(material: MaterialRecord): SecretBytes {
    const cached = this.#unwrapped.get(material.keyArn)?.get(material.materialId);
    if (cached) return cached;
    const bytes = this.#unwrap(material);
    const secret = new SecretBytes(bytes);
    bytes.fill(0);
    this.#remember(material.keyArn, material.materialId, secret);
    return secret;
  }

  #pair(material: MaterialRecord, keySpec: KeySpec): KeyPair {
    const cached = this.#pairs.get(material.keyArn)?.get(material.materialId);
    if (cached) return cached;
    const form = materialForm(keySpec);
    if (form.kind !== 'key-pair') throw new Error(`${keySpec} material is not a key pair`);
    const der = this.#unwrap(material);
    try {
      return this.#rememberPair(material.keyArn, material.materialId, der, form.params);
    } finally {
      der.fill(0);
    }
  }

  #remember(keyArn: string, materialId: string, secret: SecretBytes): void {
    let byId = this.#unwrapped.get(keyArn);
    if (!byId) this.#unwrapped.set(keyArn, (byId = new Map()));
    byId.set(materialId, secret);
  }

  #rememberPair(keyArn: string, materialId: string, pkcs8: Buffer, params: KeyPairParams): KeyPair {
    let pair: KeyPair;
    if (params.type === 'ml-dsa') {
      const key = MlDsaKey.fromPkcs8(pkcs8);
      pair = { privateKey: key, publicKey: key, spki: key.spki };
    } else if (params.type === 'sm2') {
      const key = Sm2Key.fromPkcs8(pkcs8);
      pair = { privateKey: key, publicKey: key, spki: key.spki };
    } else {
      const { privateKey, publicKey } = parsePkcs8(pkcs8);
      pair = { privateKey, publicKey, spki: spkiDer(publicKey) };
    }
    let byId = this.#pairs.get(keyArn);
    if (!byId) this.#pairs.set(keyArn, (byId = new Map()));
    byId.set(materialId, pair);
    return pair;
  }
}
