// The changes `trent iam` makes to a store: accounts (a root access key), users and roles, inline identity policies,
// access keys. IAM's rules are checked here (domain/principals.ts); every write increments the IAM generation, so a
// running server sees it within IAM_REFRESH_MS.
import { accessKeyWrapContext, newAccessKeyId, newSecretAccessKey } from '../auth/admin-credentials.js';
import { accountRootArn } from '../domain/arn.js';
import { StorageDuplicateError, type AccessKeyRecord, type RandomSource, type SecretWrapper, type Storage } from '../domain/ports.js';
import {
  ACCESS_KEYS_PER_PRINCIPAL, checkAccessKeyId, checkAccount, checkIdentityPolicy, checkInlinePolicyQuota, checkPath, checkPolicyName,
  checkPrincipalName, checkSecretAccessKey, principalArn, PrincipalError, type IdentityPolicyRecord, type PrincipalKind, type PrincipalRecord,
} from '../domain/principals.js';

export interface NewAccessKey {
  readonly accessKeyId: string;
  readonly secret: string;
}

/** Who an access key is for: an account's root, or a user or role. */
export type KeyOwner = { readonly account: string; readonly root: true } | { readonly principal: PrincipalRecord };

export interface AccountListing {
  readonly account: string;
  readonly rootArn: string;
  readonly rootAccessKeys: string[];
  readonly users: PrincipalListing[];
  readonly roles: PrincipalListing[];
}

export interface PrincipalListing {
  readonly name: string;
  readonly path: string;
  readonly arn: string;
  readonly createdAt: string;
  readonly policies: Record<string, unknown>;
  readonly accessKeys: string[];
}

export class PrincipalAdmin {
  constructor(
    readonly storage: Storage,
    private readonly rootKey: SecretWrapper,
    private readonly random: RandomSource,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async accountExists(account: string): Promise<boolean> {
    return (await this.storage.listAccessKeys({ principalArn: accountRootArn(account) })).length > 0;
  }

  async requireAccount(account: string): Promise<void> {
    checkAccount(account);
    if (!(await this.accountExists(account))) {
      throw new PrincipalError('NoSuchEntity', `account ${account} does not exist (it has no root access key): create it with trent iam create-account --account ${account}`);
    }
  }

  /** A new account: its first root access key. `account` absent: a random unused 12-digit id. */
  async createAccount(account?: string): Promise<{ account: string } & NewAccessKey> {
    if (account === undefined) {
      do account = [...this.random.bytes(12)].map((b) => String(b % 10)).join('').replace(/^0/, '1');
      while (await this.accountExists(account));
    }
    checkAccount(account);
    if (await this.accountExists(account)) throw new PrincipalError('EntityAlreadyExists', `account ${account} already exists`);
    return { account, ...(await this.createAccessKey({ account, root: true })) };
  }

  async createPrincipal(account: string, kind: PrincipalKind, name: string, path = '/'): Promise<PrincipalRecord> {
    checkPrincipalName(kind, name);
    checkPath(path);
    await this.requireAccount(account);
    const record: PrincipalRecord = { account, kind, name, path, arn: principalArn(account, kind, name, path), createdAt: this.now() };
    try {
      await this.storage.insertPrincipal(record);
    } catch (err) {
      if (err instanceof StorageDuplicateError) throw new PrincipalError('EntityAlreadyExists', `${kind} with name ${name} already exists in account ${account}`);
      throw err;
    }
    return record;
  }

  async requirePrincipal(account: string, kind: PrincipalKind, name: string): Promise<PrincipalRecord> {
    checkAccount(account);
    const p = await this.storage.getPrincipal(account, kind, name);
    if (!p) throw new PrincipalError('NoSuchEntity', `The ${kind} with name ${name} cannot be found in account ${account}.`);
    return p;
  }

  /** Deletes a user or role with its inline policies and access keys. */
  async deletePrincipal(principal: PrincipalRecord): Promise<void> {
    await this.storage.deletePrincipal(principal.arn);
  }

  async putPolicy(principal: PrincipalRecord, policyName: string, document: string): Promise<void> {
    checkPolicyName(policyName);
    checkIdentityPolicy(document);
    checkInlinePolicyQuota(principal, await this.storage.getIdentityPolicies(principal.arn), policyName, document);
    await this.storage.putIdentityPolicy({ principalArn: principal.arn, policyName, document });
  }

  async deletePolicy(principal: PrincipalRecord, policyName: string): Promise<void> {
    if (!(await this.storage.deleteIdentityPolicy(principal.arn, policyName))) {
      throw new PrincipalError('NoSuchEntity', `The ${principal.kind} policy with name ${policyName} cannot be found.`);
    }
  }

  /** A new access key (the id and secret given, or generated), its secret wrapped under the root key. */
  async createAccessKey(owner: KeyOwner, given?: { accessKeyId: string; secret: string }): Promise<NewAccessKey> {
    const account = 'root' in owner ? owner.account : owner.principal.account;
    const arn = 'root' in owner ? accountRootArn(account) : owner.principal.arn;
    if (!('root' in owner)) {
      const existing = await this.storage.listAccessKeys({ principalArn: arn });
      if (existing.length >= ACCESS_KEYS_PER_PRINCIPAL) {
        throw new PrincipalError('LimitExceeded', `Cannot exceed quota for AccessKeysPerUser: ${ACCESS_KEYS_PER_PRINCIPAL} (${owner.principal.kind} ${owner.principal.name})`);
      }
    }
    if (given) {
      checkAccessKeyId(given.accessKeyId);
      checkSecretAccessKey(given.secret);
    }
    const accessKeyId = given?.accessKeyId ?? newAccessKeyId(this.random);
    const secret = given?.secret ?? newSecretAccessKey(this.random);
    const record: AccessKeyRecord = {
      accessKeyId, account, principalArn: arn, createdAt: this.now(),
      secretWrapped: this.rootKey.wrap(accessKeyWrapContext(accessKeyId), Buffer.from(secret, 'utf8')),
    };
    try {
      await this.storage.insertAccessKey(record);
    } catch (err) {
      if (err instanceof StorageDuplicateError) throw new PrincipalError('EntityAlreadyExists', `access key ${accessKeyId} already exists`);
      throw err;
    }
    return { accessKeyId, secret };
  }

  /** Whether the stored secret of `record` is `secret` (apply: a secret taken from the environment may have changed). */
  secretMatches(record: AccessKeyRecord, secret: string): boolean {
    const stored = this.rootKey.unwrap(accessKeyWrapContext(record.accessKeyId), record.secretWrapped);
    if (!stored) throw new Error(`the secret of access key ${record.accessKeyId} does not unwrap under the root key`);
    try {
      return stored.equals(Buffer.from(secret, 'utf8'));
    } finally {
      stored.fill(0);
    }
  }

  async deleteAccessKey(accessKeyId: string): Promise<AccessKeyRecord> {
    const record = await this.storage.getAccessKey(accessKeyId);
    if (!record) throw new PrincipalError('NoSuchEntity', `The access key with id ${accessKeyId} cannot be found.`);
    await this.storage.deleteAccessKey(accessKeyId);
    return record;
  }

  /** Every account (with a root access key or a principal), its principals, their policies and access key ids. */
  async list(account?: string): Promise<AccountListing[]> {
    if (account !== undefined) checkAccount(account);
    const keys = await this.storage.listAccessKeys(account === undefined ? {} : { account });
    const principals = await this.storage.listPrincipals(account);
    const accounts = new Set<string>([...keys.map((k) => k.account), ...principals.map((p) => p.account)]);
    const out: AccountListing[] = [];
    for (const id of [...accounts].sort()) {
      const rootArn = accountRootArn(id);
      const describe = async (p: PrincipalRecord): Promise<PrincipalListing> => ({
        name: p.name, path: p.path, arn: p.arn, createdAt: p.createdAt.toISOString(),
        policies: Object.fromEntries((await this.storage.getIdentityPolicies(p.arn)).map((x: IdentityPolicyRecord) => [x.policyName, parseOrText(x.document)])),
        accessKeys: keys.filter((k) => k.principalArn === p.arn).map((k) => k.accessKeyId),
      });
      const mine = principals.filter((p) => p.account === id);
      out.push({
        account: id, rootArn,
        rootAccessKeys: keys.filter((k) => k.principalArn === rootArn).map((k) => k.accessKeyId),
        users: await Promise.all(mine.filter((p) => p.kind === 'user').map(describe)),
        roles: await Promise.all(mine.filter((p) => p.kind === 'role').map(describe)),
      });
    }
    return out;
  }
}

function parseOrText(document: string): unknown {
  try {
    return JSON.parse(document);
  } catch {
    return document;
  }
}
