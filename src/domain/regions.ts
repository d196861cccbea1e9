/**
 * The Regions of the `aws` partition where KMS is offered (botocore's endpoint data for kms), the only partition Trent's
 * ARNs use (arn.ts PARTITION). ReplicateKey and UpdatePrimaryRegion accept only these: a replica must be "in the same
 * Amazon Web Services partition" (API_ReplicateKey ReplicaRegion).
 */
export const AWS_PARTITION_REGIONS: ReadonlySet<string> = new Set([
  'af-south-1', 'ap-east-1', 'ap-east-2', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-south-2',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7',
  'ca-central-1', 'ca-west-1', 'eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-2',
  'eu-west-3', 'il-central-1', 'me-central-1', 'me-south-1', 'mx-central-1', 'sa-east-1', 'us-east-1', 'us-east-2', 'us-west-1',
  'us-west-2',
]);
