// RSA, ECC, Ed25519 and HMAC keys end to end with @aws-sdk/client-kms, checked against the openssl binary in both
// directions. Keys are made once and reused: RSA-4096 generation costs seconds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, GenerateMacCommand, GetPublicKeyCommand,
  KMSClient, ReEncryptCommand, SignCommand, VerifyCommand, VerifyMacCommand,
  type KeySpec, type KeyUsageType, type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { awsCli } from '../helpers/aws-cli.js';

const HASH: Record<string, 'sha256' | 'sha384' | 'sha512'> = { SHA_256: 'sha256', SHA_384: 'sha384', SHA_512: 'sha512' };
const hashOf = (alg: string): 'sha256' | 'sha384' | 'sha512' => HASH[/SHA_(256|384|512)$/.exec(alg)![0]]!;

describe('asymmetric and HMAC keys through @aws-sdk/client-kms and openssl', () => {
  let server: TestServer;
  let kms: KMSClient;
  let work: string;
  const keys = new Map<string, string>();
  const create = async (spec: KeySpec, usage: KeyUsageType): Promise<string> =>
    (await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: usage }))).KeyMetadata!.KeyId!;
  const file = (name: string, data: Buffer | string): string => {
    const p = path.join(work, name);
    writeFileSync(p, data);
    return p;
  };
  const publicPem = async (keyId: string, name: string): Promise<string> => {
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    return file(`${name}.pem`, createPublicKey({ key: Buffer.from(PublicKey!), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }));
  };
  const openssl = (...args: string[]): string => execFileSync('openssl', args, { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let rsa4096Millis = 0;
  let answeredWhileGenerating = 0;

  before(async () => {
    server = await startServer();
    kms = devClient(server.url);
    work = mkdtempSync(path.join(tmpdir(), 'trent-asym-'));
    // RSA-4096 generation runs on the thread pool: other requests are answered meanwhile.
    const started = Date.now();
    let generating = true;
    const big = create('RSA_4096', 'ENCRYPT_DECRYPT').finally(() => (generating = false));
    const probe = await create('ECC_NIST_P256', 'SIGN_VERIFY');
    while (generating) {
      await kms.send(new DescribeKeyCommand({ KeyId: probe }));
      if (generating) answeredWhileGenerating++;
    }
    keys.set('RSA_4096/ENCRYPT_DECRYPT', await big);
    rsa4096Millis = Date.now() - started;
    keys.set('ECC_NIST_P256/SIGN_VERIFY', probe);
    const specs: [KeySpec, KeyUsageType][] = [
      ['RSA_2048', 'SIGN_VERIFY'], ['RSA_2048', 'ENCRYPT_DECRYPT'], ['ECC_NIST_P384', 'SIGN_VERIFY'], ['ECC_NIST_P521', 'SIGN_VERIFY'],
      ['ECC_SECG_P256K1', 'SIGN_VERIFY'], ['ECC_NIST_EDWARDS25519', 'SIGN_VERIFY'], ['ECC_NIST_P256', 'KEY_AGREEMENT'],
      ['HMAC_224', 'GENERATE_VERIFY_MAC'], ['HMAC_256', 'GENERATE_VERIFY_MAC'], ['HMAC_384', 'GENERATE_VERIFY_MAC'], ['HMAC_512', 'GENERATE_VERIFY_MAC'],
    ];
    for (const [spec, usage] of specs) keys.set(`${spec}/${usage}`, await create(spec, usage));
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });
  const key = (name: string): string => keys.get(name)!;

  it('keeps answering other requests while an RSA-4096 key is generated', () => {
    console.log(`# RSA-4096 CreateKey: ${rsa4096Millis} ms; ${answeredWhileGenerating} DescribeKey calls answered meanwhile`);
    assert.ok(answeredWhileGenerating >= 3, `only ${answeredWhileGenerating} requests answered in ${rsa4096Millis} ms`);
  });

  it('refuses KeySpec/KeyUsage combinations AWS refuses', async () => {
    const refused = async (input: object, name: string, message: RegExp): Promise<void> => {
      await assert.rejects(kms.send(new CreateKeyCommand(input)), (e: Error) => (assert.equal(e.name, name), assert.match(e.message, message), true));
    };
    await refused({ KeySpec: 'RSA_2048' }, 'ValidationException', /You must specify a KeyUsage value when KeySpec is RSA_2048/);
    await refused({ KeySpec: 'HMAC_256' }, 'ValidationException', /KeyUsage/);
    await refused({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' }, 'ValidationException', /KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ECC_NIST_P256/);
    await refused({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'KEY_AGREEMENT' }, 'ValidationException', /not compatible/);
    await refused({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'KEY_AGREEMENT' }, 'ValidationException', /not compatible/);
    await refused({ KeySpec: 'RSA_2048', KeyUsage: 'GENERATE_VERIFY_MAC' }, 'ValidationException', /not compatible/);
    await refused({ KeySpec: 'HMAC_256', KeyUsage: 'SIGN_VERIFY' }, 'ValidationException', /not compatible/);
    await refused({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'SIGN_VERIFY' }, 'ValidationException', /not compatible/);
    await refused({ KeySpec: 'SM2', KeyUsage: 'GENERATE_VERIFY_MAC' }, 'ValidationException', /KeyUsage GENERATE_VERIFY_MAC is not compatible with KeySpec SM2/);
    await refused({ KeySpec: 'ML_DSA_44', KeyUsage: 'ENCRYPT_DECRYPT' }, 'ValidationException', /not compatible/);
  });

  it('describes each spec with the algorithm list of its usage, as AWS does', async () => {
    const md = async (name: string) => (await kms.send(new DescribeKeyCommand({ KeyId: key(name) }))).KeyMetadata!;
    const rsaSign = await md('RSA_2048/SIGN_VERIFY');
    assert.deepEqual(rsaSign.SigningAlgorithms, [
      'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512', 'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
    ]);
    assert.equal(rsaSign.EncryptionAlgorithms, undefined);
    assert.equal(rsaSign.CustomerMasterKeySpec, 'RSA_2048');
    assert.deepEqual((await md('RSA_4096/ENCRYPT_DECRYPT')).EncryptionAlgorithms, ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    assert.deepEqual((await md('ECC_NIST_P256/SIGN_VERIFY')).SigningAlgorithms, ['ECDSA_SHA_256']);
    assert.deepEqual((await md('ECC_NIST_P384/SIGN_VERIFY')).SigningAlgorithms, ['ECDSA_SHA_384']);
    assert.deepEqual((await md('ECC_NIST_P521/SIGN_VERIFY')).SigningAlgorithms, ['ECDSA_SHA_512']);
    assert.deepEqual((await md('ECC_SECG_P256K1/SIGN_VERIFY')).SigningAlgorithms, ['ECDSA_SHA_256']);
    const ed = await md('ECC_NIST_EDWARDS25519/SIGN_VERIFY');
    assert.deepEqual(ed.SigningAlgorithms, ['ED25519_SHA_512', 'ED25519_PH_SHA_512']);
    assert.equal(ed.CustomerMasterKeySpec, undefined);
    const ka = await md('ECC_NIST_P256/KEY_AGREEMENT');
    assert.deepEqual(ka.KeyAgreementAlgorithms, ['ECDH']);
    assert.equal(ka.SigningAlgorithms, undefined);
    assert.deepEqual((await md('HMAC_384/GENERATE_VERIFY_MAC')).MacAlgorithms, ['HMAC_SHA_384']);
  });

  it('GetPublicKey returns DER SPKI of the right type, and refuses symmetric and HMAC keys', async () => {
    const out = await kms.send(new GetPublicKeyCommand({ KeyId: key('ECC_SECG_P256K1/SIGN_VERIFY') }));
    const pub = createPublicKey({ key: Buffer.from(out.PublicKey!), format: 'der', type: 'spki' });
    assert.equal(pub.asymmetricKeyDetails!.namedCurve, 'secp256k1');
    assert.equal(out.KeySpec, 'ECC_SECG_P256K1');
    assert.equal(out.KeyUsage, 'SIGN_VERIFY');
    assert.deepEqual(out.SigningAlgorithms, ['ECDSA_SHA_256']);
    const rsa = await kms.send(new GetPublicKeyCommand({ KeyId: key('RSA_4096/ENCRYPT_DECRYPT') }));
    assert.equal(createPublicKey({ key: Buffer.from(rsa.PublicKey!), format: 'der', type: 'spki' }).asymmetricKeyDetails!.modulusLength, 4096);
    assert.deepEqual(rsa.EncryptionAlgorithms, ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    const ka = await kms.send(new GetPublicKeyCommand({ KeyId: key('ECC_NIST_P256/KEY_AGREEMENT') }));
    assert.deepEqual(ka.KeyAgreementAlgorithms, ['ECDH']);
    const sym = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (const id of [sym, key('HMAC_256/GENERATE_VERIFY_MAC')]) {
      await assert.rejects(kms.send(new GetPublicKeyCommand({ KeyId: id })), { name: 'UnsupportedOperationException' });
    }
  });

  const signCases: [string, SigningAlgorithmSpec[]][] = [
    ['RSA_2048/SIGN_VERIFY', ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512', 'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512']],
    ['ECC_NIST_P256/SIGN_VERIFY', ['ECDSA_SHA_256']],
    ['ECC_NIST_P384/SIGN_VERIFY', ['ECDSA_SHA_384']],
    ['ECC_NIST_P521/SIGN_VERIFY', ['ECDSA_SHA_512']],
    ['ECC_SECG_P256K1/SIGN_VERIFY', ['ECDSA_SHA_256']],
  ];
  for (const [name, algorithms] of signCases) {
    it(`${name}: every algorithm, RAW and DIGEST; openssl verifies what Trent signs; Verify refuses tampering`, async () => {
      const pem = await publicPem(key(name), name.replace('/', '-'));
      const message = Buffer.from(`a message for ${name}`);
      const msgFile = file('msg.bin', message);
      for (const alg of algorithms) {
        const hash = hashOf(alg);
        const digest = createHash(hash).update(message).digest();
        const pss = alg.startsWith('RSASSA_PSS') ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest'] : [];
        const raw = await kms.send(new SignCommand({ KeyId: key(name), Message: message, SigningAlgorithm: alg, MessageType: 'RAW' }));
        assert.equal(raw.SigningAlgorithm, alg);
        const sigFile = file('sig.bin', Buffer.from(raw.Signature!));
        assert.match(openssl('dgst', `-${hash}`, '-verify', pem, '-signature', sigFile, ...pss, msgFile), /Verified OK/, `${alg} RAW`);
        // DIGEST: the same message hashed outside; openssl checks the digest signature with pkeyutl.
        const dig = await kms.send(new SignCommand({ KeyId: key(name), Message: digest, SigningAlgorithm: alg, MessageType: 'DIGEST' }));
        const digSig = file('dsig.bin', Buffer.from(dig.Signature!));
        const pkeyopts = alg.startsWith('RSA') ? ['-pkeyopt', `digest:${hash}`, ...pss.map((o) => (o === '-sigopt' ? '-pkeyopt' : o))] : [];
        assert.match(openssl('pkeyutl', '-verify', '-pubin', '-inkey', pem, '-in', file('digest.bin', digest), '-sigfile', digSig, ...pkeyopts), /Signature Verified Successfully/, `${alg} DIGEST`);
        // A RAW signature verifies as DIGEST of the same message in Trent, and the other way round.
        const v = await kms.send(new VerifyCommand({ KeyId: key(name), Message: digest, MessageType: 'DIGEST', Signature: raw.Signature, SigningAlgorithm: alg }));
        assert.equal(v.SignatureValid, true);
        await kms.send(new VerifyCommand({ KeyId: key(name), Message: message, Signature: dig.Signature, SigningAlgorithm: alg }));
        const bad = Buffer.from(raw.Signature!);
        bad[bad.length - 3]! ^= 0x01;
        await assert.rejects(kms.send(new VerifyCommand({ KeyId: key(name), Message: message, Signature: bad, SigningAlgorithm: alg })), { name: 'KMSInvalidSignatureException' });
        await assert.rejects(
          kms.send(new VerifyCommand({ KeyId: key(name), Message: Buffer.from('another message'), Signature: raw.Signature, SigningAlgorithm: alg })),
          { name: 'KMSInvalidSignatureException' },
        );
      }
    });
  }

  it('Ed25519: ED25519_SHA_512 over RAW messages verifies in openssl; ED25519_PH_SHA_512 over DIGEST verifies with noble\'s ed25519ph', async () => {
    const name = 'ECC_NIST_EDWARDS25519/SIGN_VERIFY';
    const pem = await publicPem(key(name), 'ed25519');
    const message = Buffer.from('an Ed25519 message');
    const out = await kms.send(new SignCommand({ KeyId: key(name), Message: message, SigningAlgorithm: 'ED25519_SHA_512' }));
    assert.equal(out.Signature!.length, 64);
    assert.match(
      openssl('pkeyutl', '-verify', '-pubin', '-inkey', pem, '-rawin', '-in', file('ed-msg.bin', message), '-sigfile', file('ed-sig.bin', Buffer.from(out.Signature!))),
      /Signature Verified Successfully/,
    );
    await kms.send(new VerifyCommand({ KeyId: key(name), Message: message, Signature: out.Signature, SigningAlgorithm: 'ED25519_SHA_512', MessageType: 'RAW' }));
    const digest = createHash('sha512').update(message).digest();
    await assert.rejects(kms.send(new SignCommand({ KeyId: key(name), Message: digest, SigningAlgorithm: 'ED25519_SHA_512', MessageType: 'DIGEST' })), { name: 'ValidationException' });
    await assert.rejects(kms.send(new SignCommand({ KeyId: key(name), Message: message, SigningAlgorithm: 'ED25519_PH_SHA_512', MessageType: 'RAW' })), { name: 'ValidationException' });
    await assert.rejects(
      kms.send(new SignCommand({ KeyId: key(name), Message: digest.subarray(1), SigningAlgorithm: 'ED25519_PH_SHA_512', MessageType: 'DIGEST' })),
      /Digest is invalid length for algorithm ED25519_PH_SHA_512/,
    );
    // Ed25519ph: OpenSSL 3.0 lacks it; noble's message-hashing ed25519ph checks the signature of the digest.
    const ph = await kms.send(new SignCommand({ KeyId: key(name), Message: digest, SigningAlgorithm: 'ED25519_PH_SHA_512', MessageType: 'DIGEST' }));
    assert.equal(ph.SigningAlgorithm, 'ED25519_PH_SHA_512');
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: key(name) }));
    const point = Buffer.from(PublicKey!).subarray(-32);
    assert.equal(ed25519ph.verify(Buffer.from(ph.Signature!), message, point), true);
    assert.equal(ed25519ph.verify(Buffer.from(out.Signature!), message, point), false, 'a pure Ed25519 signature is not an Ed25519ph one');
    const ok = await kms.send(new VerifyCommand({ KeyId: key(name), Message: digest, MessageType: 'DIGEST', Signature: ph.Signature, SigningAlgorithm: 'ED25519_PH_SHA_512' }));
    assert.equal(ok.SignatureValid, true);
    await assert.rejects(
      kms.send(new VerifyCommand({ KeyId: key(name), Message: digest, MessageType: 'DIGEST', Signature: out.Signature, SigningAlgorithm: 'ED25519_PH_SHA_512' })),
      { name: 'KMSInvalidSignatureException' },
    );
  });

  it('refuses wrong digests, wrong algorithms, wrong usages and long messages as AWS does', async () => {
    const p256 = key('ECC_NIST_P256/SIGN_VERIFY');
    await assert.rejects(
      kms.send(new SignCommand({ KeyId: p256, Message: Buffer.alloc(48), SigningAlgorithm: 'ECDSA_SHA_256', MessageType: 'DIGEST' })),
      (e: Error) => (assert.equal(e.name, 'ValidationException'), assert.equal(e.message, 'Digest is invalid length for algorithm ECDSA_SHA_256.'), true),
    );
    await assert.rejects(kms.send(new SignCommand({ KeyId: p256, Message: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_384' })), { name: 'InvalidKeyUsageException' });
    await assert.rejects(kms.send(new SignCommand({ KeyId: key('RSA_2048/SIGN_VERIFY'), Message: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_256' })), { name: 'InvalidKeyUsageException' });
    await assert.rejects(
      kms.send(new SignCommand({ KeyId: p256, Message: Buffer.alloc(4097), SigningAlgorithm: 'ECDSA_SHA_256' })),
      (e: Error) => (assert.equal(e.name, 'ValidationException'), assert.match(e.message, /length less than or equal to 4096/), true),
    );
    const encKey = key('RSA_2048/ENCRYPT_DECRYPT');
    await assert.rejects(
      kms.send(new SignCommand({ KeyId: encKey, Message: Buffer.from('x'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })),
      (e: Error) => (assert.equal(e.name, 'InvalidKeyUsageException'), assert.match(e.message, /key usage is ENCRYPT_DECRYPT which is not valid for Sign\.$/), true),
    );
    await assert.rejects(
      kms.send(new EncryptCommand({ KeyId: key('RSA_2048/SIGN_VERIFY'), Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
      (e: Error) => (assert.equal(e.name, 'InvalidKeyUsageException'), assert.match(e.message, /key usage is SIGN_VERIFY which is not valid for Encrypt\.$/), true),
    );
    await assert.rejects(kms.send(new GenerateMacCommand({ KeyId: p256, Message: Buffer.from('x'), MacAlgorithm: 'HMAC_SHA_256' })), { name: 'InvalidKeyUsageException' });
    await assert.rejects(kms.send(new GenerateDataKeyCommand({ KeyId: encKey, KeySpec: 'AES_256' })), { name: 'InvalidKeyUsageException' });
  });

  it('RSA encryption: openssl encrypts with the public key and Trent decrypts; limits, algorithms and context as AWS', async () => {
    for (const name of ['RSA_2048/ENCRYPT_DECRYPT', 'RSA_4096/ENCRYPT_DECRYPT']) {
      const bits = name.startsWith('RSA_2048') ? 2048 : 4096;
      const pem = await publicPem(key(name), `enc-${bits}`);
      for (const [alg, md, hLen] of [['RSAES_OAEP_SHA_1', 'sha1', 20], ['RSAES_OAEP_SHA_256', 'sha256', 32]] as const) {
        const max = bits / 8 - 2 * hLen - 2;
        const plaintext = Buffer.alloc(max, 0x5a);
        openssl('pkeyutl', '-encrypt', '-pubin', '-inkey', pem, '-in', file('pt.bin', plaintext), '-out', 'ct.bin',
          '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', `rsa_oaep_md:${md}`, '-pkeyopt', `rsa_mgf1_md:${md}`);
        const fromOpenssl = readFileSync(path.join(work, 'ct.bin'));
        const dec = await kms.send(new DecryptCommand({ KeyId: key(name), CiphertextBlob: fromOpenssl, EncryptionAlgorithm: alg }));
        assert.deepEqual(Buffer.from(dec.Plaintext!), plaintext);
        assert.equal(dec.EncryptionAlgorithm, alg);
        assert.equal(dec.KeyMaterialId, undefined);
        // Trent's ciphertext is raw OAEP output of the modulus size.
        const enc = await kms.send(new EncryptCommand({ KeyId: key(name), Plaintext: plaintext, EncryptionAlgorithm: alg }));
        assert.equal(enc.CiphertextBlob!.length, bits / 8);
        assert.equal(enc.EncryptionAlgorithm, alg);
        await assert.rejects(
          kms.send(new EncryptCommand({ KeyId: key(name), Plaintext: Buffer.alloc(max + 1), EncryptionAlgorithm: alg })),
          { name: 'ValidationException' },
        );
      }
    }
    const k = key('RSA_2048/ENCRYPT_DECRYPT');
    const enc = await kms.send(new EncryptCommand({ KeyId: k, Plaintext: Buffer.from('secret'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    // Decrypt needs the KeyId and the algorithm; the other OAEP hash does not decrypt.
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), { name: 'InvalidCiphertextException' });
    await assert.rejects(kms.send(new DecryptCommand({ KeyId: k, CiphertextBlob: enc.CiphertextBlob })), { name: 'InvalidKeyUsageException' });
    await assert.rejects(kms.send(new DecryptCommand({ KeyId: k, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })), { name: 'InvalidCiphertextException' });
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: k, Plaintext: Buffer.from('x') })), { name: 'InvalidKeyUsageException' });
    await assert.rejects(
      kms.send(new EncryptCommand({ KeyId: k, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256', EncryptionContext: { a: 'b' } })),
      { name: 'ValidationException' },
    );
    const sym = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: sym, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })), { name: 'InvalidKeyUsageException' });
    // ReEncrypt both ways between an RSA key and a symmetric key.
    const toSym = await kms.send(new ReEncryptCommand({
      CiphertextBlob: enc.CiphertextBlob, SourceKeyId: k, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: sym, DestinationEncryptionContext: { c: 'd' },
    }));
    assert.equal(toSym.SourceEncryptionAlgorithm, 'RSAES_OAEP_SHA_256');
    assert.equal(toSym.DestinationEncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    const back = await kms.send(new ReEncryptCommand({
      CiphertextBlob: toSym.CiphertextBlob, SourceEncryptionContext: { c: 'd' }, DestinationKeyId: k, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    }));
    assert.equal(back.DestinationKeyMaterialId, undefined);
    const dec = await kms.send(new DecryptCommand({ KeyId: k, CiphertextBlob: back.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'secret');
  });

  it('HMAC: GenerateMac and VerifyMac for each size; tampering is KMSInvalidMacException', async () => {
    const message = Buffer.from('a message to authenticate');
    for (const bits of [224, 256, 384, 512] as const) {
      const k = key(`HMAC_${bits}/GENERATE_VERIFY_MAC`);
      const alg = `HMAC_SHA_${bits}` as const;
      const out = await kms.send(new GenerateMacCommand({ KeyId: k, Message: message, MacAlgorithm: alg }));
      assert.equal(out.Mac!.length, bits / 8);
      assert.equal(out.MacAlgorithm, alg);
      const again = await kms.send(new GenerateMacCommand({ KeyId: k, Message: message, MacAlgorithm: alg }));
      assert.deepEqual(again.Mac, out.Mac, 'HMAC is deterministic');
      const ok = await kms.send(new VerifyMacCommand({ KeyId: k, Message: message, MacAlgorithm: alg, Mac: out.Mac }));
      assert.equal(ok.MacValid, true);
      const bad = Buffer.from(out.Mac!);
      bad[0]! ^= 0x80;
      await assert.rejects(kms.send(new VerifyMacCommand({ KeyId: k, Message: message, MacAlgorithm: alg, Mac: bad })), { name: 'KMSInvalidMacException' });
      await assert.rejects(kms.send(new VerifyMacCommand({ KeyId: k, Message: message, MacAlgorithm: alg, Mac: bad.subarray(1) })), { name: 'KMSInvalidMacException' });
    }
    await assert.rejects(
      kms.send(new GenerateMacCommand({ KeyId: key('HMAC_256/GENERATE_VERIFY_MAC'), Message: message, MacAlgorithm: 'HMAC_SHA_512' })),
      { name: 'InvalidKeyUsageException' },
    );
  });

  it('the aws CLI signs, verifies and makes a MAC', async () => {
    const aws = awsCli(server.url, work);
    file('cli-msg.bin', 'signed by the aws CLI');
    const k1 = key('ECC_SECG_P256K1/SIGN_VERIFY');
    const signed = await aws('sign', '--key-id', k1, '--message', 'fileb://cli-msg.bin', '--message-type', 'RAW', '--signing-algorithm', 'ECDSA_SHA_256');
    assert.equal(signed.SigningAlgorithm, 'ECDSA_SHA_256');
    file('cli-sig.bin', Buffer.from(signed.Signature, 'base64'));
    const verified = await aws('verify', '--key-id', k1, '--message', 'fileb://cli-msg.bin', '--signature', 'fileb://cli-sig.bin', '--signing-algorithm', 'ECDSA_SHA_256');
    assert.equal(verified.SignatureValid, true);
    const mac = await aws('generate-mac', '--key-id', key('HMAC_256/GENERATE_VERIFY_MAC'), '--message', 'fileb://cli-msg.bin', '--mac-algorithm', 'HMAC_SHA_256');
    assert.equal(Buffer.from(mac.Mac, 'base64').length, 32);
    // RSA: the CLI encrypts with OAEP-SHA-256 (raw RSA output) and decrypts with KeyId and algorithm, as AWS requires.
    const rsa = key('RSA_2048/ENCRYPT_DECRYPT');
    const enc = await aws('encrypt', '--key-id', rsa, '--plaintext', 'fileb://cli-msg.bin', '--encryption-algorithm', 'RSAES_OAEP_SHA_256');
    assert.equal(Buffer.from(enc.CiphertextBlob, 'base64').length, 256);
    file('cli-rsa.bin', Buffer.from(enc.CiphertextBlob, 'base64'));
    const dec = await aws('decrypt', '--key-id', rsa, '--ciphertext-blob', 'fileb://cli-rsa.bin', '--encryption-algorithm', 'RSAES_OAEP_SHA_256');
    assert.equal(Buffer.from(dec.Plaintext, 'base64').toString(), 'signed by the aws CLI');
    // Ed25519: a 64-byte signature that Node's OpenSSL accepts with the key from GetPublicKey.
    const ed = key('ECC_NIST_EDWARDS25519/SIGN_VERIFY');
    const edSig = await aws('sign', '--key-id', ed, '--message', 'fileb://cli-msg.bin', '--message-type', 'RAW', '--signing-algorithm', 'ED25519_SHA_512');
    const edPub = await aws('get-public-key', '--key-id', ed);
    const publicKey = createPublicKey({ key: Buffer.from(edPub.PublicKey, 'base64'), format: 'der', type: 'spki' });
    assert.equal(verifySignature(null, Buffer.from('signed by the aws CLI'), publicKey, Buffer.from(edSig.Signature, 'base64')), true);
  });
});
