import type { GrantListEntry } from '../../model/kms-model.generated.js';
import { KmsError } from '../../domain/errors.js';
import { GRANT_ID, type GrantRecord } from '../../domain/grants.js';
import type { ResolveOptions } from '../common.js';

/** CreateGrant, ListGrants, RetireGrant, RevokeGrant: key ID or key ARN; a key of another account by its ARN. */
export const GRANT_KEY: ResolveOptions = { aliases: false, crossAccount: true };

export function checkGrantId(grantId: string): void {
  if (!GRANT_ID.test(grantId)) throw new KmsError('InvalidGrantIdException', `Invalid grant ID: ${grantId}`);
}

export const grantNotFound = (grantId: string): KmsError => new KmsError('NotFoundException', `Grant ID ${grantId} not found`);

export function grantListEntry(g: GrantRecord): GrantListEntry {
  const c = g.constraints;
  return {
    KeyId: g.keyArn,
    GrantId: g.grantId,
    ...(g.name !== undefined && { Name: g.name }),
    CreationDate: g.creationDate,
    GranteePrincipal: g.granteePrincipal,
    ...(g.retiringPrincipal !== undefined && { RetiringPrincipal: g.retiringPrincipal }),
    IssuingAccount: g.issuingAccount,
    Operations: [...g.operations],
    ...(c && {
      Constraints: {
        ...(c.encryptionContextEquals && { EncryptionContextEquals: { ...c.encryptionContextEquals } }),
        ...(c.encryptionContextSubset && { EncryptionContextSubset: { ...c.encryptionContextSubset } }),
      },
    }),
  };
}
