import type { KeyState } from '../model/kms-model.generated.js';
import { KeyStateValues } from '../model/kms-model.generated.js';
import type { KeyRecord } from './ports.js';
import { KmsError } from './errors.js';

/**
 * Which operations each key state allows: one table, after AWS's "Key states of AWS KMS keys"
 * (developerguide/key-state.html). A rule is 'allow' or the exception AWS answers in that state.
 */
export type StateRule = 'allow' | 'KMSInvalidStateException' | 'DisabledException';

/** Operations that act on an existing key, grouped by how key state affects them. */
export const KEY_STATE_GROUPS = {
  /** Cryptographic operations: only an Enabled key works. */
  crypto: [
    'Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
    'GenerateDataKeyPairWithoutPlaintext', 'Sign', 'Verify', 'GenerateMac', 'VerifyMac', 'GetPublicKey', 'DeriveSharedSecret',
  ],
  /** Read-only management: every state. */
  read: ['DescribeKey', 'GetKeyPolicy', 'ListKeyPolicies', 'ListResourceTags', 'ListGrants', 'ListKeyRotations', 'GetKeyRotationStatus', 'DeleteAlias'],
  /** Enabling and disabling: not while pending deletion or import. */
  enableDisable: ['EnableKey', 'DisableKey'],
  /** Changes to a key that is not being deleted. */
  modify: ['UpdateKeyDescription', 'TagResource', 'UntagResource', 'PutKeyPolicy', 'CreateAlias', 'UpdateAlias', 'CreateGrant', 'RetireGrant', 'RevokeGrant'],
  scheduleDeletion: ['ScheduleKeyDeletion'],
  cancelDeletion: ['CancelKeyDeletion'],
} as const;

export type KeyStateOperation = (typeof KEY_STATE_GROUPS)[keyof typeof KEY_STATE_GROUPS][number];
type Group = keyof typeof KEY_STATE_GROUPS;

const I = 'KMSInvalidStateException' as const;
const RULES: Record<Group, Record<KeyState, StateRule>> = {
  crypto: { Enabled: 'allow', Disabled: 'DisabledException', PendingDeletion: I, PendingImport: I, PendingReplicaDeletion: I, Unavailable: I, Creating: I, Updating: I },
  read: { Enabled: 'allow', Disabled: 'allow', PendingDeletion: 'allow', PendingImport: 'allow', PendingReplicaDeletion: 'allow', Unavailable: 'allow', Creating: 'allow', Updating: 'allow' },
  enableDisable: { Enabled: 'allow', Disabled: 'allow', PendingDeletion: I, PendingImport: I, PendingReplicaDeletion: I, Unavailable: 'allow', Creating: I, Updating: I },
  modify: { Enabled: 'allow', Disabled: 'allow', PendingDeletion: I, PendingImport: 'allow', PendingReplicaDeletion: I, Unavailable: 'allow', Creating: I, Updating: I },
  scheduleDeletion: { Enabled: 'allow', Disabled: 'allow', PendingDeletion: I, PendingImport: 'allow', PendingReplicaDeletion: I, Unavailable: 'allow', Creating: I, Updating: I },
  cancelDeletion: { Enabled: I, Disabled: I, PendingDeletion: 'allow', PendingImport: I, PendingReplicaDeletion: 'allow', Unavailable: I, Creating: I, Updating: I },
};

const GROUP_OF = new Map<string, Group>(
  (Object.entries(KEY_STATE_GROUPS) as [Group, readonly string[]][]).flatMap(([g, ops]) => ops.map((op) => [op, g] as const)),
);

export function stateRule(operation: KeyStateOperation, state: KeyState): StateRule {
  const group = GROUP_OF.get(operation);
  if (!group) throw new Error(`operation ${operation} has no key-state rule`);
  return RULES[group][state];
}

/** The words AWS uses for a key that cannot be used in its current state. */
export function stateMessage(key: KeyRecord, operation: KeyStateOperation): string {
  if (operation === 'CancelKeyDeletion' && key.keyState !== 'PendingDeletion') return `${key.arn} is not pending deletion.`;
  switch (key.keyState) {
    case 'Disabled':
      return `${key.arn} is disabled.`;
    case 'PendingDeletion':
      return `${key.arn} is pending deletion.`;
    case 'PendingImport':
      return `${key.arn} is pending import.`;
    case 'PendingReplicaDeletion':
      return `${key.arn} is pending replica deletion.`;
    case 'Unavailable':
      return `${key.arn} is unavailable.`;
    case 'Creating':
      return `${key.arn} is being created.`;
    case 'Updating':
      return `${key.arn} is being updated.`;
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
