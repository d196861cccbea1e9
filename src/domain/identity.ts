import type { CompiledPolicy } from './policy/index.js';

/** Who is calling: established by auth/, used by operations/ and the authorizer. */
export interface CallerIdentity {
  readonly account: string;
  /** arn:aws:iam::<account>:root, :user/<name> or :role/<name>. */
  readonly principalArn: string;
  readonly accessKeyId: string;
  /**
   * The identity-based (IAM) policies that apply to the caller, compiled. Absent for an account's root principal,
   * which IAM lets do anything in its own account (the key policy still decides for keys).
   */
  readonly identityPolicies?: readonly CompiledPolicy[] | undefined;
}
