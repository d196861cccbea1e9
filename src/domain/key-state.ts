import type { KeyState } from '../model/kms-model.generated.js';
import { KeyStateValues } from '../model/kms-model.generated.js';
import type { KeyRecord } from './ports.js';
import { KmsError } from './errors.js';

/**
 * Which operations each key state allows: one table, transcribed row by row from AWS's "Key states of AWS KMS keys"
 * (developerguide/key-state.html, "Key state table"). A rule is 'allow' or the exception AWS answers in that state.
 * See docs/key-states.md for the table in prose and the choices made where AWS's table says "?" or "[2] or [3]".
 */
export type StateRule = 'allow' | 'KMSInvalidStateException' | 'DisabledException' | 'UnsupportedOperationException';

const A = 'allow' as const;
const D = 'DisabledException' as const;
const I = 'KMSInvalidStateException' as const;
const U = 'UnsupportedOperationException' as const;

/** Column order of every row below: the states in the order AWS's table prints them. */
type Row = readonly [
  enabled: StateRule,
  disabled: StateRule,
  pendingDeletion: StateRule,
  pendingReplicaDeletion: StateRule,
  pendingImport: StateRule,
  unavailable: StateRule,
  creating: StateRule,
  updating: StateRule,
];
const COLUMNS: readonly KeyState[] = ['Enabled', 'Disabled', 'PendingDeletion', 'PendingReplicaDeletion', 'PendingImport', 'Unavailable', 'Creating', 'Updating'];

// Crypto: [1] disabled → DisabledException; pending deletion → "[2] or [3]": Trent answers [3] KMSInvalidStateException,
// what AWS answers today; [5] pending import, [11] unavailable, [14] creating; Updating succeeds.
const CRYPTO: Row = [A, D, I, I, I, I, I, A];
const ALWAYS: Row = [A, A, A, A, A, A, A, A];
/** Changes to a key that is not being deleted ([3]); everything else succeeds. */
const NOT_PENDING_DELETION: Row = [A, A, I, I, A, A, A, A];

/** Operations on an existing key and the row AWS's key-state table gives each. */
export const KEY_STATE_TABLE = {
  CancelKeyDeletion: [I, I, A, A, I, I, I, I], // [4] "is not pending deletion."
  CreateAlias: NOT_PENDING_DELETION,
  CreateGrant: [A, D, I, I, I, A, I, A],
  Decrypt: CRYPTO,
  DeleteAlias: ALWAYS,
  // Import operations: allowed while the key can take material (Enabled and Disabled: re-import; PendingImport), not
  // while it is being deleted ([3]) nor in a custom key store ([7]). See docs/import.md.
  DeleteImportedKeyMaterial: [A, A, I, I, A, U, I, A],
  DeriveSharedSecret: CRYPTO,
  DescribeKey: ALWAYS,
  DisableKey: [A, A, I, I, I, A, I, I], // Unavailable: [12] succeeds; Updating: [15]
  DisableKeyRotation: [A, D, I, I, U, U, I, A], // [6] origin EXTERNAL; [7] custom key store
  EnableKey: [A, A, I, I, I, A, I, I],
  EnableKeyRotation: [A, D, I, I, U, U, I, A],
  Encrypt: CRYPTO,
  GenerateDataKey: CRYPTO,
  GenerateDataKeyPair: CRYPTO,
  GenerateDataKeyPairWithoutPlaintext: CRYPTO,
  GenerateDataKeyWithoutPlaintext: CRYPTO,
  GenerateMac: CRYPTO,
  GetKeyPolicy: ALWAYS,
  GetKeyRotationStatus: [A, A, A, A, U, U, A, A],
  GetParametersForImport: [A, A, I, I, A, U, I, A],
  GetPublicKey: CRYPTO,
  ImportKeyMaterial: [A, A, I, I, A, U, I, A],
  ListGrants: ALWAYS,
  ListKeyPolicies: ALWAYS,
  ListKeyRotations: ALWAYS, // newer than the 2023 table; read-only like ListGrants
  ListResourceTags: ALWAYS,
  PutKeyPolicy: ALWAYS,
  ReEncrypt: CRYPTO,
  ReplicateKey: [A, D, I, I, I, I, I, I],
  // Newer than the 2023 table, which has no row for it: as EnableKeyRotation, except that a key pending import has no
  // material to rotate yet ([5]); imported keys themselves are refused by the rotation rules, not by state.
  RotateKeyOnDemand: [A, D, I, I, I, U, I, A],
  RetireGrant: ALWAYS,
  RevokeGrant: ALWAYS,
  ScheduleKeyDeletion: [A, A, I, I, A, A, A, I],
  Sign: CRYPTO,
  TagResource: NOT_PENDING_DELETION,
  UntagResource: NOT_PENDING_DELETION,
  UpdateAlias: NOT_PENDING_DELETION, // [10] the new target key's state; the old target's does not matter
  UpdateKeyDescription: NOT_PENDING_DELETION,
  UpdatePrimaryRegion: [A, D, I, I, I, I, I, A],
  Verify: CRYPTO,
  VerifyMac: CRYPTO,
} as const satisfies Record<string, Row>;

export type KeyStateOperation = keyof typeof KEY_STATE_TABLE;
export const KEY_STATE_OPERATIONS = Object.keys(KEY_STATE_TABLE) as KeyStateOperation[];

export function stateRule(operation: KeyStateOperation, state: KeyState): StateRule {
  const row: Row | undefined = KEY_STATE_TABLE[operation];
  if (!row) throw new Error(`operation ${operation} has no key-state rule`);
  const column = COLUMNS.indexOf(state);
  if (column < 0) throw new Error(`unknown key state ${state}`);
  return row[column]!;
}

/** The words AWS uses (table footnotes [1]–[15]) for a key that cannot be used in its current state. */
export function stateMessage(key: KeyRecord, operation: KeyStateOperation): string {
  if (operation === 'CancelKeyDeletion' && key.keyState !== 'PendingDeletion' && key.keyState !== 'PendingReplicaDeletion') {
    return `${key.arn} is not pending deletion.`;
  }
  switch (key.keyState) {
    case 'Disabled':
      return `${key.arn} is disabled.`;
    case 'PendingDeletion':
      return `${key.arn} is pending deletion.`;
    case 'PendingReplicaDeletion':
      return `${key.arn} is pending replica deletion.`;
    case 'PendingImport':
      return stateRule(operation, key.keyState) === U
        ? `${key.arn} origin is EXTERNAL which is not valid for this operation.`
        : `${key.arn} is pending import.`;
    case 'Unavailable':
      return stateRule(operation, key.keyState) === U
        ? `${key.arn} is in a custom key store, which is not valid for this operation.`
        : `${key.arn} is unavailable.`;
    case 'Creating':
      return `${key.arn} is creating.`;
    case 'Updating':
      return `${key.arn} is updating.`;
    case 'Enabled':
      return `${key.arn} is enabled.`;
    default: {
      const never: never = key.keyState;
      throw new Error(`unknown key state ${String(never)}`);
    }
  }
}

/** Throws the exception AWS answers when `operation` meets `key` in its current state. */
export function assertKeyState(key: KeyRecord, operation: KeyStateOperation): void {
  const rule = stateRule(operation, key.keyState);
  if (rule !== 'allow') throw new KmsError(rule, stateMessage(key, operation));
}

export const ALL_KEY_STATES: readonly KeyState[] = KeyStateValues;
