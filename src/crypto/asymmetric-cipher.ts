// The public-key encryption schemes of asymmetric ENCRYPT_DECRYPT keys: RSAES-OAEP (RSA keys) and SM2PKE (SM2 keys).
import type { RsaHash } from './rsa.js';

export type AsymmetricCipher = { readonly kind: 'rsa-oaep'; readonly hash: RsaHash } | { readonly kind: 'sm2pke' };
