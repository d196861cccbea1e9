import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand, GenerateRandomCommand, InvalidCiphertextException, IncorrectKeyException,
  KMSClient, NotFoundException, ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

describe('symmetric keys through @aws-sdk/client-kms', () => {
  let server: TestServer;
  let kms: KMSClient;
  let keyId: string;
  before(async () => {
    server = await startServer();
    kms = devClient(server.url);
    const created = await kms.send(new CreateKeyCommand({ Description: 'e2e' }));
    keyId = created.KeyMetadata!.KeyId!;
  });
  after(async () => {
    kms?.destroy();
    await server?.stop();
  });

  it('creates an enabled SYMMETRIC_DEFAULT key with complete metadata', async () => {
    const { KeyMetadata: md } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    assert.equal(md!.KeyState, 'Enabled');
    assert.equal(md!.Enabled, true);
    assert.equal(md!.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(md!.KeyUsage, 'ENCRYPT_DECRYPT');
    assert.equal(md!.Origin, 'AWS_KMS');
    assert.equal(md!.KeyManager, 'CUSTOMER');
    assert.equal(md!.Description, 'e2e');
    assert.equal(md!.Arn, `arn:aws:kms:us-east-1:111122223333:key/${keyId}`);
    assert.deepEqual(md!.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);
    assert.ok(md!.CreationDate instanceof Date);
    assert.match(md!.CurrentKeyMaterialId!, /^[0-9a-f]{64}$/);
  });

  it('round-trips Encrypt and Decrypt without a KeyId, bound to the encryption context', async () => {
    const plaintext = Buffer.from('attack at dawn');
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: { purpose: 'test', b: '1' } }));
    assert.equal(enc.KeyId, `arn:aws:kms:us-east-1:111122223333:key/${keyId}`);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { b: '1', purpose: 'test' } }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'attack at dawn');
    assert.equal(dec.KeyId, enc.KeyId);
    await assert.rejects(
      kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { purpose: 'other', b: '1' } })),
      InvalidCiphertextException,
    );
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), InvalidCiphertextException);
  });

  it('refuses Decrypt with a KeyId that names another key', async () => {
    const other = await kms.send(new CreateKeyCommand({}));
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: other.KeyMetadata!.KeyId })), IncorrectKeyException);
    const ok = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: keyId }));
    assert.equal(Buffer.from(ok.Plaintext!).toString(), 'x');
  });

  it('generates data keys whose encrypted copy decrypts to the plaintext copy', async () => {
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { k: 'v' } }));
    assert.equal(dk.Plaintext!.length, 32);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { k: 'v' } }));
    assert.deepEqual(Buffer.from(dec.Plaintext!), Buffer.from(dk.Plaintext!));
    const dk16 = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 16 }));
    assert.equal(dk16.Plaintext!.length, 16);
    const wp = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_128' }));
    assert.equal('Plaintext' in wp, false);
    const dec2 = await kms.send(new DecryptCommand({ CiphertextBlob: wp.CiphertextBlob }));
    assert.equal(dec2.Plaintext!.length, 16);
  });

  it('re-encrypts under another key and context', async () => {
    const dest = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('move me'), EncryptionContext: { a: '1' } }));
    const re = await kms.send(
      new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { a: '1' }, DestinationKeyId: dest, DestinationEncryptionContext: { b: '2' } }),
    );
    assert.equal(re.SourceKeyId, enc.KeyId);
    assert.match(re.KeyId!, new RegExp(`${dest}$`));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { b: '2' } }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'move me');
  });

  it('answers GenerateRandom with the requested number of bytes', async () => {
    const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 1024 }));
    assert.equal(r.Plaintext!.length, 1024);
  });

  it('answers NotFoundException for unknown and malformed key ids', async () => {
    await assert.rejects(kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-0000-0000-000000000000' })), NotFoundException);
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: 'not-a-key', Plaintext: Buffer.from('x') })), (err: Error) => {
      assert.ok(err instanceof NotFoundException);
      assert.equal(err.message, "Invalid keyId 'not-a-key'");
      return true;
    });
  });

  it('words validation errors as AWS does', async () => {
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(4097) })), (err: Error) => {
      assert.equal(err.name, 'ValidationException');
      assert.equal(err.message, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096");
      return true;
    });
  });
});
