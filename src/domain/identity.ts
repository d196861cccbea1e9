/** Who is calling: established by auth/, used by operations/ and the authorizer. */
export interface CallerIdentity {
  readonly account: string;
  readonly principalArn: string;
  readonly accessKeyId: string;
}
