import type { Scope } from './ports.js';

export const PARTITION = 'aws';

export const keyArn = (scope: Scope, keyId: string): string => `arn:${PARTITION}:kms:${scope.region}:${scope.account}:key/${keyId}`;
export const aliasArn = (scope: Scope, aliasName: string): string =>
  `arn:${PARTITION}:kms:${scope.region}:${scope.account}:${aliasName}`;
export const accountRootArn = (account: string): string => `arn:${PARTITION}:iam::${account}:root`;

/** A key identifier in one of the four forms AWS accepts. */
export type KeyReference =
  | { readonly kind: 'keyId'; readonly keyId: string }
  | { readonly kind: 'keyArn'; readonly scope: Scope; readonly keyId: string }
  | { readonly kind: 'aliasName'; readonly aliasName: string }
  | { readonly kind: 'aliasArn'; readonly scope: Scope; readonly aliasName: string };

const KEY_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const ARN = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):(.+)$/;

/** Parses a KeyId parameter; undefined when it is in none of the accepted forms. */
export function parseKeyReference(value: string): KeyReference | undefined {
  if (value.startsWith('arn:')) {
    const m = ARN.exec(value);
    if (!m) return undefined;
    const scope: Scope = { region: m[2]!, account: m[3]! };
    const resource = m[4]!;
    if (resource.startsWith('key/')) {
      const keyId = resource.slice(4);
      return KEY_ID.test(keyId) ? { kind: 'keyArn', scope, keyId } : undefined;
    }
    if (resource.startsWith('alias/')) return { kind: 'aliasArn', scope, aliasName: resource };
    return undefined;
  }
  if (value.startsWith('alias/')) return { kind: 'aliasName', aliasName: value };
  return KEY_ID.test(value) ? { kind: 'keyId', keyId: value } : undefined;
}

export function isKeyId(value: string): boolean {
  return KEY_ID.test(value);
}
