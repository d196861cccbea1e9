// What each KeySpec is and what AWS allows with it: the key usages CreateKey accepts, the algorithm lists
// DescribeKey and GetPublicKey return, and the request rules of Sign/Verify, GenerateMac/VerifyMac and RSA
// Encrypt/Decrypt. Sources: API_CreateKey (KeyUsage), developerguide/symm-asymm-choose-key-spec.html,
// asymmetric-key-specs.html, hmac.html. See docs/key-specs.md.
import type {
  DataKeyPairSpec, EncryptionAlgorithmSpec, KeyAgreementAlgorithmSpec, KeySpec, KeyUsageType, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec,
} from '../model/kms-model.generated.js';
import type { HmacHash } from '../crypto/hmac.js';
import type { KeyPairParams } from '../crypto/key-pairs.js';
import type { AgreementCurve, PeerKey } from '../crypto/ecdh.js';
import { SM2_DIGEST_BYTES } from '../crypto/sm2.js';
import { HASH_BYTES, oaepMaxPlaintext, type RsaHash } from '../crypto/rsa.js';
import type { SignatureScheme } from '../crypto/signatures.js';
import { KmsError } from './errors.js';
import type { KeyRecord } from './ports.js';

/** How a key spec's material is made and kept. */
export type MaterialForm =
  | { readonly kind: 'aes'; readonly bytes: 32 }
  | { readonly kind: 'hmac'; readonly bytes: number; readonly hash: HmacHash }
  | { readonly kind: 'key-pair'; readonly params: KeyPairParams }
  /** In the model, not implemented by this Trent version (none at present). */
  | { readonly kind: 'unsupported'; readonly why: string };

interface SpecInfo {
  readonly usages: readonly KeyUsageType[];
  readonly form: MaterialForm;
  readonly encryption?: readonly EncryptionAlgorithmSpec[];
  readonly signing?: readonly SigningAlgorithmSpec[];
  readonly mac?: readonly MacAlgorithmSpec[];
  readonly keyAgreement?: readonly KeyAgreementAlgorithmSpec[];
}

const RSA_SIGNING: readonly SigningAlgorithmSpec[] = [
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
];
const RSA_ENCRYPTION: readonly EncryptionAlgorithmSpec[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
const rsa = (bits: 2048 | 3072 | 4096): SpecInfo => ({
  usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], form: { kind: 'key-pair', params: { type: 'rsa', bits } }, encryption: RSA_ENCRYPTION, signing: RSA_SIGNING,
});
const nist = (curve: 'prime256v1' | 'secp384r1' | 'secp521r1', alg: SigningAlgorithmSpec): SpecInfo => ({
  usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], form: { kind: 'key-pair', params: { type: 'ec', curve } }, signing: [alg], keyAgreement: ['ECDH'],
});
const hmacSpec = (bits: 224 | 256 | 384 | 512): SpecInfo => ({
  usages: ['GENERATE_VERIFY_MAC'],
  form: { kind: 'hmac', bytes: bits / 8, hash: `sha${bits}` },
  mac: [`HMAC_SHA_${bits}`],
});
const mlDsa = (level: 44 | 65 | 87): SpecInfo => ({
  usages: ['SIGN_VERIFY'], form: { kind: 'key-pair', params: { type: 'ml-dsa', level } }, signing: ['ML_DSA_SHAKE_256'],
});

const SPECS: Readonly<Record<KeySpec, SpecInfo>> = {
  SYMMETRIC_DEFAULT: { usages: ['ENCRYPT_DECRYPT'], form: { kind: 'aes', bytes: 32 }, encryption: ['SYMMETRIC_DEFAULT'] },
  RSA_2048: rsa(2048),
  RSA_3072: rsa(3072),
  RSA_4096: rsa(4096),
  ECC_NIST_P256: nist('prime256v1', 'ECDSA_SHA_256'),
  ECC_NIST_P384: nist('secp384r1', 'ECDSA_SHA_384'),
  ECC_NIST_P521: nist('secp521r1', 'ECDSA_SHA_512'),
  ECC_SECG_P256K1: { usages: ['SIGN_VERIFY'], form: { kind: 'key-pair', params: { type: 'ec', curve: 'secp256k1' } }, signing: ['ECDSA_SHA_256'] },
  ECC_NIST_EDWARDS25519: { usages: ['SIGN_VERIFY'], form: { kind: 'key-pair', params: { type: 'ed25519' } }, signing: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'] },
  HMAC_224: hmacSpec(224),
  HMAC_256: hmacSpec(256),
  HMAC_384: hmacSpec(384),
  HMAC_512: hmacSpec(512),
  ML_DSA_44: mlDsa(44),
  ML_DSA_65: mlDsa(65),
  ML_DSA_87: mlDsa(87),
  SM2: {
    usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'KEY_AGREEMENT'],
    // AWS offers SM2 in its China Regions only; Trent offers it in every region (docs/key-specs.md).
    form: { kind: 'key-pair', params: { type: 'sm2' } },
    encryption: ['SM2PKE'], signing: ['SM2DSA'], keyAgreement: ['ECDH'],
  },
};

export function materialForm(spec: KeySpec): MaterialForm {
  return SPECS[spec].form;
}

export function isAsymmetric(spec: KeySpec): boolean {
  const kind = SPECS[spec].form.kind;
  return kind === 'key-pair' || kind === 'unsupported';
}

/** CreateKey's KeyUsage rule: optional (ENCRYPT_DECRYPT) for SYMMETRIC_DEFAULT only, one of the spec's usages. */
export function checkKeyUsage(spec: KeySpec, usage: KeyUsageType | undefined): KeyUsageType {
  if (usage === undefined) {
    if (spec === 'SYMMETRIC_DEFAULT') return 'ENCRYPT_DECRYPT';
    throw new KmsError('ValidationException', `You must specify a KeyUsage value when KeySpec is ${spec}.`);
  }
  if (!SPECS[spec].usages.includes(usage)) throw new KmsError('ValidationException', `KeyUsage ${usage} is not compatible with KeySpec ${spec}`);
  return usage;
}

/** The algorithm lists of KeyMetadata and GetPublicKey: only the list of the key's usage is filled. */
export function algorithmLists(spec: KeySpec, usage: KeyUsageType): {
  EncryptionAlgorithms?: EncryptionAlgorithmSpec[];
  SigningAlgorithms?: SigningAlgorithmSpec[];
  MacAlgorithms?: MacAlgorithmSpec[];
  KeyAgreementAlgorithms?: KeyAgreementAlgorithmSpec[];
} {
  const info = SPECS[spec];
  switch (usage) {
    case 'ENCRYPT_DECRYPT':
      return { EncryptionAlgorithms: info.encryption && [...info.encryption] };
    case 'SIGN_VERIFY':
      return { SigningAlgorithms: info.signing && [...info.signing] };
    case 'GENERATE_VERIFY_MAC':
      return { MacAlgorithms: info.mac && [...info.mac] };
    case 'KEY_AGREEMENT':
      return { KeyAgreementAlgorithms: info.keyAgreement && [...info.keyAgreement] };
    default: {
      const never: never = usage;
      throw new Error(`unknown key usage ${String(never)}`);
    }
  }
}

export type CryptoOperation =
  | 'Encrypt' | 'Decrypt' | 'ReEncrypt' | 'GenerateDataKey' | 'GenerateDataKeyWithoutPlaintext' | 'GenerateDataKeyPair'
  | 'GenerateDataKeyPairWithoutPlaintext' | 'Sign' | 'Verify' | 'GenerateMac' | 'VerifyMac' | 'DeriveSharedSecret';

/** InvalidKeyUsageException as AWS words it: "<arn> key usage is SIGN_VERIFY which is not valid for Encrypt." */
export function requireUsage(key: KeyRecord, usage: KeyUsageType, operation: CryptoOperation): void {
  if (key.keyUsage !== usage) {
    throw new KmsError('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage} which is not valid for ${operation}.`);
  }
}

const incompatible = (algorithm: string, spec: KeySpec): KmsError =>
  new KmsError('InvalidKeyUsageException', `Algorithm ${algorithm} is incompatible with key spec ${spec}.`);

export type EncryptionScheme =
  | { readonly kind: 'symmetric' }
  | { readonly kind: 'rsa-oaep'; readonly hash: RsaHash; readonly algorithm: EncryptionAlgorithmSpec }
  | { readonly kind: 'sm2pke'; readonly algorithm: 'SM2PKE' };

/**
 * The encryption an ENCRYPT_DECRYPT key does for `algorithm`. Omitted, the algorithm is SYMMETRIC_DEFAULT (AWS's
 * default), which an RSA key refuses: asymmetric encryption always names its algorithm.
 */
export function encryptionScheme(key: KeyRecord, algorithm: EncryptionAlgorithmSpec | undefined, operation: CryptoOperation): EncryptionScheme {
  requireUsage(key, 'ENCRYPT_DECRYPT', operation);
  const alg = algorithm ?? 'SYMMETRIC_DEFAULT';
  if (!(SPECS[key.keySpec].encryption ?? []).includes(alg) || SPECS[key.keySpec].form.kind === 'unsupported') {
    throw new KmsError('InvalidKeyUsageException', `The encryption algorithm ${alg} is not compatible with the type of the specified KMS key.`);
  }
  switch (alg) {
    case 'SYMMETRIC_DEFAULT':
      return { kind: 'symmetric' };
    case 'RSAES_OAEP_SHA_1':
      return { kind: 'rsa-oaep', hash: 'sha1', algorithm: alg };
    case 'RSAES_OAEP_SHA_256':
      return { kind: 'rsa-oaep', hash: 'sha256', algorithm: alg };
    case 'SM2PKE':
      return { kind: 'sm2pke', algorithm: alg };
    default: {
      const never: never = alg;
      throw new Error(`unknown encryption algorithm ${String(never)}`);
    }
  }
}

/** AWS's SM2PKE plaintext limit (API_Encrypt): 1024 bytes. */
export const SM2PKE_MAX_PLAINTEXT = 1024;

/**
 * AWS's plaintext limits: RSAES-OAEP (bits/8) - 2·hLen - 2 (RSA_2048 with SHA-256: 190 bytes); SM2PKE 1024 bytes.
 */
export function checkAsymmetricPlaintext(key: KeyRecord, scheme: Exclude<EncryptionScheme, { kind: 'symmetric' }>, length: number): void {
  if (scheme.kind === 'sm2pke') {
    if (length > SM2PKE_MAX_PLAINTEXT) {
      throw new KmsError('ValidationException', `Plaintext is ${length} bytes; SM2PKE encrypts at most ${SM2PKE_MAX_PLAINTEXT} bytes.`);
    }
    return;
  }
  const form = SPECS[key.keySpec].form;
  if (form.kind !== 'key-pair' || form.params.type !== 'rsa') throw new Error(`${key.keySpec} is not an RSA spec`);
  const max = oaepMaxPlaintext(form.params.bits, scheme.hash);
  if (length > max) {
    throw new KmsError('ValidationException', `Plaintext is ${length} bytes; ${scheme.algorithm} with ${key.keySpec} encrypts at most ${max} bytes.`);
  }
}

/** Encryption context binds only symmetric ciphertexts; AWS refuses it with asymmetric keys. */
export function refuseContextForAsymmetric(context: Record<string, string> | undefined): void {
  if (context !== undefined) {
    throw new KmsError('ValidationException', 'EncryptionContext is not supported with asymmetric KMS keys.');
  }
}

const SIGNING_SCHEMES: Readonly<Record<SigningAlgorithmSpec, SignatureScheme | 'unsupported'>> = {
  RSASSA_PSS_SHA_256: { kind: 'rsa-pss', hash: 'sha256' },
  RSASSA_PSS_SHA_384: { kind: 'rsa-pss', hash: 'sha384' },
  RSASSA_PSS_SHA_512: { kind: 'rsa-pss', hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { kind: 'rsa-pkcs1', hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { kind: 'rsa-pkcs1', hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { kind: 'rsa-pkcs1', hash: 'sha512' },
  ECDSA_SHA_256: { kind: 'ecdsa', hash: 'sha256' },
  ECDSA_SHA_384: { kind: 'ecdsa', hash: 'sha384' },
  ECDSA_SHA_512: { kind: 'ecdsa', hash: 'sha512' },
  ED25519_SHA_512: { kind: 'ed25519' },
  ED25519_PH_SHA_512: { kind: 'ed25519ph' },
  SM2DSA: { kind: 'sm2dsa' },
  ML_DSA_SHAKE_256: { kind: 'ml-dsa' },
};

/**
 * Sign and Verify: the algorithm must be one of the key spec's, the message type one the algorithm takes, and a
 * DIGEST exactly the algorithm's hash length. Returns the scheme and whether the message is a digest.
 */
export function signingRequest(
  key: KeyRecord,
  algorithm: SigningAlgorithmSpec,
  messageType: MessageType | undefined,
  messageLength: number,
  operation: 'Sign' | 'Verify',
): { scheme: SignatureScheme; prehashed: boolean } {
  requireUsage(key, 'SIGN_VERIFY', operation);
  if (!(SPECS[key.keySpec].signing ?? []).includes(algorithm)) throw incompatible(algorithm, key.keySpec);
  const type: MessageType = messageType ?? 'RAW';
  const scheme = SIGNING_SCHEMES[algorithm];
  if (scheme !== 'unsupported' && scheme.kind === 'ml-dsa') {
    // AWS: ML-DSA signs RAW messages (up to 4096 bytes) or EXTERNAL_MU, the 64-byte μ of FIPS 204 §6.2; no DIGEST.
    if (type === 'DIGEST') throw new KmsError('ValidationException', `MessageType DIGEST is not compatible with signing algorithm ${algorithm}; use RAW or EXTERNAL_MU.`);
    if (type === 'EXTERNAL_MU' && messageLength !== 64) {
      throw new KmsError('ValidationException', `Message is invalid length for message type EXTERNAL_MU: it must be 64 bytes.`);
    }
    return { scheme, prehashed: type === 'EXTERNAL_MU' };
  }
  if (type === 'EXTERNAL_MU') {
    throw new KmsError('ValidationException', `MessageType EXTERNAL_MU is not compatible with signing algorithm ${algorithm}.`);
  }
  if (scheme === 'unsupported') throw new KmsError('UnsupportedOperationException', `${algorithm} is not supported by this Trent version yet.`);
  if (scheme.kind === 'ed25519') {
    // AWS: ED25519_SHA_512 requires MessageType RAW.
    if (type !== 'RAW') throw new KmsError('ValidationException', `Signing algorithm ${algorithm} requires MessageType RAW.`);
    return { scheme, prehashed: false };
  }
  if (scheme.kind === 'ed25519ph') {
    // AWS: ED25519_PH_SHA_512 requires MessageType DIGEST (a SHA-512 digest).
    if (type !== 'DIGEST') throw new KmsError('ValidationException', `Signing algorithm ${algorithm} requires MessageType DIGEST.`);
    if (messageLength !== 64) throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithm}.`);
    return { scheme, prehashed: true };
  }
  if (scheme.kind === 'sm2dsa') {
    // AWS: a DIGEST is SM3(Z_A || M), Z_A computed with the distinguishing ID the caller chose (32 bytes).
    if (type === 'DIGEST' && messageLength !== SM2_DIGEST_BYTES) throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithm}.`);
    return { scheme, prehashed: type === 'DIGEST' };
  }
  if (type === 'DIGEST' && messageLength !== HASH_BYTES[scheme.hash]) {
    throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithm}.`);
  }
  return { scheme, prehashed: type === 'DIGEST' };
}

/** GenerateMac and VerifyMac: an HMAC key and its one MAC algorithm. */
export function macRequest(key: KeyRecord, algorithm: MacAlgorithmSpec, operation: 'GenerateMac' | 'VerifyMac'): HmacHash {
  requireUsage(key, 'GENERATE_VERIFY_MAC', operation);
  const form = SPECS[key.keySpec].form;
  if (form.kind !== 'hmac' || !(SPECS[key.keySpec].mac ?? []).includes(algorithm)) throw incompatible(algorithm, key.keySpec);
  return form.hash;
}

/** DeriveSharedSecret: a KEY_AGREEMENT key and one of its key agreement algorithms; returns the key's curve. */
export function keyAgreementRequest(key: KeyRecord, algorithm: KeyAgreementAlgorithmSpec): AgreementCurve {
  requireUsage(key, 'KEY_AGREEMENT', 'DeriveSharedSecret');
  const info = SPECS[key.keySpec];
  if (!(info.keyAgreement ?? []).includes(algorithm)) throw incompatible(algorithm, key.keySpec);
  if (info.form.kind === 'key-pair' && info.form.params.type === 'sm2') return 'SM2';
  if (info.form.kind !== 'key-pair' || info.form.params.type !== 'ec') {
    throw new KmsError('UnsupportedOperationException', `Key agreement with ${key.keySpec} keys is not supported by this Trent version.`);
  }
  return info.form.params.curve;
}

/** The peer's public key of DeriveSharedSecret: DER SPKI on the KMS key's curve, else ValidationException. */
export function requirePeerKey(peer: PeerKey, key: KeyRecord): Extract<PeerKey, { ok: true }>['key'] {
  if (peer.ok) return peer.key;
  if (peer.why === 'malformed') {
    throw new KmsError('ValidationException', 'PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of an elliptic curve public key.');
  }
  throw new KmsError('ValidationException', `The public key is on ${peer.curve}, which does not match the key spec ${key.keySpec} of the KMS key.`);
}

/** GenerateDataKeyPair's KeyPairSpec: how the pair is made (DataKeyPairSpec names are KeySpec names). */
export function dataKeyPairParams(spec: DataKeyPairSpec): KeyPairParams {
  const form = SPECS[spec].form;
  if (form.kind !== 'key-pair') {
    throw new KmsError('UnsupportedOperationException', `KeyPairSpec ${spec} is not supported by this Trent version${form.kind === 'unsupported' ? `: ${form.why}` : ''}.`);
  }
  return form.params;
}
