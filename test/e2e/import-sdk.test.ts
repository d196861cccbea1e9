// Importing key material (origin EXTERNAL), end to end with @aws-sdk/client-kms against a real Trent (SQLite):
// token errors, wrong material, expiry with the moved clock and re-import, DeleteImportedKeyMaterial (erasure proved
// on the database file), on-demand rotation to new imported material, HMAC/RSA/ECC material.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, verify as verifySig, type KeyObject } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DeleteImportedKeyMaterialCommand, DescribeKeyCommand, EnableKeyRotationCommand, EncryptCommand,
  GenerateMacCommand, GetParametersForImportCommand, GetPublicKeyCommand, ImportKeyMaterialCommand, KMSClient, ListKeyRotationsCommand,
  RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, CancelKeyDeletionCommand, EnableKeyCommand, SignCommand, type AlgorithmSpec, type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { wrapForImport, type RsaWrappingAlgorithm } from '../../src/crypto/key-import.js';
import { sqliteDriver } from '../../src/storage/sqlite/driver.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { errorName } from '../helpers/poll.js';

const DAY_S = 86_400;

describe('import key material (SDK)', () => {
  let server: TestServer;
  let kms: KMSClient;

  const advance = async (seconds: number) => {
    const res = await fetch(new URL('/_trent/dev/clock', server.url), { method: 'POST', body: JSON.stringify({ advanceSeconds: seconds }) });
    assert.equal(res.status, 200);
    return Date.parse(((await res.json()) as { now: string }).now);
  };
  const externalKey = async (KeySpec: KeySpec = 'SYMMETRIC_DEFAULT', KeyUsage?: KeyUsageType) =>
    (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec, KeyUsage }))).KeyMetadata!;
  const params = async (KeyId: string, WrappingAlgorithm: AlgorithmSpec = 'RSAES_OAEP_SHA_256') => {
    const p = await kms.send(new GetParametersForImportCommand({ KeyId, WrappingAlgorithm, WrappingKeySpec: 'RSA_2048' }));
    return { token: p.ImportToken!, publicKey: createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' }), validTo: p.ParametersValidTo! };
  };
  const wrap = (publicKey: KeyObject, algorithm: RsaWrappingAlgorithm, material: Buffer) => wrapForImport(publicKey, algorithm, material, randomBytes(32));
  const importMaterial = async (KeyId: string, material: Buffer, extra: Partial<ConstructorParameters<typeof ImportKeyMaterialCommand>[0]> = {}, algorithm: RsaWrappingAlgorithm = 'RSAES_OAEP_SHA_256') => {
    const p = await params(KeyId, algorithm);
    return kms.send(new ImportKeyMaterialCommand({ KeyId, ImportToken: p.token, EncryptedKeyMaterial: wrap(p.publicKey, algorithm, material), ...extra }));
  };
  const describe_ = async (KeyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata!;
  const encrypt = async (KeyId: string, text: string) => (await kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from(text) }))).CiphertextBlob!;
  const decrypt = async (blob: Uint8Array) => Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString();

  before(async () => {
    server = await startServer({ args: ['--request-log', 'off'] });
    kms = devClient(server.url);
  });
  after(async () => {
    kms.destroy();
    await server.stop();
  });

  it('symmetric: PendingImport, import with expiry, token and material errors, expiry and re-import, erasure', async () => {
    const key = await externalKey();
    assert.equal(key.KeyState, 'PendingImport');
    assert.equal(key.Origin, 'EXTERNAL');
    assert.equal(await errorName(encrypt(key.KeyId!, 'x')), 'KMSInvalidStateException');
    const other = await externalKey();

    const material = randomBytes(32);
    // Errors first: nothing is written by a refused import.
    const p = await params(key.KeyId!);
    const wrapped = wrap(p.publicKey, 'RSAES_OAEP_SHA_256', material);
    assert.equal(await errorName(kms.send(new ImportKeyMaterialCommand({ KeyId: other.KeyId!, ImportToken: p.token, EncryptedKeyMaterial: wrapped }))), 'InvalidImportTokenException');
    const tampered = Buffer.from(p.token);
    tampered[tampered.length - 1]! ^= 1;
    assert.equal(await errorName(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: tampered, EncryptedKeyMaterial: wrapped }))), 'InvalidImportTokenException');
    assert.equal(await errorName(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: p.token, EncryptedKeyMaterial: randomBytes(256) }))), 'InvalidCiphertextException');
    assert.equal(await errorName(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: p.token, EncryptedKeyMaterial: wrap(p.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(16)) }))), 'IncorrectKeyMaterialException');
    assert.equal(await errorName(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: p.token, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_EXPIRES' }))), 'ValidationException');
    assert.equal((await describe_(key.KeyId!)).KeyState, 'PendingImport');

    const now = await advance(0);
    const validTo = new Date(now + 3 * DAY_S * 1000);
    const imported = await kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: p.token, EncryptedKeyMaterial: wrapped, ValidTo: validTo, KeyMaterialDescription: 'first' }));
    assert.match(imported.KeyMaterialId!, /^[0-9a-f]{64}$/);
    let meta = await describe_(key.KeyId!);
    assert.equal(meta.KeyState, 'Enabled');
    assert.equal(meta.ExpirationModel, 'KEY_MATERIAL_EXPIRES');
    assert.equal(meta.ValidTo?.getTime(), validTo.getTime());
    assert.equal(meta.CurrentKeyMaterialId, imported.KeyMaterialId);
    const blob = await encrypt(key.KeyId!, 'before expiry');
    assert.equal(await decrypt(blob), 'before expiry');

    // Different material is refused (EXISTING_KEY_MATERIAL); the token is still valid (24 h) until it is not.
    assert.equal(await errorName(importMaterial(key.KeyId!, randomBytes(32))), 'IncorrectKeyMaterialException');
    await advance(25 * 3600);
    assert.equal(await errorName(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: p.token, EncryptedKeyMaterial: wrapped }))), 'ExpiredImportTokenException');

    // Past ValidTo: the expiry job erases the material, the key is PendingImport, nothing decrypts.
    await advance(2 * DAY_S);
    meta = await describe_(key.KeyId!);
    assert.equal(meta.KeyState, 'PendingImport');
    assert.equal(await errorName(decrypt(blob)), 'KMSInvalidStateException');
    const rows = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId!, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations!;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.ImportState, 'PENDING_IMPORT');
    assert.equal(rows[0]!.KeyMaterialDescription, 'first');

    // The same material again: everything encrypted before decrypts again.
    const again = await importMaterial(key.KeyId!, material, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', KeyMaterialId: imported.KeyMaterialId });
    assert.equal(again.KeyMaterialId, imported.KeyMaterialId);
    meta = await describe_(key.KeyId!);
    assert.equal(meta.KeyState, 'Enabled');
    assert.equal(meta.ExpirationModel, 'KEY_MATERIAL_DOES_NOT_EXPIRE');
    assert.equal(meta.ValidTo, undefined);
    assert.equal(await decrypt(blob), 'before expiry');

    // DeleteImportedKeyMaterial: the wrapped bytes are gone from the database file and its WAL.
    const dbFile = path.join(server.dataDir, 'trent.db');
    const { Database } = sqliteDriver();
    const db = new Database(dbFile, { readonly: true });
    const stored = (db.prepare('SELECT wrapped FROM key_materials WHERE key_arn = ?').get(key.Arn!) as { wrapped: Buffer }).wrapped;
    db.close();
    const onDisk = () => [dbFile, `${dbFile}-wal`].filter(existsSync).some((f) => readFileSync(f).includes(stored));
    assert.ok(stored.length > 32);
    assert.ok(onDisk(), 'the wrapped material is in the database files before deletion');
    const deleted = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId! }));
    assert.equal(deleted.KeyMaterialId, imported.KeyMaterialId);
    assert.equal((await describe_(key.KeyId!)).KeyState, 'PendingImport');
    assert.equal(await errorName(decrypt(blob)), 'KMSInvalidStateException');
    assert.ok(!onDisk(), 'the wrapped material is gone from the database files');

    await importMaterial(key.KeyId!, material, {}, 'RSA_AES_KEY_WRAP_SHA_1');
    assert.equal(await decrypt(blob), 'before expiry');
  });

  it('CancelKeyDeletion of a key without its material returns it to PendingImport, not Disabled (found by the fuzz run)', async () => {
    const never = await externalKey();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: never.KeyId!, PendingWindowInDays: 7 }));
    await kms.send(new CancelKeyDeletionCommand({ KeyId: never.KeyId! }));
    assert.equal((await describe_(never.KeyId!)).KeyState, 'PendingImport');
    assert.equal(await errorName(kms.send(new EnableKeyCommand({ KeyId: never.KeyId! }))), 'KMSInvalidStateException');
    assert.equal(await errorName(encrypt(never.KeyId!, 'x')), 'KMSInvalidStateException');

    const erased = await externalKey();
    const now = await advance(0);
    await importMaterial(erased.KeyId!, randomBytes(32), { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(now + 86_400_000) });
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: erased.KeyId!, PendingWindowInDays: 7 }));
    await advance(2 * 86_400); // the material expires while the key is pending deletion
    await kms.send(new CancelKeyDeletionCommand({ KeyId: erased.KeyId! }));
    assert.equal((await describe_(erased.KeyId!)).KeyState, 'PendingImport');

    const kept = await externalKey();
    await importMaterial(kept.KeyId!, randomBytes(32), { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: kept.KeyId!, PendingWindowInDays: 7 }));
    await kms.send(new CancelKeyDeletionCommand({ KeyId: kept.KeyId! }));
    assert.equal((await describe_(kept.KeyId!)).KeyState, 'Disabled');
  });

  it('symmetric: new material imported for rotation becomes current on RotateKeyOnDemand', async () => {
    const key = await externalKey();
    const first = await importMaterial(key.KeyId!, randomBytes(32));
    const old = await encrypt(key.KeyId!, 'old');
    assert.equal(await errorName(kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId! }))), 'UnsupportedOperationException');
    assert.equal(await errorName(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId! }))), 'KMSInvalidStateException');
    const second = await importMaterial(key.KeyId!, randomBytes(32), { ImportType: 'NEW_KEY_MATERIAL', KeyMaterialDescription: 'next' }, 'RSA_AES_KEY_WRAP_SHA_256');
    assert.notEqual(second.KeyMaterialId, first.KeyMaterialId);
    let rotations = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId! }))).Rotations!;
    assert.deepEqual(rotations.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.ImportState]), [[second.KeyMaterialId, 'PENDING_ROTATION', 'IMPORTED']]);
    assert.equal((await describe_(key.KeyId!)).CurrentKeyMaterialId, first.KeyMaterialId);
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId! }));
    assert.equal((await describe_(key.KeyId!)).CurrentKeyMaterialId, second.KeyMaterialId);
    rotations = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId! }))).Rotations!;
    assert.deepEqual(rotations.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.RotationType, r.KeyMaterialDescription]), [[second.KeyMaterialId, 'CURRENT', 'ON_DEMAND', 'next']]);
    const fresh = await encrypt(key.KeyId!, 'new');
    assert.equal(await decrypt(old), 'old');
    assert.equal(await decrypt(fresh), 'new');
  });

  it('HMAC, RSA and ECC material; wrapping rules', async () => {
    const hmacKey = await externalKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    const hmacMaterial = randomBytes(40);
    await importMaterial(hmacKey.KeyId!, hmacMaterial, {}, 'RSA_AES_KEY_WRAP_SHA_256');
    const mac = await kms.send(new GenerateMacCommand({ KeyId: hmacKey.KeyId!, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('m') }));
    assert.deepEqual(Buffer.from(mac.Mac!), createHmac('sha256', hmacMaterial).update('m').digest());
    // A key's first material is its only one: no NEW_KEY_MATERIAL for HMAC keys.
    assert.equal(await errorName(importMaterial(hmacKey.KeyId!, randomBytes(40), { ImportType: 'NEW_KEY_MATERIAL' })), 'UnsupportedOperationException');

    const rsaKey = await externalKey('RSA_2048', 'SIGN_VERIFY');
    assert.equal(await errorName(params(rsaKey.KeyId!, 'RSAES_OAEP_SHA_256')), 'UnsupportedOperationException');
    assert.equal(await errorName(params(rsaKey.KeyId!, 'RSAES_PKCS1_V1_5')), 'UnsupportedOperationException');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    // Material of the wrong type for the key spec.
    assert.equal(await errorName(importMaterial(rsaKey.KeyId!, ec.privateKey.export({ format: 'der', type: 'pkcs8' }), {}, 'RSA_AES_KEY_WRAP_SHA_256')), 'IncorrectKeyMaterialException');
    await importMaterial(rsaKey.KeyId!, rsa.privateKey.export({ format: 'der', type: 'pkcs8' }), {}, 'RSA_AES_KEY_WRAP_SHA_256');
    const rsaPub = (await kms.send(new GetPublicKeyCommand({ KeyId: rsaKey.KeyId! }))).PublicKey!;
    assert.deepEqual(Buffer.from(rsaPub), rsa.publicKey.export({ format: 'der', type: 'spki' }));

    const ecKey = await externalKey('ECC_NIST_P256', 'SIGN_VERIFY');
    await importMaterial(ecKey.KeyId!, ec.privateKey.export({ format: 'der', type: 'pkcs8' }), {}, 'RSAES_OAEP_SHA_1');
    const sig = await kms.send(new SignCommand({ KeyId: ecKey.KeyId!, Message: Buffer.from('hello'), SigningAlgorithm: 'ECDSA_SHA_256' }));
    assert.ok(verifySig('sha256', Buffer.from('hello'), ec.publicKey, Buffer.from(sig.Signature!)));

    assert.equal(await errorName(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec: 'ML_DSA_44', KeyUsage: 'SIGN_VERIFY' }))), 'UnsupportedOperationException');
    const aws = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.equal(await errorName(params(aws.KeyId!)), 'UnsupportedOperationException');
  });
});
