import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SHAPES } from '../../src/model/kms-model.generated.js';
import { compilePattern, parseInput, serializeOutput } from '../../src/protocol/shapes.js';
import { KmsError } from '../../src/domain/errors.js';
import { SecretBytes } from '../../src/crypto/secret-bytes.js';

const fails = (shape: string, body: unknown): KmsError => {
  try {
    parseInput(shape, body);
  } catch (err) {
    assert.ok(err instanceof KmsError);
    return err;
  }
  assert.fail('expected a KmsError');
};

describe('model-driven input validation', () => {
  it('compiles every pattern in the KMS model', () => {
    for (const [name, s] of Object.entries(SHAPES)) if (s.pattern) assert.doesNotThrow(() => compilePattern(s.pattern!), name);
  });

  it('words a length violation of a sensitive blob without its value', () => {
    const e = fails('EncryptRequest', { KeyId: 'k', Plaintext: Buffer.alloc(4097).toString('base64') });
    assert.equal(e.type, 'ValidationException');
    assert.equal(e.message, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096");
  });

  it("keeps every map key, Object.prototype's names included", () => {
    const body = JSON.parse('{"KeyId":"k","Plaintext":"AA==","EncryptionContext":{"__proto__":"a","constructor":"b","toString":"c"}}');
    const input = parseInput('EncryptRequest', body) as { EncryptionContext: Record<string, string> };
    assert.deepEqual(Object.entries(input.EncryptionContext), [['__proto__', 'a'], ['constructor', 'b'], ['toString', 'c']]);
    assert.equal(Object.getPrototypeOf(input.EncryptionContext), Object.prototype);
  });

  it('lists at most 10 violations and counts them all; echoes at most 2048 characters of a value', () => {
    const tags = Array.from({ length: 30 }, () => ({ TagKey: 'k'.repeat(200), TagValue: 'v' }));
    const e = fails('CreateKeyRequest', { Tags: tags });
    assert.match(e.message, /^30 validation errors detected: /);
    assert.equal(e.message.split('failed to satisfy constraint').length - 1, 10);
    const long = fails('DescribeKeyRequest', { KeyId: 'x'.repeat(5000) });
    assert.equal(long.message, `1 validation error detected: Value '${'x'.repeat(2048)}...' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048`);
  });

  it('lists several violations in member order', () => {
    const e = fails('GenerateDataKeyRequest', { KeyId: '', NumberOfBytes: 0, KeySpec: 'AES_512' });
    assert.equal(
      e.message,
      "3 validation errors detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
        "Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1; " +
        "Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]",
    );
  });

  it('reports missing required members as null', () => {
    assert.equal(fails('DescribeKeyRequest', {}).message, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
  });

  it('checks patterns and nested list members', () => {
    const e = fails('CreateAliasRequest', { AliasName: 'alias/has space', TargetKeyId: 'k' });
    assert.match(e.message, /Value 'alias\/has space' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: /);
    const t = fails('TagResourceRequest', { KeyId: 'k', Tags: [{ TagKey: '', TagValue: 'v' }] });
    assert.match(t.message, /at 'tags\.1\.member\.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1/);
  });

  it('answers SerializationException for values of the wrong type and bad base64', () => {
    assert.equal(fails('DescribeKeyRequest', { KeyId: 5 }).type, 'SerializationException');
    assert.equal(fails('GenerateRandomRequest', { NumberOfBytes: '5' }).type, 'SerializationException');
    assert.equal(fails('GenerateRandomRequest', { NumberOfBytes: 1.5 }).type, 'SerializationException');
    assert.equal(fails('EncryptRequest', { KeyId: 'k', Plaintext: 'not base64!' }).type, 'SerializationException');
    assert.equal(fails('EncryptRequest', []).type, 'SerializationException');
  });

  it('turns sensitive blobs into SecretBytes and ignores unknown members', () => {
    const v = parseInput('EncryptRequest', { KeyId: 'k', Plaintext: 'aGk=', Unknown: 1 }) as Record<string, unknown>;
    assert.ok(v.Plaintext instanceof SecretBytes);
    assert.equal((v.Plaintext as SecretBytes).unsafeBytes().toString(), 'hi');
    assert.equal(String(v.Plaintext), '[SecretBytes redacted]');
    assert.equal('Unknown' in v, false);
  });
});

describe('output serialization', () => {
  it('writes blobs as base64, timestamps as epoch seconds, only modelled members', () => {
    const out = serializeOutput('GenerateDataKeyResponse', {
      CiphertextBlob: Buffer.from('ct'),
      Plaintext: new SecretBytes(Buffer.from('pt')),
      KeyId: 'arn',
      Extra: 'dropped',
    });
    assert.deepEqual(out, { CiphertextBlob: 'Y3Q=', Plaintext: 'cHQ=', KeyId: 'arn' });
    const md = serializeOutput('DescribeKeyResponse', { KeyMetadata: { KeyId: 'k', CreationDate: new Date(1500) } });
    assert.deepEqual(md, { KeyMetadata: { KeyId: 'k', CreationDate: 1.5 } });
  });
});
