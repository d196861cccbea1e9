// What `trent root-key migrate`, `root-key verify` and `restore` take as the root-key-wrapped part of each stored
// secret: a key in an external key store keeps its 0xC2 prefix around re-wrapped inner material (and still works
// through the local key store afterwards), an HSM key's reference holds nothing of the root key, proxy secrets and
// passwords are wrapped whole under their own contexts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { rootWrappedPart } from '../../src/cli/root-wrapped.js';
import { LocalKeyStore, materialWrapContext } from '../../src/keystores/local/local-keystore.js';
import { RootKey } from '../../src/keystores/local/root-key.js';
import { hsmMaterialRef, parseHsmMaterialRef, passwordContext } from '../../src/keystores/pkcs11/hsm-keystore.js';
import { parseXksMaterial, secretContext, xksMaterial } from '../../src/keystores/xks/xks-keystore.js';
import type { WrappedSecretRecord } from '../../src/domain/ports.js';

const oldRoot = RootKey.fromBytes(Buffer.alloc(32, 1));
const newRoot = RootKey.fromBytes(Buffer.alloc(32, 2));
const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const MID = 'a'.repeat(64);

/** The migrate callback's core: unwrap the part under the old key, wrap it under the new one, put it back. */
const rewrap = (s: WrappedSecretRecord): Buffer => {
  const part = rootWrappedPart(s);
  if (!part) return s.wrapped;
  const plain = oldRoot.unwrap(part.context, part.wrapped);
  assert.ok(plain, 'unwraps under the old key');
  return part.rebuild(newRoot.wrap(part.context, plain));
};

describe('root-key-wrapped parts of stored secrets', () => {
  it('an XKS material: the inner material is re-wrapped, the store id and XKS key id stay, and the key still encrypts', async () => {
    const random = { bytes: (n: number) => randomBytes(n), uuid: () => randomUUID() };
    const clock = { now: () => new Date() };
    const before = new LocalKeyStore(oldRoot, random, clock);
    const inner = await before.createMaterial(ARN, MID, 'SYMMETRIC_DEFAULT');
    const stored = xksMaterial('cks-0123456789abcdef0', 'external-key-1', inner.wrapped);
    const ct = await before.encrypt(inner, Buffer.from('inner layer'), Buffer.from('aad'));

    const part = rootWrappedPart({ kind: 'material', keyArn: ARN, materialId: MID, wrapped: stored });
    assert.ok(part);
    assert.deepEqual(part.context, materialWrapContext(ARN, MID));
    assert.ok(part.wrapped.equals(inner.wrapped), 'the part is the inner root-key-wrapped material');

    const migrated = rewrap({ kind: 'material', keyArn: ARN, materialId: MID, wrapped: stored });
    const parsed = parseXksMaterial(migrated);
    assert.ok(parsed);
    assert.equal(parsed.customKeyStoreId, 'cks-0123456789abcdef0');
    assert.equal(parsed.xksKeyId, 'external-key-1');
    assert.equal(oldRoot.unwrap(materialWrapContext(ARN, MID), parsed.inner), undefined, 'no longer under the old key');
    const after = new LocalKeyStore(newRoot, random, clock);
    const pt = await after.decrypt({ ...inner, wrapped: parsed.inner }, ct.iv, ct.ciphertext, ct.tag, Buffer.from('aad'));
    assert.ok(pt, 'decrypts under the new root key');
    assert.equal(Buffer.from(pt.unsafeBytes()).toString(), 'inner layer');
  });

  it('an HSM key reference holds nothing of the root key: left exactly as it is', () => {
    const ref = hsmMaterialRef('cks-0123456789abcdef0', Buffer.from(MID, 'hex'));
    assert.equal(rootWrappedPart({ kind: 'material', keyArn: ARN, materialId: MID, wrapped: ref }), undefined);
    const out = rewrap({ kind: 'material', keyArn: ARN, materialId: MID, wrapped: ref });
    assert.ok(out.equals(ref));
    assert.deepEqual(parseHsmMaterialRef(out), { customKeyStoreId: 'cks-0123456789abcdef0', ckaId: Buffer.from(MID, 'hex') });
  });

  it('ordinary material, proxy secrets and store passwords: wrapped whole, each under its own context', () => {
    const plain = Buffer.from('x'.repeat(43));
    const scope = { account: '111122223333', region: 'us-east-1', customKeyStoreId: 'cks-0123456789abcdef0' };
    const cases: [WrappedSecretRecord, string[]][] = [
      [{ kind: 'material', keyArn: ARN, materialId: MID, wrapped: oldRoot.wrap(materialWrapContext(ARN, MID), plain) }, materialWrapContext(ARN, MID)],
      [{ kind: 'xksProxySecret', ...scope, wrapped: oldRoot.wrap(secretContext(scope.customKeyStoreId), plain) }, ['xks-proxy-secret', scope.customKeyStoreId]],
      [{ kind: 'customKeyStorePassword', ...scope, wrapped: oldRoot.wrap(passwordContext(scope.customKeyStoreId), plain) }, passwordContext(scope.customKeyStoreId)],
    ];
    for (const [s, context] of cases) {
      const out = rewrap(s);
      assert.equal(newRoot.unwrap(context, out)?.toString(), plain.toString(), s.kind);
      assert.equal(newRoot.unwrap(['other'], out), undefined);
    }
  });
});
