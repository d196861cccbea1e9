// SM2 keys end to end with @aws-sdk/client-kms, checked against OpenSSL: SM2DSA signatures verify with
// `openssl pkeyutl -verify -pkeyopt distid:1234567812345678`, OpenSSL's SM2PKE ciphertexts decrypt in Trent, ECDH
// secrets equal OpenSSL's (Node's ECDH on the SM2 curve: `openssl pkeyutl -derive` refuses SM2 keys in 3.0), and
// SM2 data key pairs load in OpenSSL; and the aws CLI creates, signs, verifies and gets the public key of an SM2 key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createECDH, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand, GetPublicKeyCommand, KMSClient, ReEncryptCommand, SignCommand, VerifyCommand,
  type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { sm3 } from '../../src/crypto/sm3.js';
import { Sm2Key } from '../../src/crypto/sm2.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { awsCli } from '../helpers/aws-cli.js';

const SM2_A = 'fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc';
const SM2_B = '28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93';
const SM2_G = '32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0';
/** SM3(Z_A || M) with the given distinguishing ID, as AWS's calculateSM2Digest computes it (from the SPKI's point). */
const sm2Digest = (spki: Buffer, message: Buffer, id = '1234567812345678'): Buffer => {
  const point = spki.subarray(spki.length - 64);
  const za = sm3(Buffer.from([(id.length * 8) >> 8, (id.length * 8) & 0xff]), Buffer.from(id), Buffer.from(SM2_A + SM2_B + SM2_G, 'hex'), point);
  return sm3(za, message);
};

describe('SM2 keys through @aws-sdk/client-kms and openssl', () => {
  let server: TestServer;
  let kms: KMSClient;
  let work: string;
  const keys: Record<string, string> = {};
  const create = async (spec: KeySpec, usage?: KeyUsageType): Promise<string> =>
    (await kms.send(new CreateKeyCommand({ KeySpec: spec, ...(usage ? { KeyUsage: usage } : {}) }))).KeyMetadata!.KeyId!;
  const file = (name: string, data: Buffer | string): string => {
    const p = path.join(work, name);
    writeFileSync(p, data);
    return p;
  };
  const openssl = (...args: string[]): Buffer => execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  const spkiOf = async (keyId: string): Promise<Buffer> => Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);
  const rejects = async (p: Promise<unknown>, name: string, message?: RegExp): Promise<void> => {
    await assert.rejects(p, (e: Error) => (assert.equal(e.name, name), message && assert.match(e.message, message), true));
  };

  before(async () => {
    server = await startServer();
    kms = devClient(server.url);
    work = mkdtempSync(path.join(tmpdir(), 'trent-sm2-'));
    for (const usage of ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'KEY_AGREEMENT'] as const) keys[usage] = await create('SM2', usage);
    keys.sym = await create('SYMMETRIC_DEFAULT');
    keys.p256 = await create('ECC_NIST_P256', 'KEY_AGREEMENT');
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('creates SM2 keys for the three usages AWS allows, with the algorithm list of each', async () => {
    const md = async (id: string) => (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    const enc = await md(keys.ENCRYPT_DECRYPT!);
    assert.equal(enc.KeySpec, 'SM2');
    assert.deepEqual(enc.EncryptionAlgorithms, ['SM2PKE']);
    assert.equal(enc.SigningAlgorithms, undefined);
    assert.deepEqual((await md(keys.SIGN_VERIFY!)).SigningAlgorithms, ['SM2DSA']);
    assert.deepEqual((await md(keys.KEY_AGREEMENT!)).KeyAgreementAlgorithms, ['ECDH']);
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'SM2' })), 'ValidationException', /You must specify a KeyUsage value when KeySpec is SM2/);
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'SM2', KeyUsage: 'GENERATE_VERIFY_MAC' })), 'ValidationException', /not compatible/);
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: keys.SIGN_VERIFY }));
    assert.equal(pub.KeySpec, 'SM2');
    assert.deepEqual(pub.SigningAlgorithms, ['SM2DSA']);
    // id-ecPublicKey with the SM2 curve OID 1.2.156.10197.1.301, as OpenSSL reads it.
    assert.match(openssl('pkey', '-pubin', '-inform', 'der', '-in', file('pub.der', Buffer.from(pub.PublicKey!)), '-text', '-noout').toString(), /ASN1 OID: SM2/);
  });

  it('signs with SM2DSA (RAW and DIGEST = SM3(Z_A || M)) as OpenSSL verifies with distid 1234567812345678', async () => {
    const id = keys.SIGN_VERIFY!;
    const spki = await spkiOf(id);
    const pubFile = file('sign-pub.der', spki);
    const message = Buffer.from('SM2 signed by Trent');
    const msgFile = file('msg', message);
    const verify = (sig: Uint8Array): string =>
      openssl('pkeyutl', '-verify', '-pubin', '-keyform', 'der', '-inkey', pubFile, '-rawin', '-in', msgFile, '-digest', 'sm3',
        '-pkeyopt', 'distid:1234567812345678', '-sigfile', file('sig', Buffer.from(sig))).toString();
    const raw = await kms.send(new SignCommand({ KeyId: id, Message: message, SigningAlgorithm: 'SM2DSA' }));
    assert.equal(raw.SigningAlgorithm, 'SM2DSA');
    assert.match(verify(raw.Signature!), /Verified Successfully/);
    const digest = sm2Digest(spki, message);
    const dig = await kms.send(new SignCommand({ KeyId: id, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'SM2DSA' }));
    assert.match(verify(dig.Signature!), /Verified Successfully/);
    // Verify in Trent: each signature against both message types; OpenSSL's signature too.
    for (const sig of [raw.Signature!, dig.Signature!]) {
      assert.equal((await kms.send(new VerifyCommand({ KeyId: id, Message: message, Signature: sig, SigningAlgorithm: 'SM2DSA' }))).SignatureValid, true);
      assert.equal((await kms.send(new VerifyCommand({ KeyId: id, Message: digest, MessageType: 'DIGEST', Signature: sig, SigningAlgorithm: 'SM2DSA' }))).SignatureValid, true);
    }
    // Negative: a tampered signature, another message, a digest of the wrong length, the wrong algorithm.
    const bad = Buffer.from(raw.Signature!);
    bad[bad.length - 1]! ^= 1;
    await rejects(kms.send(new VerifyCommand({ KeyId: id, Message: message, Signature: bad, SigningAlgorithm: 'SM2DSA' })), 'KMSInvalidSignatureException');
    await rejects(kms.send(new VerifyCommand({ KeyId: id, Message: Buffer.from('other'), Signature: raw.Signature!, SigningAlgorithm: 'SM2DSA' })), 'KMSInvalidSignatureException');
    await rejects(kms.send(new SignCommand({ KeyId: id, Message: Buffer.alloc(48), MessageType: 'DIGEST', SigningAlgorithm: 'SM2DSA' })), 'ValidationException', /Digest is invalid length/);
    await rejects(kms.send(new SignCommand({ KeyId: id, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })), 'InvalidKeyUsageException', /ECDSA_SHA_256 is incompatible with key spec SM2/);
    await rejects(kms.send(new SignCommand({ KeyId: keys.ENCRYPT_DECRYPT, Message: message, SigningAlgorithm: 'SM2DSA' })), 'InvalidKeyUsageException', /key usage is ENCRYPT_DECRYPT/);
  });

  it('decrypts what OpenSSL encrypts to the public key, encrypts up to 1024 bytes, re-encrypts, and refuses what AWS refuses', async () => {
    const id = keys.ENCRYPT_DECRYPT!;
    const pubFile = file('enc-pub.der', await spkiOf(id));
    const plaintext = Buffer.from('encrypted by OpenSSL');
    const ciphertext = openssl('pkeyutl', '-encrypt', '-pubin', '-keyform', 'der', '-inkey', pubFile, '-in', file('pt', plaintext));
    const dec = await kms.send(new DecryptCommand({ KeyId: id, CiphertextBlob: ciphertext, EncryptionAlgorithm: 'SM2PKE' }));
    assert.deepEqual(Buffer.from(dec.Plaintext!), plaintext);
    assert.equal(dec.EncryptionAlgorithm, 'SM2PKE');

    const max = Buffer.alloc(1024, 7);
    const enc = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: max, EncryptionAlgorithm: 'SM2PKE' }));
    assert.equal(enc.EncryptionAlgorithm, 'SM2PKE');
    // AWS's format: ASN.1 SEQUENCE { x1, y1, C3, C2 } (what `openssl asn1parse` accepts).
    assert.match(openssl('asn1parse', '-inform', 'DER', '-in', file('ct.der', Buffer.from(enc.CiphertextBlob!))).toString(), /INTEGER[\s\S]*INTEGER[\s\S]*OCTET STRING[\s\S]*OCTET STRING/);
    assert.deepEqual(Buffer.from((await kms.send(new DecryptCommand({ KeyId: id, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: 'SM2PKE' }))).Plaintext!), max);
    const re = await kms.send(new ReEncryptCommand({
      CiphertextBlob: enc.CiphertextBlob, SourceKeyId: id, SourceEncryptionAlgorithm: 'SM2PKE', DestinationKeyId: keys.sym,
    }));
    assert.equal(re.SourceEncryptionAlgorithm, 'SM2PKE');
    assert.deepEqual(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob }))).Plaintext!), max);
    const back = await kms.send(new ReEncryptCommand({ CiphertextBlob: re.CiphertextBlob, DestinationKeyId: id, DestinationEncryptionAlgorithm: 'SM2PKE' }));
    assert.deepEqual(Buffer.from((await kms.send(new DecryptCommand({ KeyId: id, CiphertextBlob: back.CiphertextBlob, EncryptionAlgorithm: 'SM2PKE' }))).Plaintext!), max);

    await rejects(kms.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.alloc(1025), EncryptionAlgorithm: 'SM2PKE' })), 'ValidationException', /at most 1024 bytes/);
    await rejects(kms.send(new EncryptCommand({ KeyId: id, Plaintext: plaintext })), 'InvalidKeyUsageException', /SYMMETRIC_DEFAULT/);
    await rejects(kms.send(new EncryptCommand({ KeyId: id, Plaintext: plaintext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })), 'InvalidKeyUsageException');
    await rejects(kms.send(new EncryptCommand({ KeyId: id, Plaintext: plaintext, EncryptionAlgorithm: 'SM2PKE', EncryptionContext: { a: 'b' } })), 'ValidationException', /EncryptionContext/);
    const tampered = Buffer.from(ciphertext);
    tampered[tampered.length - 1]! ^= 1;
    await rejects(kms.send(new DecryptCommand({ KeyId: id, CiphertextBlob: tampered, EncryptionAlgorithm: 'SM2PKE' })), 'InvalidCiphertextException');
    await rejects(kms.send(new DecryptCommand({ KeyId: id, CiphertextBlob: Buffer.from('not asn.1'), EncryptionAlgorithm: 'SM2PKE' })), 'InvalidCiphertextException');
  });

  it('derives the ECDH secret OpenSSL derives on the SM2 curve, and refuses peers on other curves', async () => {
    const id = keys.KEY_AGREEMENT!;
    const trentPoint = (await spkiOf(id)).subarray(-65);
    const peer = generateKeyPairSync('ec', { namedCurve: 'SM2' });
    const peerSpki = peer.publicKey.export({ type: 'spki', format: 'der' });
    const peerPkcs8 = peer.privateKey.export({ type: 'pkcs8', format: 'der' });
    assert.equal(peerPkcs8.subarray(34, 36).toString('hex'), '0420');
    const ecdh = createECDH('SM2');
    ecdh.setPrivateKey(peerPkcs8.subarray(36, 68));
    let expected: Buffer;
    try {
      expected = ecdh.computeSecret(trentPoint);
    } catch (err) {
      // OpenSSL 3.5 (Node 24) refuses plain ECDH with SM2 keys: compute the peer's side with Trent's pure SM2 code,
      // which the Node 20 leg of CI (OpenSSL 3.0) checks against OpenSSL.
      if ((err as { code?: string }).code !== 'ERR_CRYPTO_INVALID_KEYPAIR') throw err;
      expected = Sm2Key.fromPkcs8(peerPkcs8).ecdh(trentPoint);
    }
    const out = await kms.send(new DeriveSharedSecretCommand({ KeyId: id, KeyAgreementAlgorithm: 'ECDH', PublicKey: peerSpki }));
    assert.equal(out.KeyAgreementAlgorithm, 'ECDH');
    assert.deepEqual(Buffer.from(out.SharedSecret!), expected);
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
    await rejects(kms.send(new DeriveSharedSecretCommand({ KeyId: id, KeyAgreementAlgorithm: 'ECDH', PublicKey: p256 })), 'ValidationException', /does not match the key spec SM2/);
    await rejects(kms.send(new DeriveSharedSecretCommand({ KeyId: keys.p256, KeyAgreementAlgorithm: 'ECDH', PublicKey: peerSpki })), 'ValidationException', /SM2/);
    await rejects(kms.send(new DeriveSharedSecretCommand({ KeyId: id, KeyAgreementAlgorithm: 'ECDH', PublicKey: peerSpki.subarray(0, 40) })), 'ValidationException');
    await rejects(kms.send(new DeriveSharedSecretCommand({ KeyId: keys.SIGN_VERIFY, KeyAgreementAlgorithm: 'ECDH', PublicKey: peerSpki })), 'InvalidKeyUsageException');
  });

  it('generates SM2 data key pairs that load in OpenSSL', async () => {
    const out = await kms.send(new GenerateDataKeyPairCommand({ KeyId: keys.sym, KeyPairSpec: 'SM2', EncryptionContext: { purpose: 'sm2' } }));
    assert.equal(out.KeyPairSpec, 'SM2');
    const derived = openssl('pkey', '-inform', 'der', '-in', file('dkp.der', Buffer.from(out.PrivateKeyPlaintext!)), '-pubout', '-outform', 'der');
    assert.deepEqual(derived, Buffer.from(out.PublicKey!));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: { purpose: 'sm2' } }));
    assert.deepEqual(Buffer.from(dec.Plaintext!), Buffer.from(out.PrivateKeyPlaintext!));
    const bare = await kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keys.sym, KeyPairSpec: 'SM2' }));
    assert.equal(bare.KeyPairSpec, 'SM2');
    const priv = Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: bare.PrivateKeyCiphertextBlob }))).Plaintext!);
    assert.deepEqual(openssl('pkey', '-inform', 'der', '-in', file('dkp2.der', priv), '-pubout', '-outform', 'der'), Buffer.from(bare.PublicKey!));
  });

  it('the aws CLI creates an SM2 signing key, signs with SM2DSA, verifies and gets the public key', async () => {
    const aws = awsCli(server.url, work);
    const created = await aws('create-key', '--key-spec', 'SM2', '--key-usage', 'SIGN_VERIFY');
    assert.equal(created.KeyMetadata.KeySpec, 'SM2');
    assert.deepEqual(created.KeyMetadata.SigningAlgorithms, ['SM2DSA']);
    const id: string = created.KeyMetadata.KeyId;
    file('cli-msg.bin', 'SM2 signed through the aws CLI');
    const signed = await aws('sign', '--key-id', id, '--message', 'fileb://cli-msg.bin', '--message-type', 'RAW', '--signing-algorithm', 'SM2DSA');
    assert.equal(signed.SigningAlgorithm, 'SM2DSA');
    const sigFile = file('cli-sig.bin', Buffer.from(signed.Signature, 'base64'));
    const verified = await aws('verify', '--key-id', id, '--message', 'fileb://cli-msg.bin', '--signature', 'fileb://cli-sig.bin', '--signing-algorithm', 'SM2DSA');
    assert.equal(verified.SignatureValid, true);
    const pub = await aws('get-public-key', '--key-id', id);
    assert.equal(pub.KeySpec, 'SM2');
    assert.deepEqual(pub.SigningAlgorithms, ['SM2DSA']);
    // The CLI's signature verifies in OpenSSL with the CLI's public key.
    const pubFile = file('cli-pub.der', Buffer.from(pub.PublicKey, 'base64'));
    assert.match(openssl('pkeyutl', '-verify', '-pubin', '-keyform', 'der', '-inkey', pubFile, '-rawin', '-in', path.join(work, 'cli-msg.bin'), '-digest', 'sm3',
      '-pkeyopt', 'distid:1234567812345678', '-sigfile', sigFile).toString(), /Verified Successfully/);
  });
});
