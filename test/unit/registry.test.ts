// Every operation of the KMS model is implemented (issue #13 made ReplicateKey and UpdatePrimaryRegion the last two):
// none answers "is not supported by this Trent version yet".
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OPERATIONS } from '../../src/model/kms-model.generated.js';
import { OperationRegistry } from '../../src/operations/registry.js';

describe('operation registry', () => {
  it('registers every operation of the model', () => {
    const registered = new Set(new OperationRegistry().names());
    assert.deepEqual(Object.keys(OPERATIONS).filter((name) => !registered.has(name as never)), []);
    assert.equal(registered.size, Object.keys(OPERATIONS).length);
  });
});
