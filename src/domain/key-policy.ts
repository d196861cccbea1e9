import { accountRootArn } from './arn.js';
import { KmsError } from './errors.js';
import { compilePolicy } from './policy/index.js';

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

/** AWS's key policy size quota: 32 KiB (API_PutKeyPolicy: "The policy size limit is 32 KiB (32768 bytes)"). */
export const MAX_KEY_POLICY_BYTES = 32_768;

/** Validates a key policy document as CreateKey and PutKeyPolicy do: size, then the policy language (policy/document.ts). */
export function checkKeyPolicy(policy: string): void {
  const size = Buffer.byteLength(policy, 'utf8');
  // Trent's wording: AWS documents the quota, not the message.
  if (size > MAX_KEY_POLICY_BYTES) throw new KmsError('LimitExceededException', `The key policy is ${size} bytes; the limit is ${MAX_KEY_POLICY_BYTES} bytes.`);
  compilePolicy(policy);
}
