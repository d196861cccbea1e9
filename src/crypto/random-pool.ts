import { randomFillSync } from 'node:crypto';

/**
 * CSPRNG bytes handed out from a buffer refilled in blocks: one call into OpenSSL per block instead of one per
 * IV or data key (each call costs a getpid() for fork safety). Every byte is handed out once and never reused.
 * An object, not module state: whoever needs one (main.ts, a key store) makes its own.
 */
export class RandomPool {
  readonly #block: Buffer;
  #offset: number;

  constructor(blockSize = 4096) {
    this.#block = Buffer.alloc(blockSize);
    this.#offset = blockSize;
  }

  /** `n` fresh random bytes, copied out of the pool (the copy is the caller's). */
  take(n: number): Buffer {
    if (n > this.#block.length) return randomFillSync(Buffer.alloc(n));
    if (this.#offset + n > this.#block.length) {
      randomFillSync(this.#block);
      this.#offset = 0;
    }
    const out = Buffer.from(this.#block.subarray(this.#offset, this.#offset + n));
    this.#block.fill(0, this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }
}
