// Rules of importing key material (origin EXTERNAL), from developerguide/importing-keys*.html,
// API_GetParametersForImport and API_ImportKeyMaterial. See docs/import.md.
import type { AlgorithmSpec, KeySpec, WrappingKeySpec } from '../model/kms-model.generated.js';
import type { WrappingAlgorithm, WrappingKeyParams } from '../crypto/key-import.js';
import { KmsError, validationError } from './errors.js';
import { materialForm } from './key-specs.js';
import type { KeyRecord, MaterialRecord } from './ports.js';
import { isErased } from './ports.js';

/** GetParametersForImport: "The public key and import token ... are valid for 24 hours." */
export const IMPORT_PARAMETERS_VALIDITY_MS = 24 * 60 * 60 * 1000;
/** ImportKeyMaterial ValidTo: at most 365 days after the request. */
export const MAX_VALID_TO_MS = 365 * 24 * 60 * 60 * 1000;

/**
 * Which key specs take imported material: symmetric, HMAC, RSA, ECC and SM2 (importing-keys-conceptual; SM2 in AWS's
 * China Regions only, in every region in Trent). Trent does not import ML-DSA or Edwards-curve material (not
 * confirmed on AWS).
 */
export function importable(spec: KeySpec): boolean {
  switch (spec) {
    case 'SYMMETRIC_DEFAULT':
    case 'HMAC_224':
    case 'HMAC_256':
    case 'HMAC_384':
    case 'HMAC_512':
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
    case 'ECC_NIST_P256':
    case 'ECC_NIST_P384':
    case 'ECC_NIST_P521':
    case 'ECC_SECG_P256K1':
    case 'SM2':
      return materialForm(spec).kind !== 'unsupported';
    case 'ECC_NIST_EDWARDS25519':
    case 'ML_DSA_44':
    case 'ML_DSA_65':
    case 'ML_DSA_87':
      return false;
    default:
      return spec satisfies never;
  }
}

const WRAPPING_KEY_SPECS = '[RSA_2048, RSA_3072, RSA_4096, SM2]';

/**
 * The wrapping algorithm × wrapping key spec × key spec rules (API_GetParametersForImport WrappingAlgorithm and
 * WrappingKeySpec, importing-keys-get-public-key-and-token): RSAES_PKCS1_V1_5 is no longer supported (since 10 October
 * 2023); RSAES_OAEP_* wraps anything but RSA private keys, and not ECC_NIST_P521 material under an RSA_2048 wrapping
 * key (it does not fit); RSA_AES_KEY_WRAP_* wraps anything. The RSA algorithms need an RSA wrapping key; SM2PKE (AWS:
 * China Regions only) needs the SM2 wrapping key spec and, as SM2PKE has no size limit, wraps every importable
 * material (symmetric, HMAC, RSA, ECC, SM2).
 */
export function wrappingParameters(key: KeyRecord, algorithm: AlgorithmSpec, wrappingKeySpec: WrappingKeySpec): { algorithm: WrappingAlgorithm; wrappingKey: WrappingKeyParams } {
  let wrappingKey: WrappingKeyParams;
  switch (wrappingKeySpec) {
    case 'RSA_2048':
      wrappingKey = { type: 'rsa', bits: 2048 };
      break;
    case 'RSA_3072':
      wrappingKey = { type: 'rsa', bits: 3072 };
      break;
    case 'RSA_4096':
      wrappingKey = { type: 'rsa', bits: 4096 };
      break;
    case 'SM2':
      wrappingKey = { type: 'sm2' };
      break;
    default:
      throw validationError(`1 validation error detected: Value '${String(wrappingKeySpec)}' at 'wrappingKeySpec' failed to satisfy constraint: Member must satisfy enum value set: ${WRAPPING_KEY_SPECS}`);
  }
  const rsaOnly = (alg: WrappingAlgorithm) => {
    if (wrappingKey.type !== 'rsa') throw validationError(`The wrapping algorithm ${alg} is not compatible with the wrapping key spec ${wrappingKeySpec}: use SM2PKE with an SM2 wrapping key.`);
    return wrappingKey.bits;
  };
  switch (algorithm) {
    case 'RSAES_PKCS1_V1_5':
      throw new KmsError('UnsupportedOperationException', 'The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported. Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.');
    case 'SM2PKE':
      if (wrappingKey.type !== 'sm2') throw validationError(`The wrapping algorithm SM2PKE is not compatible with the wrapping key spec ${wrappingKeySpec}: SM2PKE needs the SM2 wrapping key spec.`);
      return { algorithm, wrappingKey };
    case 'RSAES_OAEP_SHA_1':
    case 'RSAES_OAEP_SHA_256': {
      const bits = rsaOnly(algorithm);
      if (key.keySpec.startsWith('RSA_')) {
        throw new KmsError('UnsupportedOperationException', `${algorithm} cannot wrap RSA key material: use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256 for ${key.keySpec} keys.`);
      }
      if (key.keySpec === 'ECC_NIST_P521' && bits === 2048) {
        throw new KmsError('UnsupportedOperationException', `${algorithm} with an RSA_2048 wrapping key cannot wrap ECC_NIST_P521 key material: use a larger wrapping key or RSA_AES_KEY_WRAP_SHA_256.`);
      }
      return { algorithm, wrappingKey };
    }
    case 'RSA_AES_KEY_WRAP_SHA_1':
    case 'RSA_AES_KEY_WRAP_SHA_256':
      rsaOnly(algorithm);
      return { algorithm, wrappingKey };
    default:
      throw validationError(`1 validation error detected: Value '${String(algorithm)}' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, SM2PKE]`);
  }
}

/** Refuses a key that does not take imported material: "The Origin of the KMS key must be EXTERNAL." */
export function assertExternal(key: KeyRecord): void {
  if (key.origin !== 'EXTERNAL') {
    throw new KmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
  }
}

/** A key is usable (Enabled) only while none of its imported materials is erased (expired or deleted). */
export const allMaterialsPresent = (materials: readonly MaterialRecord[]): boolean => materials.every((m) => !isErased(m));
