import type { GetParametersForImportRequest, GetParametersForImportResponse } from '../../model/kms-model.generated.js';
import { SecretBytes } from '../../crypto/secret-bytes.js';
import { assertExternal, IMPORT_PARAMETERS_VALIDITY_MS, wrappingParameters } from '../../domain/import.js';
import { keyForOperation, OWN_KEY } from '../common.js';
import { defineOperation } from '../operation.js';

/**
 * API_GetParametersForImport: a fresh wrapping key pair (RSA, or SM2 for SM2PKE) for every call, its public key (DER SubjectPublicKeyInfo)
 * and an import token bound to this key and this wrapping key, both valid for 24 hours. The private key is only ever
 * inside the token, encrypted under the root key (docs/import.md).
 */
export const getParametersForImport = defineOperation<GetParametersForImportRequest, GetParametersForImportResponse>('GetParametersForImport', async (input, ctx, svc) => {
  const key = await keyForOperation(input.KeyId, 'GetParametersForImport', ctx, svc, OWN_KEY, { wrappingAlgorithm: input.WrappingAlgorithm });
  assertExternal(key);
  const { algorithm, wrappingKey } = wrappingParameters(key, input.WrappingAlgorithm, input.WrappingKeySpec);
  const validTo = new Date(svc.clock.now().getTime() + IMPORT_PARAMETERS_VALIDITY_MS);
  const { publicKey, importToken } = await svc.keystore.createImportParameters(key.arn, algorithm, wrappingKey, validTo);
  return { KeyId: key.arn, ImportToken: importToken, PublicKey: SecretBytes.adopt(publicKey), ParametersValidTo: validTo };
});
