import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { generateMlDsaKeyPair, type MlDsaLevel } from './ml-dsa.js';
import { generateSm2KeyPair } from './sm2.js';

/** The named curves Trent uses, by their OpenSSL names. */
export type EcCurve = 'prime256v1' | 'secp384r1' | 'secp521r1' | 'secp256k1';

export type KeyPairParams =
  | { readonly type: 'rsa'; readonly bits: 2048 | 3072 | 4096 }
  | { readonly type: 'ec'; readonly curve: EcCurve }
  | { readonly type: 'ed25519' }
  /** FIPS 204; the private key is the seed-only PKCS#8 form (see ml-dsa.ts). */
  | { readonly type: 'ml-dsa'; readonly level: MlDsaLevel }
  /** GB/T 32918 SM2 curve; held in JavaScript (see sm2.ts), PKCS#8 with id-ecPublicKey and the SM2 curve OID. */
  | { readonly type: 'sm2' };

export interface DerKeyPair {
  /** PKCS#8 PrivateKeyInfo, DER. */
  readonly privateKey: Buffer;
  /** X.509 SubjectPublicKeyInfo, DER. */
  readonly publicKey: Buffer;
}

const DER = { privateKeyEncoding: { type: 'pkcs8', format: 'der' }, publicKeyEncoding: { type: 'spki', format: 'der' } } as const;

/**
 * A fresh key pair, generated on libuv's thread pool (crypto.generateKeyPair), so that an RSA-4096 key (seconds of
 * CPU) does not block the event loop.
 */
export function generateDerKeyPair(params: KeyPairParams): Promise<DerKeyPair> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: Buffer, privateKey: Buffer): void => (err ? reject(err) : resolve({ privateKey, publicKey }));
    switch (params.type) {
      case 'rsa':
        generateKeyPair('rsa', { modulusLength: params.bits, publicExponent: 65537, ...DER }, done);
        return;
      case 'ec':
        generateKeyPair('ec', { namedCurve: params.curve, ...DER }, done);
        return;
      case 'ed25519':
        generateKeyPair('ed25519', DER, done);
        return;
      case 'ml-dsa':
      case 'sm2':
        try {
          // milliseconds: no need for the thread pool
          resolve(params.type === 'ml-dsa' ? generateMlDsaKeyPair(params.level) : generateSm2KeyPair());
        } catch (e) {
          reject(e as Error);
        }
        return;
      default: {
        const never: never = params;
        reject(new Error(`unknown key pair type ${String(never)}`));
      }
    }
  });
}

/** Parses PKCS#8 DER; returns the private key and its public half. */
export function parsePkcs8(der: Buffer): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

export function spkiDer(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}
