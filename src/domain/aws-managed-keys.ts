// AWS managed keys (developerguide/concepts.html#aws-managed-key): made for one integrated service in an account and
// region, named alias/aws/<service>, KeyManager AWS, rotated every year, with a key policy AWS writes and nobody can
// change. Trent makes them with `trent aws-managed-key create` (src/cli/aws-managed-key.ts).
import { accountRootArn, keyArn } from './arn.js';
import { KmsError } from './errors.js';
import type { KeyRepository } from './key-repository.js';
import { DAY_MS } from './rotation.js';
import { StorageDuplicateError, type Clock, type KeyRecord, type KeyStore, type RandomSource, type Scope } from './ports.js';

/** AWS managed keys rotate every year, a period nobody can change (developerguide/rotate-keys.html). */
export const AWS_MANAGED_ROTATION_DAYS = 365;

export const AWS_MANAGED_ALIAS_PREFIX = 'alias/aws/';

/** An integrated service as its AWS managed key shows it. */
export interface ManagedKeyService {
  /** The alias suffix: alias/aws/<alias>. */
  readonly alias: string;
  /** The endpoint name kms:ViaService carries: <via>.<region>.amazonaws.com. */
  readonly via: string;
  /** How the key policy's Sid names it: "Allow access through <display> for all principals in the account ...". */
  readonly display: string;
  /** The key policy's Id. */
  readonly policyId: string;
  /** What the description says the key protects: "Default key that protects my <protects> when no other key is defined". */
  readonly protects: string;
  /** The extra actions the first statement allows besides Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, DescribeKey. */
  readonly grants: readonly ('kms:CreateGrant' | 'kms:ListGrants')[];
}

/**
 * Services whose key policies and descriptions Trent writes exactly as AWS shows them for alias/aws/s3, ebs, rds and
 * lambda. Any other service name gets the common shape (CreateGrant allowed, named after the service, "<service>
 * data"): see docs/access-control.md.
 */
const KNOWN: readonly ManagedKeyService[] = [
  { alias: 's3', via: 's3', display: 'S3', policyId: 'auto-s3-2', protects: 'S3 objects', grants: [] },
  { alias: 'ebs', via: 'ec2', display: 'EBS', policyId: 'auto-ebs-2', protects: 'EBS volumes', grants: ['kms:CreateGrant'] },
  { alias: 'rds', via: 'rds', display: 'RDS', policyId: 'auto-rds-2', protects: 'RDS database volumes', grants: ['kms:CreateGrant', 'kms:ListGrants'] },
  { alias: 'lambda', via: 'lambda', display: 'AWS Lambda', policyId: 'auto-awslambda', protects: 'Lambda functions', grants: ['kms:CreateGrant'] },
];

/** A service name as alias/aws/<name> allows it. */
export const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

export function managedKeyService(name: string): ManagedKeyService {
  const known = KNOWN.find((s) => s.alias === name);
  if (known) return known;
  return { alias: name, via: name, display: name, policyId: `auto-${name}-2`, protects: `${name} data`, grants: ['kms:CreateGrant'] };
}

export const knownManagedKeyServices = (): readonly string[] => KNOWN.map((s) => s.alias);

/** The predefined AWS aliases, in byte order (the order ListAliases pages in). */
export const predefinedAliasNames = (): readonly string[] => KNOWN.map((s) => `${AWS_MANAGED_ALIAS_PREFIX}${s.alias}`).sort();

/**
 * A predefined AWS alias (API_DescribeKey: "an AWS alias with no key ID"), which DescribeKey associates with a new AWS
 * managed key: Trent predefines the aliases of the services whose key policy it writes exactly.
 */
export function predefinedAliasService(aliasName: string): string | undefined {
  if (!aliasName.startsWith(AWS_MANAGED_ALIAS_PREFIX)) return undefined;
  const name = aliasName.slice(AWS_MANAGED_ALIAS_PREFIX.length);
  return KNOWN.some((s) => s.alias === name) ? name : undefined;
}

export const isAwsManagedAlias = (aliasName: string): boolean => aliasName.startsWith(AWS_MANAGED_ALIAS_PREFIX);

/** "Default key that protects my S3 objects when no other key is defined" (the description AWS gives such keys). */
export function awsManagedKeyDescription(service: ManagedKeyService): string {
  return `Default key that protects my ${service.protects} when no other key is defined`;
}

/**
 * The key policy of an AWS managed key, statement for statement as AWS writes it: the
 * account's principals may use the key through the service only (kms:ViaService, kms:CallerAccount), and may read its
 * metadata directly. Nothing else is allowed, so every management operation is refused by the policy itself
 * (AccessDeniedException), as in AWS.
 */
export function awsManagedKeyPolicy(scope: Scope, service: ManagedKeyService): string {
  const who = `Allow access through ${service.display} for all principals in the account that are authorized to use ${service.display}`;
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: service.policyId,
      Statement: [
        {
          Sid: who,
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', ...service.grants, 'kms:DescribeKey'],
          Resource: '*',
          Condition: { StringEquals: { 'kms:CallerAccount': scope.account, 'kms:ViaService': `${service.via}.${scope.region}.amazonaws.com` } },
        },
        {
          Sid: 'Allow direct access to key metadata to the account',
          Effect: 'Allow',
          Principal: { AWS: accountRootArn(scope.account) },
          Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', ...(service.grants.length > 0 ? ['kms:RevokeGrant'] : [])],
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}

/** A new AWS managed key record (symmetric, Enabled, rotation every 365 days from creation). */
export function awsManagedKeyRecord(
  scope: Scope & { readonly keyId: string; readonly arn: string },
  service: ManagedKeyService,
  materialId: string,
  now: Date,
): KeyRecord {
  return {
    account: scope.account,
    region: scope.region,
    keyId: scope.keyId,
    arn: scope.arn,
    creationDate: now,
    description: awsManagedKeyDescription(service),
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    origin: 'AWS_KMS',
    keyManager: 'AWS',
    keyState: 'Enabled',
    currentMaterialId: materialId,
    multiRegion: false,
    policy: awsManagedKeyPolicy(scope, service),
    version: 1,
    rotationPeriodDays: AWS_MANAGED_ROTATION_DAYS,
    nextRotationDate: new Date(now.getTime() + AWS_MANAGED_ROTATION_DAYS * DAY_MS),
  };
}

export interface ManagedKeyServices {
  readonly keys: KeyRepository;
  readonly keystore: KeyStore;
  readonly random: RandomSource;
  readonly clock: Clock;
}

/**
 * The AWS managed key of `serviceName` in `scope`: the existing one (found through alias/aws/<service>), or a new one
 * (material made by the key store, the key, then its alias). Two concurrent creators: the one whose alias is written
 * first wins, the other deletes its own key and returns the winner's.
 */
export async function ensureAwsManagedKey(svc: ManagedKeyServices, scope: Scope, serviceName: string): Promise<{ key: KeyRecord; aliasName: string; created: boolean }> {
  if (!SERVICE_NAME.test(serviceName)) throw new KmsError('ValidationException', `"${serviceName}" is not a service name (lower-case letters, digits and dashes, as in alias/aws/s3)`);
  const service = managedKeyService(serviceName);
  const aliasName = `${AWS_MANAGED_ALIAS_PREFIX}${service.alias}`;
  const existing = await existingManagedKey(svc, scope, aliasName);
  if (existing) return { key: existing, aliasName, created: false };

  const keyId = svc.random.uuid();
  const arn = keyArn(scope, keyId);
  const materialId = svc.random.bytes(32).toString('hex');
  const material = await svc.keystore.createMaterial(arn, materialId, 'SYMMETRIC_DEFAULT');
  const now = svc.clock.now();
  const key = awsManagedKeyRecord({ account: scope.account, region: scope.region, keyId, arn }, service, materialId, now);
  await svc.keys.createKey(key, [material], []);
  try {
    await svc.keys.createAlias({ account: scope.account, region: scope.region, aliasName, targetKeyId: keyId, creationDate: now, lastUpdatedDate: now });
  } catch (err) {
    if (!(err instanceof StorageDuplicateError)) throw err;
    await svc.keys.deleteKey(key);
    const winner = await existingManagedKey(svc, scope, aliasName);
    if (!winner) throw err;
    return { key: winner, aliasName, created: false };
  }
  return { key, aliasName, created: true };
}

async function existingManagedKey(svc: ManagedKeyServices, scope: Scope, aliasName: string): Promise<KeyRecord | undefined> {
  const alias = await svc.keys.getAlias(scope, aliasName);
  return alias && (await svc.keys.getKey(scope, alias.targetKeyId));
}
