// The XKS Proxy API v1 request bodies, validated to the spec's letter, and its two byte constructions: the AAD handed
// to the key manager (Encrypt, ciphertextMetadata) and the ciphertext data integrity value (Appendix C).
import { createHash } from 'node:crypto';
import { XksError } from './errors.js';

/** Sizes the spec requires a proxy to handle at least, and what this proxy handles at most. */
export const LIMITS = {
  /** Spec: plaintext and ciphertext of at least 4300 bytes. */
  maxDataBytes: 65_536,
  /** Spec: AAD of at least 8192 bytes; the 2-byte length prefix of the key manager's AAD bounds it at 65535. */
  maxAadBytes: 65_535,
  /** Spec: ciphertextMetadata never exceeds 20 bytes. */
  maxCiphertextMetadataBytes: 20,
  /** Spec: keyUsage and ekmFleetDetails hold at most ten entries. */
  maxListEntries: 10,
} as const;

/**
 * The ciphertextMetadata this proxy returns: one byte naming how the key manager's AAD was built (1: the spec's
 * length-prefixed form below). The spec suggests recording such behaviour there, so a later format can still decrypt
 * older ciphertexts; since it is part of the AAD, a modified value fails decryption.
 */
export const CIPHERTEXT_METADATA = Buffer.from([0x01]);

export interface RequestMetadata {
  readonly awsPrincipalArn?: string | undefined;
  readonly kmsKeyArn?: string | undefined;
  readonly kmsOperation: string;
  readonly kmsRequestId: string;
  readonly kmsViaService?: string | undefined;
  readonly awsSourceVpc?: string | undefined;
  readonly awsSourceVpce?: string | undefined;
}

export interface EncryptRequest {
  readonly requestMetadata: RequestMetadata;
  readonly plaintext: Buffer;
  readonly aad?: Buffer | undefined;
  readonly cdivAlgorithm?: 'SHA_256' | undefined;
}

export interface DecryptRequest {
  readonly requestMetadata: RequestMetadata;
  readonly ciphertext: Buffer;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly aad?: Buffer | undefined;
  readonly ciphertextMetadata?: Buffer | undefined;
}

export type XksOperation = 'GetKeyMetadata' | 'Encrypt' | 'Decrypt' | 'GetHealthStatus';

const invalid = (message: string) => new XksError('ValidationException', message);
const tooLarge = (message: string) => new XksError('UnsupportedOperationException', message);

/** Parses the body: a JSON object, else ValidationException. */
export function parseBody(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('The request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('The request body must be a JSON object.');
  return value as Record<string, unknown>;
}

function optionalString(o: Record<string, unknown>, name: string, where: string): string | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`${where}${name} must be a string.`);
  return v;
}

function requiredString(o: Record<string, unknown>, name: string, where: string): string {
  const v = optionalString(o, name, where);
  if (v === undefined || v === '') throw invalid(`${where}${name} is required.`);
  return v;
}

/**
 * requestMetadata: the fields each operation REQUIRES must be non-empty strings; optional ones strings when present.
 * The spec forbids validating kmsRequestId's structure or rejecting an unknown kmsOperation: neither is checked
 * beyond being a string. Fields KMS may add later are ignored.
 */
export function parseRequestMetadata(body: Record<string, unknown>, op: XksOperation): RequestMetadata {
  const m = body.requestMetadata;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw invalid('requestMetadata is required and must be a JSON object.');
  const o = m as Record<string, unknown>;
  const w = 'requestMetadata.';
  const kmsOperation = requiredString(o, 'kmsOperation', w);
  const kmsRequestId = requiredString(o, 'kmsRequestId', w);
  if (op === 'GetHealthStatus') return { kmsOperation, kmsRequestId };
  return {
    kmsOperation,
    kmsRequestId,
    awsPrincipalArn: requiredString(o, 'awsPrincipalArn', w),
    // Spec: kmsKeyArn is REQUIRED for Encrypt and Decrypt, OPTIONAL for GetKeyMetadata (absent for CreateKey).
    kmsKeyArn: op === 'GetKeyMetadata' ? optionalString(o, 'kmsKeyArn', w) : requiredString(o, 'kmsKeyArn', w),
    kmsViaService: optionalString(o, 'kmsViaService', w),
    awsSourceVpc: optionalString(o, 'awsSourceVpc', w),
    awsSourceVpce: optionalString(o, 'awsSourceVpce', w),
  };
}

// Standard Base64 (RFC 4648 section 4, spec v1.0.2), padded; URL-safe or unpadded text is not Base64 here.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function base64Field(o: Record<string, unknown>, name: string, required: boolean): Buffer | undefined {
  const v = o[name];
  if (v === undefined) {
    if (required) throw invalid(`${name} is required.`);
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(`${name} must be a Base64 string.`);
  if (!BASE64.test(v)) throw invalid(`${name} is not standard Base64 (RFC 4648, section 4).`);
  return Buffer.from(v, 'base64');
}

function encryptionAlgorithm(o: Record<string, unknown>): void {
  const v = o.encryptionAlgorithm;
  if (v === undefined) throw invalid('encryptionAlgorithm is required.');
  if (v !== 'AES_GCM') throw invalid(`encryptionAlgorithm must be AES_GCM (the only algorithm of XKS API v1), not ${JSON.stringify(v).slice(0, 40)}.`);
}

function aadField(o: Record<string, unknown>): Buffer | undefined {
  const aad = base64Field(o, 'additionalAuthenticatedData', false);
  if (aad && aad.length > LIMITS.maxAadBytes) throw tooLarge(`additionalAuthenticatedData of ${aad.length} bytes exceeds the ${LIMITS.maxAadBytes} bytes this proxy supports.`);
  return aad;
}

function dataField(o: Record<string, unknown>, name: 'plaintext' | 'ciphertext'): Buffer {
  const data = base64Field(o, name, true)!;
  if (data.length === 0) throw invalid(`${name} must not be empty.`);
  if (data.length > LIMITS.maxDataBytes) throw tooLarge(`${name} of ${data.length} bytes exceeds the ${LIMITS.maxDataBytes} bytes this proxy supports.`);
  return data;
}

export function parseEncryptRequest(body: Record<string, unknown>): EncryptRequest {
  const requestMetadata = parseRequestMetadata(body, 'Encrypt');
  const plaintext = dataField(body, 'plaintext');
  encryptionAlgorithm(body);
  const aad = aadField(body);
  const cdiv = body.ciphertextDataIntegrityValueAlgorithm;
  if (cdiv !== undefined && cdiv !== 'SHA_256') {
    throw invalid(`ciphertextDataIntegrityValueAlgorithm must be SHA_256, not ${JSON.stringify(cdiv).slice(0, 40)}.`);
  }
  return { requestMetadata, plaintext, aad, cdivAlgorithm: cdiv };
}

export function parseDecryptRequest(body: Record<string, unknown>): DecryptRequest {
  const requestMetadata = parseRequestMetadata(body, 'Decrypt');
  const ciphertext = dataField(body, 'ciphertext');
  encryptionAlgorithm(body);
  const aad = aadField(body);
  const iv = base64Field(body, 'initializationVector', true)!;
  // Spec: the IV is 12 or 16 bytes; the tag 16 bytes; ciphertextMetadata at most 20 bytes.
  if (iv.length !== 12 && iv.length !== 16) throw invalid(`initializationVector must be 12 or 16 bytes, not ${iv.length}.`);
  const tag = base64Field(body, 'authenticationTag', true)!;
  if (tag.length !== 16) throw invalid(`authenticationTag must be 16 bytes, not ${tag.length}.`);
  const ciphertextMetadata = base64Field(body, 'ciphertextMetadata', false);
  if (ciphertextMetadata && ciphertextMetadata.length > LIMITS.maxCiphertextMetadataBytes) {
    throw invalid(`ciphertextMetadata must not exceed ${LIMITS.maxCiphertextMetadataBytes} bytes, not ${ciphertextMetadata.length}.`);
  }
  return { requestMetadata, ciphertext, iv, tag, aad, ciphertextMetadata };
}

/**
 * The AAD given to AES-GCM in the key manager (spec, Encrypt, ciphertextMetadata): the 2-byte big-endian length of
 * additionalAuthenticatedData || additionalAuthenticatedData || the 1-byte length of ciphertextMetadata ||
 * ciphertextMetadata; an absent field has length zero. The lengths keep "no AAD, metadata M" apart from "AAD M".
 */
export function hsmAad(aad: Buffer | undefined, ciphertextMetadata: Buffer | undefined): Buffer {
  const a = aad ?? Buffer.alloc(0);
  const m = ciphertextMetadata ?? Buffer.alloc(0);
  if (a.length > 0xffff || m.length > 0xff) throw new RangeError('AAD or ciphertextMetadata too long for its length prefix');
  const out = Buffer.alloc(2 + a.length + 1 + m.length);
  out.writeUInt16BE(a.length, 0);
  a.copy(out, 2);
  out.writeUInt8(m.length, 2 + a.length);
  m.copy(out, 3 + a.length);
  return out;
}

/**
 * The ciphertext data integrity value (spec, Appendix C): SHA-256 over the decoded additionalAuthenticatedData (from the
 * request, if any) || ciphertextMetadata (if any) || initializationVector || ciphertext || authenticationTag, without
 * lengths (it guards against bit flips, not forgery).
 */
export function cdiv(aad: Buffer | undefined, ciphertextMetadata: Buffer | undefined, iv: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  const h = createHash('sha256');
  if (aad) h.update(aad);
  if (ciphertextMetadata) h.update(ciphertextMetadata);
  return h.update(iv).update(ciphertext).update(tag).digest();
}
