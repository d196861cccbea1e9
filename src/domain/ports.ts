// Interfaces the domain needs from the outside world. Adapters (storage, keystores, clock, randomness)
// implement them and are wired together in src/main.ts only.
import type { AuditAnchor } from './audit-chain.js';
export type { AuditAnchor } from './audit-chain.js';
import type { ConnectionErrorCodeType, CustomKeyStoreType, GrantOperation, ExpirationModelType, KeyManagerType, KeySpec, KeyState, KeyUsageType, OriginType, RotationType } from '../model/kms-model.generated.js';
import type { HmacHash } from '../crypto/hmac.js';
import type { AsymmetricCipher } from '../crypto/asymmetric-cipher.js';
import type { PeerPublicKey } from '../crypto/ecdh.js';
import type { WrappingAlgorithm, WrappingKeyParams } from '../crypto/key-import.js';
import type { SecretBytes } from '../crypto/secret-bytes.js';
import type { SignatureScheme } from '../crypto/signatures.js';
import type { IdentityPolicyRecord, PrincipalRecord } from './principals.js';

export interface Clock {
  now(): Date;
}

export interface RandomSource {
  bytes(n: number): Buffer;
  uuid(): string;
}

/** Every key, alias and tag belongs to one account in one region. */
export interface Scope {
  readonly account: string;
  readonly region: string;
}

export interface KeyRecord {
  readonly account: string;
  readonly region: string;
  readonly keyId: string;
  readonly arn: string;
  readonly creationDate: Date;
  readonly description: string;
  readonly keyUsage: KeyUsageType;
  readonly keySpec: KeySpec;
  readonly origin: OriginType;
  readonly keyManager: KeyManagerType;
  readonly keyState: KeyState;
  /** Set while PendingDeletion. */
  readonly deletionDate?: Date | undefined;
  readonly currentMaterialId?: string | undefined;
  readonly multiRegion: boolean;
  /** The key policy document, as the caller gave it (JSON text). */
  readonly policy: string;
  /** Optimistic-concurrency counter: incremented by every update. */
  readonly version: number;
  /** Automatic rotation: the period in days, set (with nextRotationDate) while automatic rotation is enabled. */
  readonly rotationPeriodDays?: number | undefined;
  /** When the rotation job rotates the key next (while rotation is enabled). */
  readonly nextRotationDate?: Date | undefined;
  /** On-demand rotations performed so far (AWS allows a fixed number per key); absent: none. */
  readonly onDemandRotations?: number | undefined;
  /** Keys in a custom key store (origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE): the store's id. Set at creation, never changed. */
  readonly customKeyStoreId?: string | undefined;
  /** Keys in an external key store: the external key's id in the XKS proxy (CreateKey XksKeyId). Never changed. */
  readonly xksKeyId?: string | undefined;
  /**
   * Multi-Region keys (docs/multi-region.md): the Region of the current primary key. Every related key (same account,
   * same `mrk-` key id, one per Region) holds it, and UpdatePrimaryRegion changes all of them in one transaction.
   */
  readonly primaryRegion?: string | undefined;
  /**
   * A transient state (Creating, Updating) or PendingReplicaDeletion: the state the key goes to and when (clock time);
   * the node that made the change completes it then, or the scheduler's transition job after a crash.
   */
  readonly transitionState?: KeyState | undefined;
  readonly transitionDate?: Date | undefined;
  /** PendingReplicaDeletion: the waiting period that begins when the last replica is deleted (KeyMetadata PendingDeletionWindowInDays). */
  readonly pendingDeletionWindowInDays?: number | undefined;
}

/** An EXTERNAL_KEY_STORE's proxy settings (CreateCustomKeyStore's Xks* parameters). */
export interface XksProxySettings {
  /** https://host (no path; the model allows no port: Trent's xksProxyPort config decides it, default 443). */
  readonly uriEndpoint: string;
  /** The URI path prefix, ending in /kms/xks/v1. */
  readonly uriPath: string;
  readonly connectivity: 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE';
  readonly accessKeyId: string;
  /** The raw secret access key, wrapped under the root key for this store (never returned, logged or audited). */
  readonly secretWrapped: Buffer;
}

/**
 * The connection state a custom key store keeps in storage. CONNECTING and DISCONNECTING are not stored: Trent
 * connects and disconnects within the request, and shows them only while that is under way (DescribeCustomKeyStores).
 */
export type StoredConnectionState = 'CONNECTED' | 'DISCONNECTED' | 'FAILED';

/** A custom key store (CreateCustomKeyStore). AWS_CLOUDHSM: a PKCS#11 token named by a configured cluster id. */
export interface CustomKeyStoreRecord {
  readonly account: string;
  readonly region: string;
  readonly customKeyStoreId: string;
  readonly name: string;
  readonly type: CustomKeyStoreType;
  readonly cloudHsmClusterId?: string | undefined;
  /** PEM, as the caller gave it. */
  readonly trustAnchorCertificate?: string | undefined;
  /** The key store password (the token's user PIN), wrapped under the root key. */
  readonly passwordWrapped?: Buffer | undefined;
  /** EXTERNAL_KEY_STORE: the proxy. */
  readonly xks?: XksProxySettings | undefined;
  readonly connectionState: StoredConnectionState;
  /** Set with FAILED: why the last connection attempt failed. */
  readonly connectionErrorCode?: ConnectionErrorCodeType | undefined;
  readonly creationDate: Date;
  /** Optimistic-concurrency counter: incremented by every update. */
  readonly version: number;
}

/** Key material, wrapped under the root key: the only form in which it is ever stored. */
export interface MaterialRecord {
  readonly keyArn: string;
  readonly materialId: string;
  readonly wrapped: Buffer;
  readonly createdAt: Date;
  /** How the material came to be: absent for a key's first material, else the kind of rotation that made it (at createdAt). */
  readonly rotationType?: RotationType | undefined;
  /**
   * Imported material (origin EXTERNAL) only. An erased material (expired, or DeleteImportedKeyMaterial) keeps its row
   * with an EMPTY `wrapped`: its id and import fields stay, so that the same material can be imported again.
   */
  readonly expirationModel?: ExpirationModelType | undefined;
  /** When the imported material expires (expirationModel KEY_MATERIAL_EXPIRES). */
  readonly validTo?: Date | undefined;
  readonly description?: string | undefined;
  /** Imported with ImportType NEW_KEY_MATERIAL and not yet made current by RotateKeyOnDemand. */
  readonly pendingRotation?: boolean | undefined;
}

/** Whether imported material was erased (expired or deleted): its row stays, its wrapped bytes are gone. */
export const isErased = (m: MaterialRecord): boolean => m.wrapped.length === 0;

export interface AliasRecord {
  readonly account: string;
  readonly region: string;
  readonly aliasName: string;
  readonly targetKeyId: string;
  readonly creationDate: Date;
  readonly lastUpdatedDate: Date;
}

export interface TagRecord {
  readonly key: string;
  readonly value: string;
}

/** Grant constraints as stored: at most one of the two (Trent refuses both at once). */
export interface GrantConstraintsRecord {
  readonly encryptionContextEquals?: Readonly<Record<string, string>> | undefined;
  readonly encryptionContextSubset?: Readonly<Record<string, string>> | undefined;
}

/** One grant on one key (KMS Developer Guide, "Grants in AWS KMS"). */
export interface GrantRecord {
  readonly keyArn: string;
  /** The key's account and region. */
  readonly account: string;
  readonly region: string;
  /** 64 lowercase hex characters, as AWS's. */
  readonly grantId: string;
  readonly name?: string | undefined;
  readonly granteePrincipal: string;
  readonly retiringPrincipal?: string | undefined;
  /** arn:aws:iam::<account>:root of the account that created the grant. */
  readonly issuingAccount: string;
  readonly operations: readonly GrantOperation[];
  readonly constraints?: GrantConstraintsRecord | undefined;
  readonly creationDate: Date;
}

export interface AccessKeyRecord {
  readonly accessKeyId: string;
  readonly account: string;
  readonly principalArn: string;
  /** The secret access key, wrapped under the root key. */
  readonly secretWrapped: Buffer;
  readonly createdAt: Date;
}

export interface Page<T> {
  readonly items: T[];
  /** Opaque continuation: the sort key of the last item when more items follow. */
  readonly next?: string | undefined;
}

/** Raised by a storage adapter when a compare-and-set update loses to a concurrent writer. */
export class StorageConflictError extends Error {
  constructor(what: string) {
    super(`concurrent update of ${what}`);
    this.name = 'StorageConflictError';
  }
}

/** Raised by a storage adapter when an insert collides with an existing row. */
export class StorageDuplicateError extends Error {
  constructor(what: string) {
    super(`${what} already exists`);
    this.name = 'StorageDuplicateError';
  }
}

/** Raised by a storage adapter when a write would exceed a per-key quota it was asked to enforce; nothing is written. */
export class StorageLimitError extends Error {
  constructor(what: string) {
    super(`${what} limit exceeded`);
    this.name = 'StorageLimitError';
  }
}

/**
 * Raised by a storage adapter when the store cannot be reached or does not answer in time, so the request could not
 * be served: `unreachable` (connection refused, server starting or shutting down, no connection slot), `timeout` (no
 * connection or no answer within the adapter's bound), `connection-lost` (the connection broke while a statement was
 * in flight: a write may or may not have committed). The protocol layer turns it into an AWS exception.
 */
export class StorageUnavailableError extends Error {
  constructor(
    readonly reason: 'unreachable' | 'timeout' | 'connection-lost',
    detail: string,
  ) {
    super(`store unavailable (${reason}): ${detail}`);
    this.name = 'StorageUnavailableError';
  }
}

/**
 * Durable state. Every method is atomic: a multi-row change commits whole or not at all.
 * Both backends (SQLite, PostgreSQL) pass the contract suite in test/contract.
 */
export interface Storage {
  migrate(): Promise<void>;
  close(): Promise<void>;

  insertKey(key: KeyRecord, materials: readonly MaterialRecord[], tags: readonly TagRecord[]): Promise<void>;
  getKey(scope: Scope, keyId: string): Promise<KeyRecord | undefined>;
  /** Writes `key` if the stored version equals `key.version`; returns the stored record (version + 1). */
  updateKey(key: KeyRecord): Promise<KeyRecord>;
  /** Keys of a scope ordered by key id, starting after `after`. */
  listKeys(scope: Scope, limit: number, after?: string): Promise<Page<KeyRecord>>;
  /**
   * Rotation: writes `key` (with its new currentMaterialId) if the stored version equals `key.version`, and inserts
   * `material`, in one transaction; StorageConflictError (nothing written) if the version moved. Returns the stored key.
   */
  rotateKey(key: KeyRecord, material: MaterialRecord): Promise<KeyRecord>;
  /** Enabled keys with automatic rotation enabled whose next rotation date is at or before `now`, in any scope. */
  listKeysDueForRotation(now: Date, limit: number): Promise<KeyRecord[]>;
  /** The related keys of a multi-Region key (same account and key id, every Region), ordered by creation date then Region. */
  getRelatedKeys(account: string, keyId: string): Promise<KeyRecord[]>;
  /**
   * Writes every key of `keys` if each stored version equals its `version`, and inserts or replaces every material of
   * `materials` (by key ARN and material id), in one transaction; StorageConflictError (nothing written) if any version
   * moved. Returns the stored keys (version + 1), in order. (Multi-Region keys: a change to every related key at once.)
   */
  updateKeys(keys: readonly KeyRecord[], materials: readonly MaterialRecord[]): Promise<KeyRecord[]>;
  /** Keys with a transition (transitionDate) at or before `now`, in any scope, oldest first. */
  listKeysInTransition(now: Date, limit: number): Promise<KeyRecord[]>;
  /** Keys in PendingDeletion whose deletion date is at or before `now`, in any scope. */
  listKeysDueForDeletion(now: Date, limit: number): Promise<KeyRecord[]>;
  /**
   * Deletes the key with its materials, aliases, tags and grants, in one transaction. With `version`, only if the stored key
   * still has that version (compare-and-delete). Returns whether a key was deleted.
   */
  deleteKey(scope: Scope, keyId: string, version?: number): Promise<boolean>;

  getMaterials(keyArn: string): Promise<MaterialRecord[]>;
  /**
   * Import: writes `key` if the stored version equals `key.version` and inserts `material`, or replaces the stored
   * material of that id (wrapped bytes, import fields, createdAt, rotationType), in one transaction; StorageConflictError
   * (nothing written) if the version moved. Returns the stored key.
   */
  putMaterial(key: KeyRecord, material: MaterialRecord): Promise<KeyRecord>;
  /**
   * Cryptographic erasure of imported material: writes `key` (compare-and-set as putMaterial) and replaces the wrapped
   * bytes of the named materials with nothing, in one transaction; the rows (ids, import fields) stay. The old bytes
   * must not stay readable in the store's files (SQLite: secure_delete and a WAL checkpoint). Returns the stored key.
   */
  eraseMaterials(key: KeyRecord, materialIds: readonly string[]): Promise<KeyRecord>;
  /** Imported materials not yet erased whose validTo is at or before `now`, in any scope, oldest validTo first. */
  listMaterialsDueForExpiry(now: Date, limit: number): Promise<MaterialRecord[]>;

  /** Throws StorageDuplicateError if the name is taken, StorageLimitError if the target would get more than `maxPerTarget` aliases. */
  insertAlias(alias: AliasRecord, maxPerTarget?: number): Promise<void>;
  getAlias(scope: Scope, aliasName: string): Promise<AliasRecord | undefined>;
  /** Points an existing alias at another key; false if the alias does not exist. StorageLimitError as insertAlias. */
  updateAlias(scope: Scope, aliasName: string, targetKeyId: string, at: Date, maxPerTarget?: number): Promise<boolean>;
  deleteAlias(scope: Scope, aliasName: string): Promise<boolean>;
  /** Aliases of a scope ordered by name (optionally of one key), starting after `after`. */
  listAliases(scope: Scope, limit: number, after?: string, targetKeyId?: string): Promise<Page<AliasRecord>>;
  countAliases(scope: Scope, targetKeyId: string): Promise<number>;

  getTags(keyArn: string): Promise<TagRecord[]>;
  /** Adds or overwrites tags; StorageLimitError (nothing written) if the key would end up with more than `maxTags`. */
  putTags(keyArn: string, tags: readonly TagRecord[], maxTags?: number): Promise<void>;
  removeTags(keyArn: string, tagKeys: readonly string[]): Promise<void>;

  /**
   * Inserts a grant; StorageLimitError (nothing written) if its key would get more than `limits.perKey` grants, or its
   * grantee principal more than `limits.perGrantee` grants on the key.
   */
  insertGrant(grant: GrantRecord, limits?: { readonly perKey: number; readonly perGrantee: number }): Promise<void>;
  getGrant(keyArn: string, grantId: string): Promise<GrantRecord | undefined>;
  /** Every grant of a key, ordered by grant id (the grant cache loads a key's grants at once). */
  getGrants(keyArn: string): Promise<GrantRecord[]>;
  /** Grants of a key ordered by grant id, starting after `after`, optionally only one grant id or one grantee principal. */
  listGrants(keyArn: string, limit: number, after?: string, filter?: { readonly grantId?: string; readonly granteePrincipal?: string }): Promise<Page<GrantRecord>>;
  /**
   * Grants in a region (on keys of any account) whose retiring principal is `retiringPrincipal`, ordered by key ARN
   * then grant id; `after` and `next` are "<key ARN> <grant id>".
   */
  listRetirableGrants(region: string, retiringPrincipal: string, limit: number, after?: string): Promise<Page<GrantRecord>>;
  /** Deletes one grant; false if it was not there. */
  deleteGrant(keyArn: string, grantId: string): Promise<boolean>;
  /**
   * Throws StorageDuplicateError if the scope has a store of that name (or of that CloudHSM cluster id), StorageLimitError
   * (nothing written) if the scope would get more than `maxPerScope` stores.
   */
  insertCustomKeyStore(store: CustomKeyStoreRecord, maxPerScope: number): Promise<void>;
  getCustomKeyStore(scope: Scope, customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined>;
  /** CONNECTED custom key stores of every scope (a node opens their HSMs when it starts), at most `limit`. */
  listConnectedCustomKeyStores(limit: number): Promise<CustomKeyStoreRecord[]>;
  /** Custom key stores of a scope ordered by id, starting after `after`. */
  listCustomKeyStores(scope: Scope, limit: number, after?: string): Promise<Page<CustomKeyStoreRecord>>;
  /** Compare-and-set on `store.version` (StorageConflictError); StorageDuplicateError if the new name is taken. Returns the stored record. */
  updateCustomKeyStore(store: CustomKeyStoreRecord): Promise<CustomKeyStoreRecord>;
  /**
   * Deletes the store if it has that version and no key refers to it, atomically (a key created concurrently wins):
   * `has-keys` (nothing deleted), `not-found`, or StorageConflictError if the version moved.
   */
  deleteCustomKeyStore(scope: Scope, customKeyStoreId: string, version: number): Promise<'deleted' | 'has-keys' | 'not-found'>;

  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  insertAccessKey(record: AccessKeyRecord): Promise<void>;
  /** Access keys of an account or of one principal (or all), ordered by access key id. */
  listAccessKeys(filter?: { readonly account?: string; readonly principalArn?: string }): Promise<AccessKeyRecord[]>;
  /** Returns whether it existed. */
  deleteAccessKey(accessKeyId: string): Promise<boolean>;

  // Principals (users and roles) and their inline identity policies. Every write of these and of access keys
  // (insertAccessKey and deleteAccessKey too) also increments the IAM generation setting (IAM_GENERATION_SETTING) in
  // the same transaction, so that every node's caller cache (which also remembers unknown access keys) notices.
  /** StorageDuplicateError when the account has a principal of that kind and name, whatever the case of the name. */
  insertPrincipal(principal: PrincipalRecord): Promise<void>;
  /** By account, kind and name, the name compared without regard to case. */
  getPrincipal(account: string, kind: PrincipalRecord['kind'], name: string): Promise<PrincipalRecord | undefined>;
  getPrincipalByArn(arn: string): Promise<PrincipalRecord | undefined>;
  /** Principals of one account (or all), ordered by account, kind and name. */
  listPrincipals(account?: string): Promise<PrincipalRecord[]>;
  /** Deletes the principal with its identity policies and access keys, in one transaction; returns whether it existed. */
  deletePrincipal(arn: string): Promise<boolean>;
  /** Adds or replaces an inline policy of a principal. */
  putIdentityPolicy(policy: IdentityPolicyRecord): Promise<void>;
  /** The inline policies of a principal, ordered by name. */
  getIdentityPolicies(principalArn: string): Promise<IdentityPolicyRecord[]>;
  deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean>;

  getSetting(name: string): Promise<string | undefined>;
  putSetting(name: string, value: string): Promise<void>;
  /** Stores `value` unless the setting exists; returns the value that is stored now (first writer wins, atomically). */
  putSettingIfAbsent(name: string, value: string): Promise<string>;

  /** Removes every key, material, alias, tag, grant and custom key store (dev reset). Access keys, principals, identity policies, settings (root key check) and the audit trail stay. */
  wipe(): Promise<void>;
}

/** Wraps secrets for storage at rest, bound to a context (the root key implements it). */
export interface SecretWrapper {
  /**
   * Synchronous on purpose: with the root key in an HSM each call is one blocking token round trip (C_Encrypt /
   * C_Decrypt), on cold paths only (unwrapped material and secrets are cached). See docs/root-key.md.
   */
  wrap(context: readonly string[], secret: Buffer): Buffer;
  /** Undefined when `wrapped` was not made by this wrapper for this context. */
  unwrap(context: readonly string[], wrapped: Buffer): Buffer | undefined;
}

/** The root of trust of a store: wraps secrets at rest, and makes keyed fingerprints (ids of imported material). */
export interface RootOfTrust extends SecretWrapper {
  /** The same input always gives the same value; nobody without the store's fingerprint key can test a guess. */
  fingerprint(context: readonly string[], data: Buffer): Buffer;
}

/**
 * Where key material lives and where crypto with it happens. Material is made per key spec (AES-256 bytes, HMAC
 * bytes of the spec's size, or a key pair kept as PKCS#8 DER) and only ever leaves wrapped; the store may keep it
 * unwrapped in memory. Operations name the key spec when they use material, so the store knows its form.
 */
export interface KeyStore {
  /** Makes fresh material for a key of `keySpec` and returns it wrapped, ready to store. */
  createMaterial(keyArn: string, materialId: string, keySpec: KeySpec): Promise<MaterialRecord>;
  /**
   * AES-256-GCM under SYMMETRIC_DEFAULT material; the store chooses the IV. `call` says who asks and why (an external
   * key store's proxy receives it as requestMetadata).
   */
  encrypt(material: MaterialRecord, plaintext: Buffer, aad: Buffer, call?: CryptoCall): Promise<{ iv: Buffer; ciphertext: Buffer; tag: Buffer }>;
  /** Returns undefined when authentication fails. */
  decrypt(material: MaterialRecord, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer, call?: CryptoCall): Promise<SecretBytes | undefined>;
  /** The DER SubjectPublicKeyInfo of key-pair material. */
  publicKey(material: MaterialRecord, keySpec: KeySpec): Promise<Buffer>;
  /** A signature with key-pair material; `prehashed`: `message` is the digest. */
  sign(material: MaterialRecord, keySpec: KeySpec, scheme: SignatureScheme, message: Buffer, prehashed: boolean): Promise<Buffer>;
  verify(material: MaterialRecord, keySpec: KeySpec, scheme: SignatureScheme, message: Buffer, prehashed: boolean, signature: Buffer): Promise<boolean>;
  /** HMAC under HMAC material. */
  mac(material: MaterialRecord, keySpec: KeySpec, hash: HmacHash, message: Buffer): Promise<Buffer>;
  /** RSAES-OAEP (RSA) or SM2PKE (SM2) with key-pair material: raw algorithm output, no header. */
  encryptAsymmetric(material: MaterialRecord, keySpec: KeySpec, cipher: AsymmetricCipher, plaintext: Buffer): Promise<Buffer>;
  /** Undefined when the ciphertext does not decrypt. */
  decryptAsymmetric(material: MaterialRecord, keySpec: KeySpec, cipher: AsymmetricCipher, ciphertext: Buffer): Promise<SecretBytes | undefined>;
  /** ECDH with EC or SM2 key-pair material and a peer public key already checked to be on the same curve: the raw shared secret. */
  deriveSharedSecret(material: MaterialRecord, keySpec: KeySpec, peerPublicKey: PeerPublicKey): Promise<SecretBytes>;
  /**
   * GetParametersForImport: a fresh wrapping key pair of `wrappingKey` (RSA made off the event loop, or SM2) and an
   * import token that carries its private key wrapped under the root key, bound to `keyArn`, `algorithm` and `validTo`.
   */
  createImportParameters(keyArn: string, algorithm: WrappingAlgorithm, wrappingKey: WrappingKeyParams, validTo: Date): Promise<{ publicKey: Buffer; importToken: Buffer }>;
  /**
   * ImportKeyMaterial: opens the token (for `keyArn` only), unwraps the material with the token's algorithm, checks it
   * is material for `keySpec`, and returns it wrapped under the root key as a material of the id the store derives
   * from the material (the same material always gets the same id for a key). Nothing is stored here.
   */
  importMaterial(keyArn: string, keySpec: KeySpec, importToken: Buffer, encryptedKeyMaterial: Buffer, now: Date): Promise<ImportedMaterial>;
  /**
   * The same material wrapped for another key (a multi-Region replica, `keyArn`): unwrapped under its own key's context
   * and wrapped again for the other, in memory only. Material of the default store only.
   */
  copyMaterial(material: MaterialRecord, keyArn: string): Promise<MaterialRecord>;
  /** Drops any cached unwrapped copy of a key's materials (key deleted or material erased). */
  forget(keyArn: string): void;
  /** Drops every cached unwrapped material (dev reset). */
  forgetAll(): void;
}

/** The request a symmetric encrypt or decrypt serves (XKS requestMetadata). */
export interface CryptoCall {
  readonly principalArn: string;
  /** The KMS operation: Encrypt, Decrypt, ReEncrypt, GenerateDataKey, ... */
  readonly operation: string;
  readonly requestId: string;
}

/** What an external key store's proxy answered a health check or a key check (CreateCustomKeyStore, CreateKey, ...). */
export type XksCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly exception: string; readonly connectionErrorCode: ConnectionErrorCodeType; readonly message: string };

/**
 * EXTERNAL_KEY_STORE custom key stores (keystores/xks implements it): an XKS proxy reached over HTTPS with SigV4.
 * Keys in such a store have double encryption: material of Trent's own (wrapped under the root key), then the
 * external key in the proxy.
 */
export interface XksBackend {
  /** The raw secret access key, wrapped under the root key for this store. */
  wrapSecret(customKeyStoreId: string, secret: Buffer): Buffer;
  /** GetHealthStatus through the proxy with these settings (kmsOperation: the calling operation). */
  healthCheck(settings: XksProxySettings, customKeyStoreId: string, call: CryptoCall): Promise<XksCheck>;
  /** GetKeyMetadata: the external key exists and is an enabled AES_256 ENCRYPT+DECRYPT key. */
  checkKey(store: CustomKeyStoreRecord, xksKeyId: string, call: CryptoCall, keyArn?: string): Promise<XksCheck>;
  /** Trent's own layer of a new key in the store: fresh AES-256 material, wrapped, marked as the external key's. */
  createMaterial(store: CustomKeyStoreRecord, keyArn: string, materialId: string, xksKeyId: string): Promise<MaterialRecord>;
}

/**
 * The HSMs behind AWS_CLOUDHSM custom key stores (keystores/pkcs11 implements it over PKCS#11). Each configured
 * cluster is one token. A connected store has its token open on this node, logged in with the store's password (the
 * token's user PIN); its keys' material is an AES-256 key object made in the token, never extractable: the store's
 * MaterialRecord holds only a reference to it, and KeyStore.encrypt/decrypt route such materials to the token.
 */
export interface HsmBackend {
  /** Whether Trent's configuration names this cluster id. */
  hasCluster(clusterId: string): boolean;
  /** Whether `pem` is an acceptable trust anchor for the cluster: undefined if so, else why not. */
  checkTrustAnchor(clusterId: string, pem: string): string | undefined;
  /** Whether two clusters may hold the same keys (UpdateCustomKeyStore's "related cluster"): the same token label. */
  related(clusterA: string, clusterB: string): boolean;
  /** The key store password, wrapped under the root key for this store. */
  wrapPassword(customKeyStoreId: string, password: Buffer): Buffer;
  /** Opens the store's token and logs in; undefined when connected, else AWS's ConnectionErrorCode for the failure. */
  connect(store: CustomKeyStoreRecord): Promise<ConnectionErrorCodeType | undefined>;
  /** Closes the store's token on this node (and forgets the PIN). */
  disconnect(customKeyStoreId: string): void;
  /** A new AES-256 key in the store's token, for `keyArn`: its MaterialRecord (a reference, not the material). */
  createMaterial(store: CustomKeyStoreRecord, keyArn: string, materialId: string): Promise<MaterialRecord>;
  /** Random bytes from the store's token (C_GenerateRandom). */
  random(store: CustomKeyStoreRecord, n: number): Promise<Buffer>;
}

/** What KeyStore.importMaterial found. */
export type ImportedMaterial =
  | { readonly kind: 'ok'; readonly material: MaterialRecord }
  | { readonly kind: 'invalid-token' | 'expired-token' | 'invalid-ciphertext' | 'incorrect-material'; readonly why: string };

/**
 * What a write changed, for the caches of every node: drop the named entries (they are re-read from storage on next
 * use). `deleted`: the key is gone with its materials, so unwrapped copies are dropped too. `all`: everything (dev
 * reset, or a feed that may have missed changes).
 */
export type CacheChange =
  | { readonly kind: 'key'; readonly account: string; readonly region: string; readonly keyId: string; readonly arn: string; readonly deleted?: boolean; readonly erased?: boolean }
  | { readonly kind: 'alias'; readonly account: string; readonly region: string; readonly aliasName: string }
  | { readonly kind: 'custom-key-store'; readonly account: string; readonly region: string; readonly customKeyStoreId: string }
  /** The grants of a key changed (created, retired, revoked). */
  | { readonly kind: 'grants'; readonly arn: string }
  | { readonly kind: 'all' };

/**
 * Carries cache invalidations between the nodes sharing a store (PostgreSQL LISTEN/NOTIFY), or within one process
 * (SQLite). Every subscriber of every node, the publishing node included, receives each published change; a feed
 * that may have lost changes (a dropped connection) delivers `{ kind: 'all' }` once it is back.
 */
export interface ChangeFeed {
  /** Sends a change after the write committed. Never throws: a change it cannot send is logged (caches expire). */
  publish(change: CacheChange): Promise<void>;
  subscribe(listener: (change: CacheChange) => void): void;
  close(): Promise<void>;
}

/**
 * A named job (the deletion sweeper) that exactly one node of a shared store may run at a time. `tryAcquire` takes
 * or renews the lease; it is true while this node holds it.
 */
export interface JobLease {
  tryAcquire(job: string): Promise<boolean>;
  /** Gives the job up at once (clean shutdown), so another node takes it over without waiting for expiry. */
  release(job: string): Promise<void>;
}

/** One row of a store snapshot (backup and restore): every table but the schema's own bookkeeping. */
export type SnapshotRecord =
  | { readonly type: 'setting'; readonly name: string; readonly value: string }
  | { readonly type: 'accessKey'; readonly accessKey: AccessKeyRecord }
  | { readonly type: 'customKeyStore'; readonly customKeyStore: CustomKeyStoreRecord }
  | { readonly type: 'principal'; readonly principal: PrincipalRecord }
  | { readonly type: 'identityPolicy'; readonly policy: IdentityPolicyRecord }
  | { readonly type: 'key'; readonly key: KeyRecord }
  | { readonly type: 'material'; readonly material: MaterialRecord }
  | { readonly type: 'alias'; readonly alias: AliasRecord }
  | { readonly type: 'tag'; readonly keyArn: string; readonly tag: TagRecord }
  | { readonly type: 'grant'; readonly grant: GrantRecord }

  /** The audit trail, in chain order, hashes as stored: a restored trail still verifies. */
  | { readonly type: 'auditEvent'; readonly event: AuditEventRecord };

export type SnapshotCounts = Record<SnapshotRecord['type'], number>;

/** Raised by importSnapshot when the target store already holds something; nothing is written. */
export class StorageNotEmptyError extends Error {
  constructor(what: string) {
    super(`the target store is not empty (${what}): restore only into a new, empty store`);
    this.name = 'StorageNotEmptyError';
  }
}

/** One secret a store keeps wrapped under the root key: what `trent root-key migrate` re-wraps (docs/root-key.md). */
export type WrappedSecretRecord =
  | { readonly kind: 'material'; readonly keyArn: string; readonly materialId: string; readonly wrapped: Buffer }
  | { readonly kind: 'accessKey'; readonly accessKeyId: string; readonly wrapped: Buffer }
  | { readonly kind: 'customKeyStorePassword'; readonly account: string; readonly region: string; readonly customKeyStoreId: string; readonly wrapped: Buffer }
  /** An EXTERNAL_KEY_STORE's proxy secret access key (XksProxySettings.secretWrapped). */
  | { readonly kind: 'xksProxySecret'; readonly account: string; readonly region: string; readonly customKeyStoreId: string; readonly wrapped: Buffer };

export type RewrapCounts = Record<WrappedSecretRecord['kind'], number>;

/** Raised by rewrapSecrets when a server appears to be using the store (PostgreSQL: a scheduler lease is held). */
export class StorageInUseError extends Error {
  constructor(what: string) {
    super(`the store is in use (${what}): stop every Trent server on it first`);
    this.name = 'StorageInUseError';
  }
}

/** Changing the root key of a whole store. */
export interface RootKeyStorage {
  /**
   * In one write transaction that shuts other writers out: passes every secret wrapped under the root key (key
   * material, erased material excepted, as stored: HSM references and XKS materials too, which `rewrap` tells apart;
   * access key secrets; custom key store passwords; external key store proxy secrets) to `rewrap`, stores what it
   * returns in its place, sets `settings` (a null value deletes the setting), and appends `event` (made once the
   * counts are known) to the audit trail, all in that transaction. If `rewrap` throws, nothing is written.
   * PostgreSQL refuses with StorageInUseError while a node holds an unexpired scheduler lease (a server runs).
   */
  rewrapSecrets(
    rewrap: (secret: WrappedSecretRecord) => Buffer, settings: Readonly<Record<string, string | null>>, event?: (counts: RewrapCounts) => AuditEventInput,
  ): Promise<RewrapCounts>;
}

/**
 * Whole-store copy, backend-neutral (a SQLite snapshot imports into PostgreSQL and back). Wrapped material and
 * secrets stay wrapped: nothing here needs or sees the root key.
 */
export interface SnapshotStorage {
  /**
   * Every record of the store as of one instant, read inside one read-only transaction (concurrent writers neither
   * block it nor show through it). Settings, access keys, principals, identity policies, custom key stores, keys,
   * materials, aliases, tags, grants, audit events, each in primary-key (chain) order.
   */
  exportSnapshot(): AsyncIterable<SnapshotRecord>;
  /**
   * Writes `records` into an empty store in one transaction. StorageNotEmptyError if any table holds a row; if the
   * records fail (a duplicate, an error thrown by the iterable), nothing is written.
   */
  importSnapshot(records: AsyncIterable<SnapshotRecord> | Iterable<SnapshotRecord>): Promise<SnapshotCounts>;
}

export const emptySnapshotCounts = (): SnapshotCounts => ({ setting: 0, accessKey: 0, principal: 0, identityPolicy: 0, customKeyStore: 0, key: 0, material: 0, alias: 0, tag: 0, grant: 0, auditEvent: 0 });

/**
 * One audit event ready to append (docs/audit.md): its CloudTrail JSON (canonical, with no secret in it) and the columns
 * lookups filter on, each derived from the JSON (`trent audit verify` checks they still agree with it).
 */
export interface AuditEventInput {
  readonly eventId: string;
  /** eventTime, ms since the epoch. */
  readonly eventTime: number;
  readonly eventName: string;
  /** recipientAccountId: the caller's account ('' when the request was not authenticated). */
  readonly account: string;
  /** The account of the key the request acted on, when it names one. */
  readonly resourceAccount?: string | undefined;
  readonly keyArn?: string | undefined;
  /** userIdentity.arn. */
  readonly principal?: string | undefined;
  /** The user name CloudTrail's LookupEvents matches (userIdentity.userName, "root", or the role session name). */
  readonly username?: string | undefined;
  readonly readOnly: boolean;
  /** Set on a successful cryptographic operation that GetKeyLastUsage tracks: the operation's name. */
  readonly usage?: string | undefined;
  readonly requestId: string;
  readonly json: string;
}

/** A stored event: its place in the chain and the hash that covers it and every event before it. */
export interface AuditEventRecord extends AuditEventInput {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditQuery {
  /** Only events whose recipient or resource account is this one (LookupEvents: a caller sees its own account). */
  readonly account?: string;
  readonly eventName?: string;
  readonly eventId?: string;
  readonly keyArn?: string;
  /** Events on the key of this id, in any account and region. */
  readonly keyId?: string;
  readonly principal?: string;
  readonly username?: string;
  readonly readOnly?: boolean;
  /** eventTime bounds, ms, inclusive. */
  readonly startTime?: number;
  readonly endTime?: number;
  /** Newest first: only events with a sequence number below this one (paging). */
  readonly beforeSeq?: number;
  readonly limit: number;
}

/**
 * The request under way's audit event, for the storage adapter to append inside the transaction of the state change
 * the request makes (so the change and its event commit together). Made in main.ts over an AsyncLocalStorage.
 */
export interface AuditEventSource {
  /** The event of the current request if it has not been committed yet; the same event on every call (retries). */
  pending(): AuditEventInput | undefined;
  /** Events the request causes beside its own (ReplicateKey's CreateKey in the replica Region): appended after it, in its transaction. */
  companions?(): readonly AuditEventInput[];
  /** The adapter's transaction that appended `event` committed. */
  committed(event: AuditEventInput): void;
}

/** The append-only, hash-chained audit trail. Both backends pass the contract suite. */
export interface AuditStore {
  /** Appends in order in one transaction, extending the single chain (serialized across nodes); returns the stored records. */
  appendAuditEvents(events: readonly AuditEventInput[]): Promise<AuditEventRecord[]>;
  /**
   * Appends a packed batch (domain/audit-batch.ts: API calls in compact form, whose events are built here, and events
   * built already) in order in one transaction, like appendAuditEvents. Returns the stored events' JSON, one per line,
   * when `lines` is asked (the --audit-log stream).
   */
  appendAuditBatch(batch: string, lines: boolean): Promise<{ readonly count: number; readonly lines?: string | undefined }>;
  /** Events matching `query`, newest first. */
  queryAuditEvents(query: AuditQuery): Promise<AuditEventRecord[]>;
  /** Events in chain order with seq > afterSeq (verification). */
  auditEventsAfter(afterSeq: number, limit: number): Promise<AuditEventRecord[]>;
  /** The last appended event's number and hash (0 and GENESIS_HASH when the trail is empty), and when the trail began (ms). */
  auditChainHead(): Promise<{ seq: number; hash: string; trackingStart: number }>;
  /** The newest event with `usage` set for the key (GetKeyLastUsage). */
  lastKeyUsage(keyArn: string): Promise<AuditEventRecord | undefined>;
  /** The last event retention removed (the stored chain continues from it); undefined if none was ever removed. */
  auditAnchor(): Promise<AuditAnchor | undefined>;
  /**
   * Retention (`trent audit archive`), in one transaction: checks that the anchor is still `from` and that event
   * `through.seq` is stored with hash `through.hash` (else StorageConflictError, nothing changed), deletes every event
   * up to `through.seq`, records `through` as the anchor, moves the tracking start to `trackingStart` if that is later,
   * and appends `event` (the prune's own event). Returns how many events were deleted and the event's record.
   */
  pruneAuditEvents(from: AuditAnchor | undefined, through: AuditAnchor, trackingStart: number, event: AuditEventInput): Promise<{ deleted: number; record: AuditEventRecord }>;
}

/** What GetKeyLastUsage reads from the audit trail (the trail appends what it has queued first). */
export interface KeyUsageLog {
  lastKeyUsage(keyArn: string): Promise<AuditEventRecord | undefined>;
  /** When the trail began recording (TrackingStartDate is this or the key's creation, whichever is later). */
  trackingStart(): Promise<Date>;
}
