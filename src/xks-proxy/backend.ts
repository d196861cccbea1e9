// What the proxy needs from the key manager behind it (a PKCS#11 token in Trent: keystores/pkcs11/xks-backend.ts).
// Implementations throw XksError with the spec's names (KeyNotFoundException, InvalidCiphertextException, ...).

export interface XksKeyInfo {
  /** "AES_256" for a 256-bit AES key; other AES sizes are reported as AES_128 / AES_192 and refuse to work. */
  readonly keySpec: 'AES_128' | 'AES_192' | 'AES_256';
  readonly encrypt: boolean;
  readonly decrypt: boolean;
}

export interface GcmOutput {
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

export interface EkmDescription {
  readonly vendor: string;
  readonly id: string;
  readonly model: string;
}

export interface XksBackend {
  /** The key with this label in the key manager; KeyNotFoundException when there is none. */
  describeKey(label: string): Promise<XksKeyInfo>;
  /** AES-GCM with a fresh IV inside the key manager; `aad` is the full associated data (see api.ts hsmAad). */
  encrypt(label: string, plaintext: Buffer, aad: Buffer): Promise<GcmOutput>;
  /** InvalidCiphertextException when the tag does not verify. */
  decrypt(label: string, input: GcmOutput, aad: Buffer): Promise<Buffer>;
  /** A real round trip through the key manager with its test key (encrypt, then decrypt and compare); throws if it fails. */
  testOperation(): Promise<void>;
  describe(): Promise<EkmDescription>;
  close(): void;
}
