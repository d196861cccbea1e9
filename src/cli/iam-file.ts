// `trent iam apply --file principals.json`: a declarative description of accounts, users, roles, their inline
// identity policies and access keys, checked whole before anything is written, then applied so that the listed
// accounts match the file (docs/access-control.md, "Principals").
import { accountRootArn } from '../domain/arn.js';
import {
  ACCESS_KEYS_PER_PRINCIPAL, checkAccessKeyId, checkAccount, checkIdentityPolicy, checkInlinePolicyQuota, checkPath, checkPolicyName,
  checkPrincipalName, checkSecretAccessKey, parsePrincipalArn, principalArn, PrincipalError, type PrincipalKind, type PrincipalRecord,
} from '../domain/principals.js';
import type { PrincipalAdmin } from './iam-admin.js';

export type DesiredKey =
  | { readonly kind: 'profile'; readonly profile: string }
  | { readonly kind: 'env'; readonly accessKeyId: string; readonly secretEnv: string; readonly secret: string };

export interface DesiredPrincipal {
  readonly kind: PrincipalKind;
  readonly name: string;
  readonly path: string;
  readonly arn: string;
  /** Policy name → document text (an object in the file is written as compact JSON). */
  readonly policies: ReadonlyMap<string, string>;
  readonly accessKeys: readonly DesiredKey[];
}

export interface DesiredAccount {
  readonly account: string;
  /** Where a root access key made for the account is written (default "account-<id>"). */
  readonly rootProfile?: string | undefined;
  readonly principals: readonly DesiredPrincipal[];
}

/** The file is not a valid principals file: `where` is the JSON path of the offending entry. */
export class PrincipalsFileError extends Error {
  override name = 'PrincipalsFileError';
}

const PROFILE = /^[\w.@+=,-]{1,64}$/;

function object(value: unknown, where: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PrincipalsFileError(`${where}: must be a JSON object`);
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new PrincipalsFileError(`${where}: unknown field "${k}" (allowed: ${allowed.join(', ')})`);
  }
  return o;
}

const map = (value: unknown, where: string): Record<string, unknown> => {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PrincipalsFileError(`${where}: must be a JSON object of names`);
  return value as Record<string, unknown>;
};

/** Runs an IAM rule check, reporting its failure at `where`. */
function at<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof PrincipalError) throw new PrincipalsFileError(`${where}: ${err.message}`);
    throw err;
  }
}

/**
 * Parses and checks a principals file. Secrets named by `secretFromEnv` are read from `env` here, so that a missing
 * variable is reported before anything is written. Shape:
 *
 *   { "accounts": { "<12 digits>": { "rootAccessKey": { "profile": "..." },
 *       "users": { "<name>": { "path": "/", "policies": { "<name>": {document} }, "accessKeys": [ {"profile": "..."} |
 *                              {"accessKeyId": "...", "secretFromEnv": "VAR"} ] } },
 *       "roles": { ... same as users ... } } } }
 */
export function parsePrincipalsFile(text: string, env: NodeJS.ProcessEnv): DesiredAccount[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PrincipalsFileError(`the file is not valid JSON: ${(err as Error).message}`);
  }
  const top = object(doc, '(top level)', ['accounts']);
  if (top.accounts === undefined) throw new PrincipalsFileError('(top level): missing "accounts"');
  const profiles = new Map<string, string>();
  const keyIds = new Map<string, string>();
  const useProfile = (profile: unknown, where: string): string => {
    if (typeof profile !== 'string' || !PROFILE.test(profile)) throw new PrincipalsFileError(`${where}: a profile name is 1 to 64 letters, digits and . @ + = , _ -`);
    const other = profiles.get(profile);
    if (other) throw new PrincipalsFileError(`${where}: profile "${profile}" is already used at ${other}`);
    profiles.set(profile, where);
    return profile;
  };
  const accounts: DesiredAccount[] = [];
  for (const [account, value] of Object.entries(map(top.accounts, 'accounts'))) {
    const aw = `accounts.${account}`;
    at(aw, () => checkAccount(account));
    const a = object(value, aw, ['rootAccessKey', 'users', 'roles']);
    let rootProfile: string | undefined;
    if (a.rootAccessKey !== undefined) rootProfile = useProfile(object(a.rootAccessKey, `${aw}.rootAccessKey`, ['profile']).profile, `${aw}.rootAccessKey.profile`);
    const principals: DesiredPrincipal[] = [];
    for (const kind of ['user', 'role'] as const) {
      const seen = new Map<string, string>();
      for (const [name, pv] of Object.entries(map(a[`${kind}s`], `${aw}.${kind}s`))) {
        const pw = `${aw}.${kind}s.${name}`;
        at(pw, () => checkPrincipalName(kind, name));
        const same = seen.get(name.toLowerCase());
        if (same !== undefined) throw new PrincipalsFileError(`${pw}: IAM names are not distinguished by case: "${same}" is the same ${kind}`);
        seen.set(name.toLowerCase(), name);
        const p = object(pv, pw, ['path', 'policies', 'accessKeys']);
        const path = p.path === undefined ? '/' : p.path;
        if (typeof path !== 'string') throw new PrincipalsFileError(`${pw}.path: must be a string`);
        at(`${pw}.path`, () => checkPath(path));
        const arn = principalArn(account, kind, name, path);
        const policies = new Map<string, string>();
        for (const [policyName, document] of Object.entries(map(p.policies, `${pw}.policies`))) {
          const w = `${pw}.policies.${policyName}`;
          at(w, () => checkPolicyName(policyName));
          const textDoc = typeof document === 'string' ? document : JSON.stringify(document);
          at(w, () => checkIdentityPolicy(textDoc));
          policies.set(policyName, textDoc);
        }
        const record: PrincipalRecord = { account, kind, name, path, arn, createdAt: new Date(0) };
        const all = [...policies].map(([policyName, document]) => ({ principalArn: arn, policyName, document }));
        at(`${pw}.policies`, () => checkInlinePolicyQuota(record, all, '', ''));
        const keysValue = p.accessKeys ?? [];
        if (!Array.isArray(keysValue)) throw new PrincipalsFileError(`${pw}.accessKeys: must be an array`);
        if (keysValue.length > ACCESS_KEYS_PER_PRINCIPAL) throw new PrincipalsFileError(`${pw}.accessKeys: at most ${ACCESS_KEYS_PER_PRINCIPAL} access keys per ${kind} (IAM's quota)`);
        const accessKeys = keysValue.map((kv, i): DesiredKey => {
          const kw = `${pw}.accessKeys[${i}]`;
          const k = object(kv, kw, ['profile', 'accessKeyId', 'secretFromEnv']);
          if (k.profile !== undefined) {
            if (k.accessKeyId !== undefined || k.secretFromEnv !== undefined) throw new PrincipalsFileError(`${kw}: either "profile" (a generated key) or "accessKeyId" with "secretFromEnv", not both`);
            return { kind: 'profile', profile: useProfile(k.profile, `${kw}.profile`) };
          }
          if (typeof k.accessKeyId !== 'string' || typeof k.secretFromEnv !== 'string') {
            throw new PrincipalsFileError(`${kw}: give "profile" (a generated key written to the credentials file) or "accessKeyId" and "secretFromEnv"`);
          }
          const accessKeyId = k.accessKeyId;
          at(`${kw}.accessKeyId`, () => checkAccessKeyId(accessKeyId));
          const other = keyIds.get(accessKeyId);
          if (other) throw new PrincipalsFileError(`${kw}.accessKeyId: ${accessKeyId} is already used at ${other}`);
          keyIds.set(accessKeyId, kw);
          const secret = env[k.secretFromEnv];
          if (secret === undefined || secret === '') throw new PrincipalsFileError(`${kw}.secretFromEnv: the environment variable ${k.secretFromEnv} is not set`);
          at(`${kw}.secretFromEnv`, () => checkSecretAccessKey(secret));
          return { kind: 'env', accessKeyId, secretEnv: k.secretFromEnv, secret };
        });
        principals.push({ kind, name, path, arn, policies, accessKeys });
      }
    }
    accounts.push({ account, rootProfile, principals });
  }
  return accounts;
}

export type Change =
  | { readonly action: 'create-account'; readonly account: string; readonly accessKeyId?: string; readonly profile: string }
  | { readonly action: 'create-root-access-key'; readonly account: string; readonly accessKeyId?: string; readonly profile: string }
  | { readonly action: 'create-principal' | 'delete-principal' | 'replace-principal'; readonly arn: string }
  | { readonly action: 'put-policy' | 'delete-policy'; readonly arn: string; readonly policyName: string }
  | { readonly action: 'create-access-key' | 'delete-access-key' | 'replace-access-key'; readonly arn: string; readonly accessKeyId?: string; readonly profile?: string };

export interface ApplyTarget {
  readonly admin: PrincipalAdmin;
  /** Profiles of the credentials file: name → access key id. */
  readonly profiles: ReadonlyMap<string, string>;
  /** Writes a generated access key to the credentials file. */
  writeProfile(profile: string, accessKeyId: string, secret: string): Promise<void>;
}

/**
 * Makes the store match the file for every account the file lists: missing users, roles, policies and access keys
 * are created, changed ones updated (a changed path replaces the principal: the path is part of its ARN), and those
 * the file no longer lists are deleted. Accounts the file does not list are not touched; account roots and their
 * access keys are never deleted. Each change is its own write (re-running after a failure converges); `dryRun`
 * only reports. Returns the changes, none when the store already matched.
 */
export async function applyPrincipals(desired: readonly DesiredAccount[], target: ApplyTarget, dryRun: boolean): Promise<Change[]> {
  const { admin } = target;
  const storage = admin.storage;
  const changes: Change[] = [];
  // Store-dependent checks first, so that a refused file writes nothing: a given access key id must not be another's.
  for (const a of desired) {
    for (const p of a.principals) {
      for (const k of p.accessKeys) {
        if (k.kind !== 'env') continue;
        const owner = await storage.getAccessKey(k.accessKeyId);
        const parsed = owner && parsePrincipalArn(owner.principalArn);
        if (owner && !(parsed && parsed.account === a.account && parsed.kind === p.kind && parsed.name.toLowerCase() === p.name.toLowerCase())) {
          throw new PrincipalsFileError(`access key ${k.accessKeyId} (for ${p.arn}) already belongs to ${owner.principalArn}`);
        }
      }
    }
  }
  for (const a of desired) {
    const rootArn = accountRootArn(a.account);
    const rootKeys = await storage.listAccessKeys({ principalArn: rootArn });
    const rootProfile = a.rootProfile ?? `account-${a.account}`;
    const rootProfileKey = target.profiles.get(rootProfile);
    if (rootKeys.length === 0 || (a.rootProfile !== undefined && !rootKeys.some((k) => k.accessKeyId === rootProfileKey))) {
      let accessKeyId: string | undefined;
      if (!dryRun) {
        const made = await admin.createAccessKey({ account: a.account, root: true });
        await target.writeProfile(rootProfile, made.accessKeyId, made.secret);
        accessKeyId = made.accessKeyId;
      }
      changes.push({ action: rootKeys.length === 0 ? 'create-account' : 'create-root-access-key', account: a.account, accessKeyId, profile: rootProfile });
    }

    const existing = await storage.listPrincipals(a.account);
    const wanted = new Map(a.principals.map((p) => [`${p.kind}/${p.name.toLowerCase()}`, p]));
    for (const e of existing) {
      if (wanted.has(`${e.kind}/${e.name.toLowerCase()}`)) continue;
      if (!dryRun) await admin.deletePrincipal(e);
      changes.push({ action: 'delete-principal', arn: e.arn });
    }
    for (const p of a.principals) {
      let current = existing.find((e) => e.kind === p.kind && e.name.toLowerCase() === p.name.toLowerCase());
      if (current && (current.name !== p.name || current.path !== p.path)) {
        if (!dryRun) await admin.deletePrincipal(current);
        changes.push({ action: 'replace-principal', arn: p.arn });
        current = undefined;
      } else if (!current) {
        changes.push({ action: 'create-principal', arn: p.arn });
      }
      if (!current && !dryRun) current = await admin.createPrincipal(a.account, p.kind, p.name, p.path);
      await applyPolicies(p, current, admin, dryRun, changes);
      await applyAccessKeys(p, current, target, dryRun, changes);
    }
  }
  return changes;
}

async function applyPolicies(p: DesiredPrincipal, current: PrincipalRecord | undefined, admin: PrincipalAdmin, dryRun: boolean, changes: Change[]): Promise<void> {
  const stored = current ? await admin.storage.getIdentityPolicies(current.arn) : [];
  for (const s of stored) {
    if (p.policies.has(s.policyName)) continue;
    if (!dryRun) await admin.deletePolicy(current!, s.policyName);
    changes.push({ action: 'delete-policy', arn: p.arn, policyName: s.policyName });
  }
  for (const [policyName, document] of p.policies) {
    if (stored.find((s) => s.policyName === policyName)?.document === document) continue;
    if (!dryRun) await admin.putPolicy(current!, policyName, document);
    changes.push({ action: 'put-policy', arn: p.arn, policyName });
  }
}

async function applyAccessKeys(p: DesiredPrincipal, current: PrincipalRecord | undefined, target: ApplyTarget, dryRun: boolean, changes: Change[]): Promise<void> {
  const { admin } = target;
  const stored = current ? await admin.storage.listAccessKeys({ principalArn: current.arn }) : [];
  const keep = new Set<string>();
  for (const k of p.accessKeys) {
    if (k.kind === 'env') keep.add(k.accessKeyId);
    else {
      const id = target.profiles.get(k.profile);
      if (id !== undefined && stored.some((s) => s.accessKeyId === id)) keep.add(id);
    }
  }
  // Deletions first: they make room under the quota of two access keys.
  for (const s of stored) {
    if (keep.has(s.accessKeyId)) continue;
    if (!dryRun) await admin.storage.deleteAccessKey(s.accessKeyId);
    changes.push({ action: 'delete-access-key', arn: p.arn, accessKeyId: s.accessKeyId });
  }
  for (const k of p.accessKeys) {
    if (k.kind === 'env') {
      const have = stored.find((s) => s.accessKeyId === k.accessKeyId);
      if (have && admin.secretMatches(have, k.secret)) continue;
      if (have && !dryRun) await admin.storage.deleteAccessKey(have.accessKeyId);
      if (!dryRun) await admin.createAccessKey({ principal: current! }, { accessKeyId: k.accessKeyId, secret: k.secret });
      changes.push({ action: have ? 'replace-access-key' : 'create-access-key', arn: p.arn, accessKeyId: k.accessKeyId });
    } else {
      const id = target.profiles.get(k.profile);
      if (id !== undefined && keep.has(id)) continue;
      let accessKeyId: string | undefined;
      if (!dryRun) {
        const made = await admin.createAccessKey({ principal: current! });
        await target.writeProfile(k.profile, made.accessKeyId, made.secret);
        accessKeyId = made.accessKeyId;
      }
      changes.push({ action: 'create-access-key', arn: p.arn, accessKeyId, profile: k.profile });
    }
  }
}
