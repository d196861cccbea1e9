import type { DataKeyPairSpec, KeySpec, OperationName } from '../model/kms-model.generated.js';
import { KmsError } from './errors.js';
import type { Scope } from './ports.js';

/**
 * AWS KMS request quotas, transcribed from the Developer Guide's "Request quotas" page (requests-per-second.html,
 * "Request quotas for each AWS KMS API operation"): each quota by its Service Quotas name without " request rate",
 * its default rate (requests per second) and, where AWS's default differs by Region, the Regions that differ.
 * A quota is counted per account and Region (cross-account requests count for the caller's account), except the custom
 * key store quota, which is counted per custom key store. docs/deployment.md#request-quotas says how to change them.
 */
export const AWS_REQUEST_QUOTAS = {
  // Shared by the cryptographic operations on symmetric encryption and HMAC keys (HMAC keys are symmetric: AWS counts
  // them here), and by GenerateRandom.
  'Cryptographic operations (symmetric)': {
    rate: 10_000,
    regions: {
      'us-east-2': 20_000, 'ap-southeast-1': 20_000, 'ap-southeast-2': 20_000, 'ap-northeast-1': 20_000, 'eu-central-1': 20_000, 'eu-west-2': 20_000,
      'us-east-1': 100_000, 'us-west-2': 100_000, 'eu-west-1': 100_000,
    },
  },
  'Cryptographic operations (RSA)': { rate: 1_000 },
  'Cryptographic operations (ML-DSA)': { rate: 1_000 },
  'Cryptographic operations (ECC and SM2)': { rate: 1_000 },
  /** Per custom key store (AWS CloudHSM and external key stores alike), on top of the account's symmetric quota. */
  'Custom key store': { rate: 1_800 },
  'GenerateDataKeyPair (ECC_NIST_P256)': { rate: 100 },
  'GenerateDataKeyPair (ECC_NIST_P384)': { rate: 100 },
  'GenerateDataKeyPair (ECC_NIST_P521)': { rate: 100 },
  'GenerateDataKeyPair (ECC_SECG_P256K1)': { rate: 100 },
  'GenerateDataKeyPair (ECC_NIST_EDWARDS25519)': { rate: 100 },
  'GenerateDataKeyPair (RSA_2048)': { rate: 20, regions: { 'cn-north-1': 1, 'cn-northwest-1': 1 } },
  'GenerateDataKeyPair (RSA_3072)': { rate: 4, regions: { 'cn-north-1': 0.5, 'cn-northwest-1': 0.5 } },
  'GenerateDataKeyPair (RSA_4096)': { rate: 1, regions: { 'cn-north-1': 0.1, 'cn-northwest-1': 0.1 } },
  /** AWS: "GenerateDataKeyPair (SM2 — China Regions only)"; Trent offers SM2 in every Region. */
  'GenerateDataKeyPair (SM2)': { rate: 25 },
  CancelKeyDeletion: { rate: 5 },
  ConnectCustomKeyStore: { rate: 5 },
  CreateAlias: { rate: 5 },
  CreateCustomKeyStore: { rate: 5 },
  CreateGrant: { rate: 50 },
  CreateKey: { rate: 5 },
  DeleteAlias: { rate: 15 },
  DeleteCustomKeyStore: { rate: 5 },
  DeleteImportedKeyMaterial: { rate: 15 },
  DescribeCustomKeyStores: { rate: 5 },
  DescribeKey: { rate: 2_000 },
  DisableKey: { rate: 5 },
  DisableKeyRotation: { rate: 5 },
  DisconnectCustomKeyStore: { rate: 5 },
  EnableKey: { rate: 5 },
  EnableKeyRotation: { rate: 15 },
  GetKeyLastUsage: { rate: 5 },
  GetKeyPolicy: { rate: 1_000 },
  GetKeyRotationStatus: { rate: 1_000 },
  GetParametersForImport: { rate: 1 },
  GetPublicKey: { rate: 2_000 },
  ImportKeyMaterial: { rate: 15 },
  ListAliases: { rate: 500 },
  ListGrants: { rate: 100 },
  ListKeyPolicies: { rate: 100 },
  ListKeys: { rate: 500 },
  ListKeyRotations: { rate: 100 },
  ListResourceTags: { rate: 2_000 },
  ListRetirableGrants: { rate: 100 },
  PutKeyPolicy: { rate: 15 },
  ReplicateKey: { rate: 5 },
  RetireGrant: { rate: 50 },
  RevokeGrant: { rate: 50 },
  RotateKeyOnDemand: { rate: 5 },
  ScheduleKeyDeletion: { rate: 15 },
  TagResource: { rate: 10 },
  UntagResource: { rate: 5 },
  UpdateAlias: { rate: 5 },
  UpdateCustomKeyStore: { rate: 5 },
  UpdateKeyDescription: { rate: 5 },
  UpdatePrimaryRegion: { rate: 5 },
} as const satisfies Record<string, { rate: number; regions?: Record<string, number> }>;

export type QuotaName = keyof typeof AWS_REQUEST_QUOTAS;
export const QUOTA_NAMES = Object.keys(AWS_REQUEST_QUOTAS) as readonly QuotaName[];

/** AWS's answer when a quota is exceeded (HTTP 400), as its SDKs print it. */
export const THROTTLED_MESSAGE = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';
export const throttled = (): KmsError => new KmsError('ThrottlingException', THROTTLED_MESSAGE);

const SYMMETRIC = 'Cryptographic operations (symmetric)';

/**
 * What a request of each operation counts toward:
 * - a quota name: that quota, known from the operation alone (checked before the input is validated);
 * - 'key': the cryptographic quota of the key's type (KEY_TYPE_QUOTA), once the key is resolved, and the custom key
 *   store quota when the key is in one;
 * - 'key pair': the quota of the requested KeyPairSpec (GenerateDataKeyPair*: AWS's one exception to the shared quotas).
 */
type Counted = QuotaName | 'key' | 'key pair';
export const OPERATION_QUOTA: Readonly<Record<OperationName, Counted>> = {
  CancelKeyDeletion: 'CancelKeyDeletion',
  ConnectCustomKeyStore: 'ConnectCustomKeyStore',
  CreateAlias: 'CreateAlias',
  CreateCustomKeyStore: 'CreateCustomKeyStore',
  CreateGrant: 'CreateGrant',
  CreateKey: 'CreateKey',
  Decrypt: 'key',
  DeleteAlias: 'DeleteAlias',
  DeleteCustomKeyStore: 'DeleteCustomKeyStore',
  DeleteImportedKeyMaterial: 'DeleteImportedKeyMaterial',
  DeriveSharedSecret: 'key',
  DescribeCustomKeyStores: 'DescribeCustomKeyStores',
  DescribeKey: 'DescribeKey',
  DisableKey: 'DisableKey',
  DisableKeyRotation: 'DisableKeyRotation',
  DisconnectCustomKeyStore: 'DisconnectCustomKeyStore',
  EnableKey: 'EnableKey',
  EnableKeyRotation: 'EnableKeyRotation',
  Encrypt: 'key',
  GenerateDataKey: 'key',
  GenerateDataKeyPair: 'key pair',
  GenerateDataKeyPairWithoutPlaintext: 'key pair',
  GenerateDataKeyWithoutPlaintext: 'key',
  GenerateMac: 'key',
  // No key: the symmetric quota (and the custom key store quota when it names one, counted by the operation).
  GenerateRandom: SYMMETRIC,
  GetKeyLastUsage: 'GetKeyLastUsage',
  GetKeyPolicy: 'GetKeyPolicy',
  GetKeyRotationStatus: 'GetKeyRotationStatus',
  GetParametersForImport: 'GetParametersForImport',
  GetPublicKey: 'GetPublicKey',
  ImportKeyMaterial: 'ImportKeyMaterial',
  ListAliases: 'ListAliases',
  ListGrants: 'ListGrants',
  ListKeyPolicies: 'ListKeyPolicies',
  ListKeyRotations: 'ListKeyRotations',
  ListKeys: 'ListKeys',
  ListResourceTags: 'ListResourceTags',
  ListRetirableGrants: 'ListRetirableGrants',
  PutKeyPolicy: 'PutKeyPolicy',
  ReEncrypt: 'key',
  ReplicateKey: 'ReplicateKey',
  RetireGrant: 'RetireGrant',
  RevokeGrant: 'RevokeGrant',
  RotateKeyOnDemand: 'RotateKeyOnDemand',
  ScheduleKeyDeletion: 'ScheduleKeyDeletion',
  Sign: 'key',
  TagResource: 'TagResource',
  UntagResource: 'UntagResource',
  UpdateAlias: 'UpdateAlias',
  UpdateCustomKeyStore: 'UpdateCustomKeyStore',
  UpdateKeyDescription: 'UpdateKeyDescription',
  UpdatePrimaryRegion: 'UpdatePrimaryRegion',
  Verify: 'key',
  VerifyMac: 'key',
};

/** The shared cryptographic quota of each key type. */
export const KEY_TYPE_QUOTA: Readonly<Record<KeySpec, QuotaName>> = {
  SYMMETRIC_DEFAULT: SYMMETRIC,
  HMAC_224: SYMMETRIC,
  HMAC_256: SYMMETRIC,
  HMAC_384: SYMMETRIC,
  HMAC_512: SYMMETRIC,
  RSA_2048: 'Cryptographic operations (RSA)',
  RSA_3072: 'Cryptographic operations (RSA)',
  RSA_4096: 'Cryptographic operations (RSA)',
  ML_DSA_44: 'Cryptographic operations (ML-DSA)',
  ML_DSA_65: 'Cryptographic operations (ML-DSA)',
  ML_DSA_87: 'Cryptographic operations (ML-DSA)',
  ECC_NIST_P256: 'Cryptographic operations (ECC and SM2)',
  ECC_NIST_P384: 'Cryptographic operations (ECC and SM2)',
  ECC_NIST_P521: 'Cryptographic operations (ECC and SM2)',
  ECC_SECG_P256K1: 'Cryptographic operations (ECC and SM2)',
  ECC_NIST_EDWARDS25519: 'Cryptographic operations (ECC and SM2)',
  SM2: 'Cryptographic operations (ECC and SM2)',
};

const KEY_PAIR_QUOTA: Readonly<Record<DataKeyPairSpec, QuotaName>> = {
  RSA_2048: 'GenerateDataKeyPair (RSA_2048)',
  RSA_3072: 'GenerateDataKeyPair (RSA_3072)',
  RSA_4096: 'GenerateDataKeyPair (RSA_4096)',
  ECC_NIST_P256: 'GenerateDataKeyPair (ECC_NIST_P256)',
  ECC_NIST_P384: 'GenerateDataKeyPair (ECC_NIST_P384)',
  ECC_NIST_P521: 'GenerateDataKeyPair (ECC_NIST_P521)',
  ECC_SECG_P256K1: 'GenerateDataKeyPair (ECC_SECG_P256K1)',
  ECC_NIST_EDWARDS25519: 'GenerateDataKeyPair (ECC_NIST_EDWARDS25519)',
  SM2: 'GenerateDataKeyPair (SM2)',
};

/** Rates that replace AWS's defaults: quota name → requests per second; 0 lifts that quota. */
export type QuotaOverrides = Readonly<Partial<Record<QuotaName, number>>>;

/**
 * A token bucket: `rate` tokens a second, holding at most one second's worth (at least one token), full at the start.
 * So a quota of N admits N requests in any one-second interval, as AWS counts them, and a burst no larger.
 */
class Bucket {
  #tokens: number;
  #at: number;
  readonly #capacity: number;
  constructor(
    readonly rate: number,
    now: number,
  ) {
    this.#capacity = Math.max(1, rate);
    this.#tokens = this.#capacity;
    this.#at = now;
  }

  /** Refills for the time passed; true when a whole token is there (not taken). */
  ready(now: number): boolean {
    if (now > this.#at) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#at) * this.rate) / 1000);
      this.#at = now;
    }
    return this.#tokens >= 1;
  }

  take(): void {
    this.#tokens -= 1;
  }
}

const UNLIMITED = 0;
const QUOTA_INDEX = new Map<QuotaName, number>(QUOTA_NAMES.map((n, i) => [n, i]));
const indexOf = (name: QuotaName): number => QUOTA_INDEX.get(name)!;

/**
 * The request quotas of one node: a token bucket per (account, Region, quota) and per custom key store, made lazily.
 * Made in main.ts (it holds state); `now` is a monotonic clock in milliseconds. A check is two map lookups and
 * arithmetic: no allocation once an account's buckets exist.
 */
export class RequestQuotas {
  readonly #now: () => number;
  readonly #overrides: QuotaOverrides;
  /** account → Region → bucket by quota index (undefined until first used; null when the quota is lifted). */
  readonly #accounts = new Map<string, Map<string, (Bucket | null | undefined)[]>>();
  readonly #stores = new Map<string, Bucket | null>();

  constructor(overrides: QuotaOverrides, now: () => number) {
    this.#overrides = overrides;
    this.#now = now;
  }

  /** The rate of a quota in a Region: the override, else AWS's default for that Region. */
  rate(name: QuotaName, region: string): number {
    const override = this.#overrides[name];
    if (override !== undefined) return override;
    const q: { rate: number; regions?: Readonly<Record<string, number>> } = AWS_REQUEST_QUOTAS[name];
    return q.regions?.[region] ?? q.rate;
  }

  /**
   * Before the input is parsed: the quota an operation counts toward by itself (management operations, GenerateRandom)
   * or by its KeyPairSpec. Operations counted by their key are left to `admitKey`. ThrottlingException when exceeded.
   */
  admitOperation(scope: Scope, operation: OperationName, body: unknown): void {
    const counted = OPERATION_QUOTA[operation];
    if (counted === 'key') return;
    let name: QuotaName;
    if (counted === 'key pair') {
      const spec = typeof body === 'object' && body !== null ? (body as { KeyPairSpec?: unknown }).KeyPairSpec : undefined;
      const quota = typeof spec === 'string' ? KEY_PAIR_QUOTA[spec as DataKeyPairSpec] : undefined;
      if (quota === undefined) return; // no valid KeyPairSpec: validation answers
      name = quota;
    } else {
      name = counted;
    }
    const bucket = this.#bucket(scope, indexOf(name));
    if (bucket !== null && !bucket.ready(this.#now())) throw throttled();
    bucket?.take();
  }

  /**
   * Once the key of a cryptographic operation is resolved: the shared quota of its key type in the caller's account and
   * Region, and the quota of its custom key store. Nothing for operations counted by `admitOperation`.
   */
  admitKey(scope: Scope, operation: OperationName, key: { readonly keySpec: KeySpec; readonly customKeyStoreId?: string | undefined }): void {
    if (OPERATION_QUOTA[operation] !== 'key') return;
    const now = this.#now();
    const bucket = this.#bucket(scope, indexOf(KEY_TYPE_QUOTA[key.keySpec]));
    const store = key.customKeyStoreId === undefined ? null : this.#store(key.customKeyStoreId);
    if ((bucket !== null && !bucket.ready(now)) || (store !== null && !store.ready(now))) throw throttled();
    bucket?.take();
    store?.take();
  }

  /** GenerateRandom from a custom key store: that store's quota too. */
  admitCustomKeyStore(customKeyStoreId: string): void {
    const store = this.#store(customKeyStoreId);
    if (store === null) return;
    if (!store.ready(this.#now())) throw throttled();
    store.take();
  }

  #bucket(scope: Scope, index: number): Bucket | null {
    let regions = this.#accounts.get(scope.account);
    if (regions === undefined) this.#accounts.set(scope.account, (regions = new Map()));
    let buckets = regions.get(scope.region);
    if (buckets === undefined) regions.set(scope.region, (buckets = new Array(QUOTA_NAMES.length)));
    let bucket = buckets[index];
    if (bucket === undefined) {
      const rate = this.rate(QUOTA_NAMES[index]!, scope.region);
      bucket = buckets[index] = rate === UNLIMITED ? null : new Bucket(rate, this.#now());
    }
    return bucket;
  }

  #store(id: string): Bucket | null {
    let bucket = this.#stores.get(id);
    if (bucket === undefined) {
      // Custom key store quotas do not vary by Region.
      const rate = this.#overrides['Custom key store'] ?? AWS_REQUEST_QUOTAS['Custom key store'].rate;
      bucket = rate === UNLIMITED ? null : new Bucket(rate, this.#now());
      this.#stores.set(id, bucket);
    }
    return bucket;
  }
}
