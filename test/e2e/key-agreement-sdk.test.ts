// DeriveSharedSecret and GenerateDataKeyPair(WithoutPlaintext) end to end with @aws-sdk/client-kms, checked against
// the openssl binary: `openssl pkeyutl -derive` finds the same ECDH secret, and data key pairs load in OpenSSL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand,
  GetPublicKeyCommand, KMSClient, type DataKeyPairSpec, type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { awsCli } from '../helpers/aws-cli.js';

describe('DeriveSharedSecret and GenerateDataKeyPair through @aws-sdk/client-kms and openssl', () => {
  let server: TestServer;
  let kms: KMSClient;
  let work: string;
  const create = async (spec: KeySpec, usage?: KeyUsageType): Promise<string> =>
    (await kms.send(new CreateKeyCommand({ KeySpec: spec, ...(usage ? { KeyUsage: usage } : {}) }))).KeyMetadata!.KeyId!;
  const file = (name: string, data: Buffer | string): string => {
    const p = path.join(work, name);
    writeFileSync(p, data);
    return p;
  };
  const openssl = (...args: string[]): Buffer => execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });

  before(async () => {
    server = await startServer();
    kms = devClient(server.url);
    work = mkdtempSync(path.join(tmpdir(), 'trent-ka-'));
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const curves = [['ECC_NIST_P256', 'P-256'], ['ECC_NIST_P384', 'P-384'], ['ECC_NIST_P521', 'P-521']] as const;
  for (const [spec, name] of curves) {
    it(`${spec}: the shared secret equals openssl pkeyutl -derive with the peer's private key`, async () => {
      const keyId = await create(spec, 'KEY_AGREEMENT');
      openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${name}`, '-out', 'peer.pem');
      const peerSpki = openssl('pkey', '-in', 'peer.pem', '-pubout', '-outform', 'DER');
      const out = await kms.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peerSpki }));
      assert.equal(out.KeyAgreementAlgorithm, 'ECDH');
      assert.equal(out.KeyOrigin, 'AWS_KMS');
      const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
      file('kms-pub.der', Buffer.from(PublicKey!));
      openssl('pkey', '-pubin', '-inform', 'DER', '-in', 'kms-pub.der', '-out', 'kms-pub.pem');
      const theirs = openssl('pkeyutl', '-derive', '-inkey', 'peer.pem', '-peerkey', 'kms-pub.pem');
      assert.equal(theirs.length, { P: 0, 'P-256': 32, 'P-384': 48, 'P-521': 66 }[name]);
      assert.deepEqual(Buffer.from(out.SharedSecret!), theirs);
    });
  }

  it('refuses other curves, malformed keys, wrong usages, Recipient, and answers DryRun', async () => {
    const p256 = await create('ECC_NIST_P256', 'KEY_AGREEMENT');
    const derive = (KeyId: string, PublicKey: Uint8Array, extra: object = {}) =>
      kms.send(new DeriveSharedSecretCommand({ KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey, ...extra }));
    const spki = (curve: string) => generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ type: 'spki', format: 'der' });
    const good = spki('prime256v1');
    const invalid = async (pub: Uint8Array, message: RegExp, why: string) =>
      assert.rejects(derive(p256, pub), (e: Error) => (assert.equal(e.name, 'ValidationException', why), assert.match(e.message, message, why), true));
    await invalid(spki('secp384r1'), /secp384r1.*does not match the key spec ECC_NIST_P256/, 'P-384 peer');
    await invalid(spki('secp256k1'), /secp256k1/, 'secp256k1 peer');
    await invalid(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }), /does not match/, 'Ed25519 peer');
    await invalid(Buffer.from('not a key'), /DER-encoded X\.509 SubjectPublicKeyInfo/, 'garbage');
    await invalid(good.subarray(0, good.length - 1), /SubjectPublicKeyInfo/, 'truncated');
    await invalid(Buffer.concat([good, Buffer.from([0])]), /SubjectPublicKeyInfo/, 'trailing byte');
    const offCurve = Buffer.from(good);
    offCurve[offCurve.length - 1]! ^= 1; // y no longer matches x: the point is not on the curve
    await invalid(offCurve, /SubjectPublicKeyInfo/, 'point off the curve');
    await invalid(Buffer.from(createPublicKey({ key: good, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' })), /SubjectPublicKeyInfo/, 'PEM');
    const signing = await create('ECC_NIST_P256', 'SIGN_VERIFY');
    await assert.rejects(derive(signing, good), (e: Error) => (assert.equal(e.name, 'InvalidKeyUsageException'), assert.match(e.message, /key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret\.$/), true));
    await assert.rejects(derive(await create('SYMMETRIC_DEFAULT'), good), { name: 'InvalidKeyUsageException' });
    await assert.rejects(derive(p256, good, { Recipient: { AttestationDocument: Buffer.from('x') } }), { name: 'UnsupportedOperationException' });
    await assert.rejects(derive(p256, good, { DryRun: true }), { name: 'DryRunOperationException' });
    await assert.rejects(
      kms.send(new DeriveSharedSecretCommand({ KeyId: p256, KeyAgreementAlgorithm: 'ECDH_X' as 'ECDH', PublicKey: good })),
      { name: 'ValidationException' },
    );
  });

  const pairSpecs: [DataKeyPairSpec, string, object][] = [
    ['RSA_2048', 'rsa', { modulusLength: 2048 }], ['RSA_3072', 'rsa', { modulusLength: 3072 }], ['RSA_4096', 'rsa', { modulusLength: 4096 }],
    ['ECC_NIST_P256', 'ec', { namedCurve: 'prime256v1' }], ['ECC_NIST_P384', 'ec', { namedCurve: 'secp384r1' }],
    ['ECC_NIST_P521', 'ec', { namedCurve: 'secp521r1' }], ['ECC_SECG_P256K1', 'ec', { namedCurve: 'secp256k1' }],
    ['ECC_NIST_EDWARDS25519', 'ed25519', {}],
  ];
  it('GenerateDataKeyPair: every KeyPairSpec; PKCS#8 and SPKI load in openssl; the sealed private key decrypts with its context only', async () => {
    const sym = await create('SYMMETRIC_DEFAULT');
    const context = { purpose: 'data key pair test' };
    for (const [spec, type, details] of pairSpecs) {
      const out = await kms.send(new GenerateDataKeyPairCommand({ KeyId: sym, KeyPairSpec: spec, EncryptionContext: context }));
      assert.equal(out.KeyPairSpec, spec);
      assert.match(out.KeyId!, /^arn:aws:kms:/);
      assert.match(out.KeyMaterialId!, /^[0-9a-f]{64}$/);
      const priv = createPrivateKey({ key: Buffer.from(out.PrivateKeyPlaintext!), format: 'der', type: 'pkcs8' });
      assert.equal(priv.asymmetricKeyType, type, spec);
      assert.deepEqual(priv.asymmetricKeyDetails, { ...priv.asymmetricKeyDetails, ...details }, spec);
      // OpenSSL reads the PKCS#8 private key and derives the same public key as the response's SPKI.
      file('dkp.der', Buffer.from(out.PrivateKeyPlaintext!));
      const pubFromOpenssl = openssl('pkey', '-inform', 'DER', '-in', 'dkp.der', '-pubout', '-outform', 'DER');
      assert.deepEqual(pubFromOpenssl, Buffer.from(out.PublicKey!), spec);
      if (type !== 'ed25519') openssl('pkey', '-inform', 'DER', '-in', 'dkp.der', '-check', '-noout');
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: context }));
      assert.deepEqual(Buffer.from(dec.Plaintext!), Buffer.from(out.PrivateKeyPlaintext!));
      await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob })), { name: 'InvalidCiphertextException' });
    }
  });

  it('GenerateDataKeyPairWithoutPlaintext: the sealed private key matches the public key; refusals as AWS', async () => {
    const sym = await create('SYMMETRIC_DEFAULT');
    const out = await kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: sym, KeyPairSpec: 'ECC_NIST_P256' }));
    assert.equal((out as { PrivateKeyPlaintext?: unknown }).PrivateKeyPlaintext, undefined);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob }));
    const pub = createPublicKey(createPrivateKey({ key: Buffer.from(dec.Plaintext!), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
    assert.deepEqual(pub, Buffer.from(out.PublicKey!));
    // Only symmetric encryption keys seal data key pairs.
    for (const [spec, usage] of [['RSA_2048', 'ENCRYPT_DECRYPT'], ['HMAC_256', 'GENERATE_VERIFY_MAC']] as const) {
      await assert.rejects(
        kms.send(new GenerateDataKeyPairCommand({ KeyId: await create(spec, usage), KeyPairSpec: 'ECC_NIST_P256' })),
        { name: 'InvalidKeyUsageException' },
      );
    }
    await assert.rejects(kms.send(new GenerateDataKeyPairCommand({ KeyId: sym, KeyPairSpec: 'RSA_1024' as 'RSA_2048' })), { name: 'ValidationException' });
    await assert.rejects(
      kms.send(new GenerateDataKeyPairCommand({ KeyId: sym, KeyPairSpec: 'ECC_NIST_P256', Recipient: { AttestationDocument: Buffer.from('x') } })),
      { name: 'UnsupportedOperationException' },
    );
    await assert.rejects(kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: sym, KeyPairSpec: 'ECC_NIST_P256', DryRun: true })), { name: 'DryRunOperationException' });
  });

  it('the aws CLI makes a data key pair and derives a shared secret', async () => {
    const aws = awsCli(server.url, work);
    const sym = await create('SYMMETRIC_DEFAULT');
    const pair = await aws('generate-data-key-pair', '--key-id', sym, '--key-pair-spec', 'ECC_NIST_P384');
    assert.equal(pair.KeyPairSpec, 'ECC_NIST_P384');
    const peerPub = Buffer.from(pair.PublicKey, 'base64');
    file('cli-peer.der', peerPub);
    const ka = await create('ECC_NIST_P384', 'KEY_AGREEMENT');
    const out = await aws('derive-shared-secret', '--key-id', ka, '--key-agreement-algorithm', 'ECDH', '--public-key', 'fileb://cli-peer.der');
    // The data key pair's private key is the peer: openssl derives the same secret with it.
    file('cli-priv.der', Buffer.from(pair.PrivateKeyPlaintext, 'base64'));
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: ka }));
    file('cli-kms.der', Buffer.from(PublicKey!));
    openssl('pkey', '-pubin', '-inform', 'DER', '-in', 'cli-kms.der', '-out', 'cli-kms.pem');
    openssl('pkey', '-inform', 'DER', '-in', 'cli-priv.der', '-out', 'cli-priv.pem');
    assert.deepEqual(Buffer.from(out.SharedSecret, 'base64'), openssl('pkeyutl', '-derive', '-inkey', 'cli-priv.pem', '-peerkey', 'cli-kms.pem'));
    assert.ok(readFileSync(path.join(work, 'cli-priv.pem'), 'utf8').includes('PRIVATE KEY'));
  });
});
