import { aliasArn, parseKeyReference } from '../../domain/arn.js';
import { KmsError, validationError } from '../../domain/errors.js';
import type { AliasRecord, Scope } from '../../domain/ports.js';
import type { AliasListEntry } from '../../model/kms-model.generated.js';

/** AWS quota "Aliases per KMS key" (developerguide/resource-limits.html). */
export const MAX_ALIASES_PER_KEY = 50;

/**
 * Alias-name rules beyond the model's 1–256 characters of [a-zA-Z0-9:/_-]: the `alias/` prefix, a name after it,
 * no `:` (API_CreateAlias: "alphanumeric characters, forward slashes (/), underscores (_), and dashes (-)"), and
 * `alias/aws/` reserved for AWS managed keys.
 */
export function checkAliasName(name: string): void {
  if (!name.startsWith('alias/')) {
    throw validationError('Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html');
  }
  if (name.startsWith('alias/aws/')) {
    throw new KmsError('NotAuthorizedException', 'The alias/aws/ prefix is reserved for AWS managed keys.');
  }
  if (name === 'alias/') throw new KmsError('InvalidAliasNameException', 'Alias name must not be empty after the prefix "alias/".');
  if (name.includes(':')) throw validationError(`${name} contains invalid characters for an alias`);
}

/** An alias points at a key, never at another alias (API_CreateAlias TargetKeyId: key ID or key ARN). */
export function refuseAliasTarget(targetKeyId: string): void {
  const ref = parseKeyReference(targetKeyId);
  if (ref && (ref.kind === 'aliasName' || ref.kind === 'aliasArn')) throw validationError('Aliases must refer to keys. Not aliases');
}

export function notFound(scope: Scope, aliasName: string): KmsError {
  return new KmsError('NotFoundException', `Alias ${aliasArn(scope, aliasName)} is not found.`);
}

export function limitExceeded(keyArn: string): KmsError {
  return new KmsError('LimitExceededException', `The KMS key ${keyArn} already has the maximum number of aliases (${MAX_ALIASES_PER_KEY}).`);
}

export function aliasListEntry(alias: AliasRecord): AliasListEntry {
  return {
    AliasName: alias.aliasName,
    AliasArn: aliasArn(alias, alias.aliasName),
    TargetKeyId: alias.targetKeyId,
    CreationDate: alias.creationDate,
    LastUpdatedDate: alias.lastUpdatedDate,
  };
}
