import { TARGET_PREFIX, type OperationName } from '../model/kms-model.generated.js';
import type { Operation } from './operation.js';
import { createKey } from './keys/create-key.js';
import { describeKey } from './keys/describe-key.js';
import { encrypt } from './crypto/encrypt.js';
import { decrypt } from './crypto/decrypt.js';
import { reEncrypt } from './crypto/re-encrypt.js';
import { generateDataKey } from './crypto/generate-data-key.js';
import { generateDataKeyWithoutPlaintext } from './crypto/generate-data-key-without-plaintext.js';
import { generateRandom } from './crypto/generate-random.js';

/** Every operation Trent implements. One module per operation; add new ones here. */
const OPERATIONS: readonly Operation<any, any>[] = [
  createKey,
  describeKey,
  encrypt,
  decrypt,
  reEncrypt,
  generateDataKey,
  generateDataKeyWithoutPlaintext,
  generateRandom,
];

/** Maps `TrentService.<Operation>` targets to operation modules. */
export class OperationRegistry {
  readonly #byTarget = new Map<string, Operation<any, any>>();
  constructor(operations: readonly Operation<any, any>[] = OPERATIONS) {
    for (const op of operations) {
      if (this.#byTarget.has(`${TARGET_PREFIX}.${op.name}`)) throw new Error(`operation ${op.name} registered twice`);
      this.#byTarget.set(`${TARGET_PREFIX}.${op.name}`, op);
    }
  }
  byTarget(target: string): Operation<any, any> | undefined {
    return this.#byTarget.get(target);
  }
  names(): OperationName[] {
    return [...this.#byTarget.values()].map((op) => op.name);
  }
}
