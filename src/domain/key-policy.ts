import { accountRootArn } from './arn.js';
import { KmsError } from './errors.js';

/** The key policy AWS attaches when CreateKey is called without one (developerguide/key-policy-default.html). */
export function defaultKeyPolicy(account: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: accountRootArn(account) },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}

/** Structural checks on a key policy document; evaluation comes with the access-control issue. */
export function checkKeyPolicy(policy: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(policy);
  } catch {
    throw new KmsError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('Statement' in doc)) {
    throw new KmsError('MalformedPolicyDocumentException', 'Policy contains a statement with no principal or no statement.');
  }
  const statements = (doc as { Statement: unknown }).Statement;
  const list = Array.isArray(statements) ? statements : [statements];
  for (const st of list) {
    if (typeof st !== 'object' || st === null) throw new KmsError('MalformedPolicyDocumentException', 'Policy contains an invalid statement.');
    const s = st as Record<string, unknown>;
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new KmsError('MalformedPolicyDocumentException', 'Policy contains a statement with an invalid Effect.');
    if (!('Principal' in s) && !('NotPrincipal' in s)) throw new KmsError('MalformedPolicyDocumentException', 'Policy contains a statement with no principal.');
    if (!('Action' in s) && !('NotAction' in s)) throw new KmsError('MalformedPolicyDocumentException', 'Policy contains a statement with no action.');
  }
}
