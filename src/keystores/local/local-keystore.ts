import { gcmDecrypt, gcmEncrypt } from '../../crypto/aes-gcm.js';
import { RandomPool } from '../../crypto/random-pool.js';
import { SecretBytes } from '../../crypto/secret-bytes.js';
import type { Clock, KeyStore, MaterialRecord, RandomSource } from '../../domain/ports.js';
import type { RootKey } from './root-key.js';

/** Associated data that binds wrapped material to its key and material id. */
export const materialWrapContext = (keyArn: string, materialId: string): string[] => ['material', keyArn, materialId];

/**
 * The default key store: 256-bit material generated here, stored wrapped under the root key, and kept
 * unwrapped in memory (by key ARN and material id) once used, so the hot path does no unwrapping.
 */
export class LocalKeyStore implements KeyStore {
  readonly #unwrapped = new Map<string, Map<string, SecretBytes>>();
  readonly #ivs = new RandomPool();

  constructor(
    private readonly root: RootKey,
    private readonly random: RandomSource,
    private readonly clock: Clock,
  ) {}

  async createMaterial(keyArn: string, materialId: string): Promise<MaterialRecord> {
    const bytes = this.random.bytes(32);
    const wrapped = this.root.wrap(materialWrapContext(keyArn, materialId), bytes);
    this.#remember(keyArn, materialId, new SecretBytes(bytes));
    bytes.fill(0);
    return { keyArn, materialId, wrapped, createdAt: this.clock.now() };
  }

  async encrypt(material: MaterialRecord, plaintext: Buffer, aad: Buffer) {
    return gcmEncrypt(this.#material(material).unsafeBytes(), plaintext, aad, (n) => this.#ivs.take(n));
  }

  async decrypt(material: MaterialRecord, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer) {
    const out = gcmDecrypt(this.#material(material).unsafeBytes(), { iv, ciphertext, tag }, aad);
    return out && SecretBytes.adopt(out);
  }

  forget(keyArn: string): void {
    for (const secret of this.#unwrapped.get(keyArn)?.values() ?? []) secret.wipe();
    this.#unwrapped.delete(keyArn);
  }

  forgetAll(): void {
    for (const arn of [...this.#unwrapped.keys()]) this.forget(arn);
  }

  #material(material: MaterialRecord): SecretBytes {
    const cached = this.#unwrapped.get(material.keyArn)?.get(material.materialId);
    if (cached) return cached;
    const bytes = this.root.unwrap(materialWrapContext(material.keyArn, material.materialId), material.wrapped);
    if (!bytes) throw new Error(`key material ${material.materialId} of ${material.keyArn} does not unwrap under the root key`);
    const secret = new SecretBytes(bytes);
    bytes.fill(0);
    this.#remember(material.keyArn, material.materialId, secret);
    return secret;
  }

  #remember(keyArn: string, materialId: string, secret: SecretBytes): void {
    let byId = this.#unwrapped.get(keyArn);
    if (!byId) this.#unwrapped.set(keyArn, (byId = new Map()));
    byId.set(materialId, secret);
  }
}
