// Importing key material wrapped with SM2PKE (WrappingKeySpec SM2), end to end with @aws-sdk/client-kms against a real
// Trent, the wrapping done by the openssl binary (`openssl pkeyutl -encrypt` with the SM2 wrapping public key: an
// implementation independent of Trent's). Material is piped to openssl on stdin, never written to disk. Also SM2 keys
// with Origin EXTERNAL: PKCS#8 from `openssl genpkey -algorithm SM2`, signatures verified by openssl.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GetParametersForImportCommand, GetPublicKeyCommand,
  ImportKeyMaterialCommand, KMSClient, SignCommand, type AlgorithmSpec, type KeySpec, type KeyUsageType, type WrappingKeySpec,
} from '@aws-sdk/client-kms';
import { wrapForImport } from '../../src/crypto/key-import.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

describe('import key material wrapped with SM2PKE (SDK + openssl)', () => {
  let server: TestServer;
  let kms: KMSClient;
  let work: string;

  const openssl = (args: string[], input?: Buffer): Buffer =>
    execFileSync('openssl', args, { cwd: work, input, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const file = (name: string, data: Buffer | string): string => {
    const p = path.join(work, name);
    writeFileSync(p, data);
    return p;
  };
  const rejects = async (p: Promise<unknown>, name: string, message?: RegExp): Promise<void> => {
    await assert.rejects(p, (e: Error) => (assert.equal(e.name, name), message && assert.match(e.message, message), true));
  };
  const externalKey = async (KeySpec: KeySpec = 'SYMMETRIC_DEFAULT', KeyUsage?: KeyUsageType) =>
    (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec, KeyUsage }))).KeyMetadata!;
  const params = (KeyId: string, WrappingAlgorithm: AlgorithmSpec = 'SM2PKE', WrappingKeySpec: WrappingKeySpec = 'SM2') =>
    kms.send(new GetParametersForImportCommand({ KeyId, WrappingAlgorithm, WrappingKeySpec }));
  /** `openssl pkeyutl -encrypt` with the SM2 wrapping public key; the material goes in on stdin. */
  const sm2Wrap = (publicKey: Uint8Array, material: Buffer): Buffer =>
    openssl(['pkeyutl', '-encrypt', '-pubin', '-keyform', 'der', '-inkey', file(`wrap-${randomBytes(4).toString('hex')}.der`, Buffer.from(publicKey))], material);
  const importSm2 = async (KeyId: string, material: Buffer) => {
    const p = await params(KeyId);
    return kms.send(new ImportKeyMaterialCommand({ KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: sm2Wrap(p.PublicKey!, material) }));
  };
  const state = async (KeyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata!.KeyState;

  before(async () => {
    server = await startServer({ args: ['--request-log', 'off'] });
    kms = devClient(server.url);
    work = mkdtempSync(path.join(tmpdir(), 'trent-import-sm2-'));
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('symmetric material wrapped by openssl with SM2PKE imports; Encrypt/Decrypt work; errors as AWS answers them', async () => {
    const key = await externalKey();
    const other = await externalKey();
    const p = await params(key.KeyId!);
    // A fresh SM2 wrapping key per call, as SPKI with the SM2 curve; valid for 24 hours.
    assert.match(openssl(['pkey', '-pubin', '-inform', 'der', '-in', file('wrapping.der', Buffer.from(p.PublicKey!)), '-text', '-noout']).toString(), /ASN1 OID: SM2/);
    assert.notDeepEqual(Buffer.from((await params(key.KeyId!)).PublicKey!), Buffer.from(p.PublicKey!));
    const hours = (p.ParametersValidTo!.getTime() - Date.now()) / 3_600_000;
    assert.ok(hours > 23.9 && hours <= 24.01, `ParametersValidTo in ${hours} h`);

    // Wrong combinations of wrapping algorithm and wrapping key spec.
    await rejects(params(key.KeyId!, 'SM2PKE', 'RSA_2048'), 'ValidationException', /SM2PKE/);
    await rejects(params(key.KeyId!, 'RSAES_OAEP_SHA_256', 'SM2'), 'ValidationException', /SM2/);
    await rejects(params(key.KeyId!, 'RSA_AES_KEY_WRAP_SHA_256', 'SM2'), 'ValidationException', /SM2/);

    const material = randomBytes(32);
    const wrapped = sm2Wrap(p.PublicKey!, material);
    // Another key's token; a tampered token; a ciphertext that does not decrypt; an RSA-wrapped material with an
    // SM2 token; material of the wrong size.
    await rejects(kms.send(new ImportKeyMaterialCommand({ KeyId: other.KeyId!, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped })), 'InvalidImportTokenException');
    const tampered = Buffer.from(p.ImportToken!);
    tampered[tampered.length - 1]! ^= 1;
    await rejects(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: tampered, EncryptedKeyMaterial: wrapped })), 'InvalidImportTokenException');
    const flipped = Buffer.from(wrapped);
    flipped[flipped.length - 1]! ^= 1;
    await rejects(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: p.ImportToken, EncryptedKeyMaterial: flipped })), 'InvalidCiphertextException');
    const rsa = await params(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
    const rsaWrapped = wrapForImport(createPublicKey({ key: Buffer.from(rsa.PublicKey!), format: 'der', type: 'spki' }), 'RSAES_OAEP_SHA_256', material, randomBytes(32));
    await rejects(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: p.ImportToken, EncryptedKeyMaterial: rsaWrapped })), 'InvalidCiphertextException');
    await rejects(kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: p.ImportToken, EncryptedKeyMaterial: sm2Wrap(p.PublicKey!, randomBytes(16)) })), 'IncorrectKeyMaterialException');
    assert.equal(await state(key.KeyId!), 'PendingImport');

    const imported = await kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped }));
    assert.equal(await state(key.KeyId!), 'Enabled');
    const blob = (await kms.send(new EncryptCommand({ KeyId: key.KeyId!, Plaintext: Buffer.from('under SM2PKE-imported material') }))).CiphertextBlob!;
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'under SM2PKE-imported material');
    // The same material through the RSA path is the same material (same id); other material is refused.
    const again = await kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: rsa.ImportToken, EncryptedKeyMaterial: rsaWrapped }));
    assert.equal(again.KeyMaterialId, imported.KeyMaterialId);
    await rejects(importSm2(key.KeyId!, randomBytes(32)), 'IncorrectKeyMaterialException');
  });

  it('SM2 keys with Origin EXTERNAL take SM2 PKCS#8 from openssl (curve checked) and sign for openssl', async () => {
    const key = await externalKey('SM2', 'SIGN_VERIFY');
    assert.equal(key.KeyState, 'PendingImport');
    assert.equal(key.Origin, 'EXTERNAL');
    // The private key only ever travels through pipes: genpkey → pkcs8 (DER) → this process → pkeyutl -encrypt.
    const pkcs8 = openssl(['pkcs8', '-topk8', '-outform', 'der', '-nocrypt'], openssl(['genpkey', '-algorithm', 'SM2']));
    const expectedSpki = openssl(['pkey', '-inform', 'der', '-pubout', '-outform', 'der'], pkcs8);

    // Wrong curve (P-256 PKCS#8) and not a key at all: IncorrectKeyMaterialException.
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'der', type: 'pkcs8' });
    await rejects(importSm2(key.KeyId!, p256), 'IncorrectKeyMaterialException', /SM2/);
    await rejects(importSm2(key.KeyId!, randomBytes(32)), 'IncorrectKeyMaterialException');
    // SM2 material into a P-256 key: refused too.
    const eccKey = await externalKey('ECC_NIST_P256', 'SIGN_VERIFY');
    await rejects(importSm2(eccKey.KeyId!, pkcs8), 'IncorrectKeyMaterialException');
    assert.equal(await state(key.KeyId!), 'PendingImport');

    await importSm2(key.KeyId!, pkcs8);
    assert.equal(await state(key.KeyId!), 'Enabled');
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId! }));
    assert.deepEqual(Buffer.from(pub.PublicKey!), expectedSpki);
    const message = Buffer.from('signed with imported SM2 material');
    const sig = await kms.send(new SignCommand({ KeyId: key.KeyId!, Message: message, SigningAlgorithm: 'SM2DSA' }));
    assert.match(openssl(['pkeyutl', '-verify', '-pubin', '-keyform', 'der', '-inkey', file('imported-pub.der', expectedSpki), '-rawin', '-in', file('msg', message),
      '-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678', '-sigfile', file('sig', Buffer.from(sig.Signature!))]).toString(), /Verified Successfully/);
    // SM2 material can also be wrapped with an RSA wrapping key (RSA_AES_KEY_WRAP_SHA_256): the same material again.
    const rsa = await params(key.KeyId!, 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_3072');
    const rsaWrapped = wrapForImport(createPublicKey({ key: Buffer.from(rsa.PublicKey!), format: 'der', type: 'spki' }), 'RSA_AES_KEY_WRAP_SHA_256', pkcs8, randomBytes(32));
    await kms.send(new ImportKeyMaterialCommand({ KeyId: key.KeyId!, ImportToken: rsa.ImportToken, EncryptedKeyMaterial: rsaWrapped }));
    pkcs8.fill(0);
  });
});
