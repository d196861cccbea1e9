// The key-state table against AWS's "Key state table" (developerguide/key-state.html), transcribed here
// independently of src/domain/key-state.ts: every operation × every KeyState, exception class and message.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyStateValues, type KeyState } from '../../src/model/kms-model.generated.js';
import { KmsError } from '../../src/domain/errors.js';
import { assertKeyState, KEY_STATE_OPERATIONS, type KeyStateOperation } from '../../src/domain/key-state.js';
import type { KeyRecord } from '../../src/domain/ports.js';

// Columns as AWS prints them; AWS's "Pending deletion / Pending replica deletion" column is split in two.
const COLUMNS: KeyState[] = ['Enabled', 'Disabled', 'PendingDeletion', 'PendingReplicaDeletion', 'PendingImport', 'Unavailable', 'Creating', 'Updating'];

// ✓ = succeeds; a number = AWS's footnote. Where AWS prints "[2] or [3]" Trent answers [3]; where AWS prints
// "?" the condition is not the key state, so the state alone lets the call through (✓).
const DOC = `
CancelKeyDeletion                    4  4  ✓  ✓  4  4  4  4
CreateAlias                          ✓  ✓  3  3  ✓  ✓  ✓  ✓
CreateGrant                          ✓  1  3  3  5  ✓  14 ✓
Decrypt                              ✓  1  3  3  5  11 14 ✓
DeleteAlias                          ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
DeleteImportedKeyMaterial            ✓  ✓  3  3  ✓  7  14 ✓
DeriveSharedSecret                   ✓  1  3  3  5  11 14 ✓
DescribeKey                          ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
DisableKey                           ✓  ✓  3  3  5  ✓  14 15
DisableKeyRotation                   ✓  1  3  3  6  7  14 ✓
EnableKey                            ✓  ✓  3  3  5  ✓  14 15
EnableKeyRotation                    ✓  1  3  3  6  7  14 ✓
Encrypt                              ✓  1  3  3  5  11 14 ✓
GenerateDataKey                      ✓  1  3  3  5  11 14 ✓
GenerateDataKeyPair                  ✓  1  3  3  5  11 14 ✓
GenerateDataKeyPairWithoutPlaintext  ✓  1  3  3  5  11 14 ✓
GenerateDataKeyWithoutPlaintext      ✓  1  3  3  5  11 14 ✓
GenerateMac                          ✓  1  3  3  5  11 14 ✓
GetKeyPolicy                         ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
GetKeyRotationStatus                 ✓  ✓  ✓  ✓  6  7  ✓  ✓
GetParametersForImport               ✓  ✓  3  3  ✓  7  14 ✓
GetPublicKey                         ✓  1  3  3  5  11 14 ✓
ImportKeyMaterial                    ✓  ✓  3  3  ✓  7  14 ✓
ListGrants                           ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
ListKeyPolicies                      ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
ListKeyRotations                     ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
ListResourceTags                     ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
PutKeyPolicy                         ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
ReEncrypt                            ✓  1  3  3  5  11 14 ✓
ReplicateKey                         ✓  1  3  3  5  11 14 15
RotateKeyOnDemand                    ✓  1  3  3  5  7  14 ✓
RetireGrant                          ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
RevokeGrant                          ✓  ✓  ✓  ✓  ✓  ✓  ✓  ✓
ScheduleKeyDeletion                  ✓  ✓  3  3  ✓  ✓  ✓  15
Sign                                 ✓  1  3  3  5  11 14 ✓
TagResource                          ✓  ✓  3  3  ✓  ✓  ✓  ✓
UntagResource                        ✓  ✓  3  3  ✓  ✓  ✓  ✓
UpdateAlias                          ✓  ✓  3  3  ✓  ✓  ✓  ✓
UpdateKeyDescription                 ✓  ✓  3  3  ✓  ✓  ✓  ✓
UpdatePrimaryRegion                  ✓  1  3  3  5  11 14 ✓
Verify                               ✓  1  3  3  5  11 14 ✓
VerifyMac                            ✓  1  3  3  5  11 14 ✓
`;

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
/** AWS's footnotes: the exception and its message for a key in `state`. */
function footnote(n: string, state: KeyState): { type: string; message: string } {
  switch (n) {
    case '1': return { type: 'DisabledException', message: `${ARN} is disabled.` };
    case '3': return { type: 'KMSInvalidStateException', message: state === 'PendingReplicaDeletion' ? `${ARN} is pending replica deletion.` : `${ARN} is pending deletion.` };
    case '4': return { type: 'KMSInvalidStateException', message: `${ARN} is not pending deletion.` };
    case '5': return { type: 'KMSInvalidStateException', message: `${ARN} is pending import.` };
    case '6': return { type: 'UnsupportedOperationException', message: `${ARN} origin is EXTERNAL which is not valid for this operation.` };
    case '7': return { type: 'UnsupportedOperationException', message: `${ARN} is in a custom key store, which is not valid for this operation.` };
    case '11': return { type: 'KMSInvalidStateException', message: `${ARN} is unavailable.` };
    case '14': return { type: 'KMSInvalidStateException', message: `${ARN} is creating.` };
    case '15': return { type: 'KMSInvalidStateException', message: `${ARN} is updating.` };
    default: throw new Error(`no footnote ${n}`);
  }
}

const expected = new Map<string, string[]>(
  DOC.trim().split('\n').map((line) => {
    const [op, ...cells] = line.trim().split(/\s+/);
    return [op!, cells];
  }),
);

const keyIn = (state: KeyState): KeyRecord => ({
  account: '111122223333', region: 'us-east-1', keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', arn: ARN,
  creationDate: new Date(0), description: '', keyUsage: 'ENCRYPT_DECRYPT', keySpec: 'SYMMETRIC_DEFAULT', origin: 'AWS_KMS',
  keyManager: 'CUSTOMER', keyState: state, multiRegion: false, policy: '{}', version: 1,
});

describe('key-state table', () => {
  it('covers exactly the operations of AWS table, with one cell per KeyState of the model', () => {
    assert.deepEqual([...KEY_STATE_OPERATIONS].sort(), [...expected.keys()].sort());
    assert.deepEqual([...COLUMNS].sort(), [...KeyStateValues].sort());
    for (const [op, cells] of expected) assert.equal(cells.length, COLUMNS.length, op);
  });

  for (const [op, cells] of expected) {
    it(`${op}: every key state`, () => {
      COLUMNS.forEach((state, i) => {
        const cell = cells[i]!;
        const key = keyIn(state);
        if (cell === '✓') {
          assert.doesNotThrow(() => assertKeyState(key, op as KeyStateOperation), `${op} in ${state}`);
          return;
        }
        const want = footnote(cell, state);
        assert.throws(
          () => assertKeyState(key, op as KeyStateOperation),
          (err: unknown) => {
            assert.ok(err instanceof KmsError, `${op} in ${state}: ${String(err)}`);
            assert.equal(err.type, want.type, `${op} in ${state}`);
            assert.equal(err.message, want.message, `${op} in ${state}`);
            assert.equal(err.status, 400);
            return true;
          },
        );
      });
    });
  }
});
