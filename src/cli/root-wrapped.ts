// Which bytes of a stored secret are wrapped under the root key, under which context, and how re-wrapped bytes go
// back in its place: what `trent root-key migrate`, `trent root-key verify` and `trent restore` need to know of each
// kind of secret (docs/root-key.md). The material formats are the key store modules' own (their parse functions).
import { accessKeyWrapContext } from '../auth/admin-credentials.js';
import type { SnapshotRecord, WrappedSecretRecord } from '../domain/ports.js';
import { materialWrapContext } from '../keystores/local/local-keystore.js';
import { parseHsmMaterialRef, passwordContext } from '../keystores/pkcs11/hsm-keystore.js';
import { parseXksMaterial, secretContext as xksSecretContext, xksMaterial } from '../keystores/xks/xks-keystore.js';

export interface RootWrappedPart {
  readonly context: string[];
  /** The bytes wrapped under the root key. */
  readonly wrapped: Buffer;
  /** The stored value with `rewrapped` in place of `wrapped` (the rest, such as an XKS material's prefix, kept). */
  rebuild(rewrapped: Buffer): Buffer;
}

const same = (b: Buffer) => b;

/**
 * The part of a secret wrapped under the root key; undefined when nothing of it is (a key in an HSM key store: its
 * MaterialRecord is only a reference to the key object in the token, 0xC1 ..., which stays as it is).
 */
export function rootWrappedPart(s: WrappedSecretRecord): RootWrappedPart | undefined {
  switch (s.kind) {
    case 'material': {
      if (parseHsmMaterialRef(s.wrapped)) return undefined;
      const context = materialWrapContext(s.keyArn, s.materialId);
      const xks = parseXksMaterial(s.wrapped);
      // A key in an external key store: 0xC2 || store id || XKS key id || the root-key-wrapped AES material.
      if (xks) return { context, wrapped: xks.inner, rebuild: (w) => xksMaterial(xks.customKeyStoreId, xks.xksKeyId, w) };
      return { context, wrapped: s.wrapped, rebuild: same };
    }
    case 'accessKey':
      return { context: accessKeyWrapContext(s.accessKeyId), wrapped: s.wrapped, rebuild: same };
    case 'customKeyStorePassword':
      return { context: passwordContext(s.customKeyStoreId), wrapped: s.wrapped, rebuild: same };
    case 'xksProxySecret':
      return { context: xksSecretContext(s.customKeyStoreId), wrapped: s.wrapped, rebuild: same };
    default:
      return s satisfies never;
  }
}

export const describeSecret = (s: WrappedSecretRecord): string => {
  switch (s.kind) {
    case 'material':
      return `key material ${s.materialId} of ${s.keyArn}`;
    case 'accessKey':
      return `the secret of access key ${s.accessKeyId}`;
    case 'customKeyStorePassword':
      return `the password of custom key store ${s.customKeyStoreId}`;
    case 'xksProxySecret':
      return `the proxy secret access key of external key store ${s.customKeyStoreId}`;
    default:
      return s satisfies never;
  }
};

/** The secrets wrapped under the root key that a snapshot record holds (erased material, with no bytes, holds none). */
export function wrappedSecretsOf(r: SnapshotRecord): WrappedSecretRecord[] {
  switch (r.type) {
    case 'material':
      return r.material.wrapped.length > 0 ? [{ kind: 'material', keyArn: r.material.keyArn, materialId: r.material.materialId, wrapped: r.material.wrapped }] : [];
    case 'accessKey':
      return [{ kind: 'accessKey', accessKeyId: r.accessKey.accessKeyId, wrapped: r.accessKey.secretWrapped }];
    case 'customKeyStore': {
      const c = r.customKeyStore;
      const out: WrappedSecretRecord[] = [];
      if (c.passwordWrapped) out.push({ kind: 'customKeyStorePassword', account: c.account, region: c.region, customKeyStoreId: c.customKeyStoreId, wrapped: c.passwordWrapped });
      if (c.xks) out.push({ kind: 'xksProxySecret', account: c.account, region: c.region, customKeyStoreId: c.customKeyStoreId, wrapped: c.xks.secretWrapped });
      return out;
    }
    default:
      return [];
  }
}
