// The AWS documentation's import walkthrough (importing-keys-*.html), as a user runs it: the `aws` CLI and `openssl`
// only — create-key --origin EXTERNAL, get-parameters-for-import, wrap with openssl (RSAES_OAEP_SHA_256 with
// `pkeyutl`, and RSA_AES_KEY_WRAP_SHA_256: `enc -id-aes256-wrap-pad` then `pkeyutl` of the AES key), import-key-material.
// For a symmetric, an HMAC, an RSA and an ECC key; the results are checked with the SDK.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateMacCommand, GetPublicKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { devClient, startServer, type TestServer } from '../helpers/server.js';

// One shell script: the documented commands, with the `aws` options every test call carries.
const SCRIPT = String.raw`
set -euo pipefail
AWS="aws kms --endpoint-url $TRENT_URL --region us-east-1 --cli-connect-timeout 5 --cli-read-timeout 10 --output text"
# $1 name, $2 key-spec, $3 key-usage, $4 wrapping algorithm, $5 material file
import_key() {
  local name=$1 spec=$2 usage=$3 alg=$4 material=$5
  local key_id
  key_id=$($AWS create-key --origin EXTERNAL --key-spec "$spec" --key-usage "$usage" --query KeyMetadata.KeyId)
  $AWS get-parameters-for-import --key-id "$key_id" --wrapping-algorithm "$alg" --wrapping-key-spec RSA_2048 \
    --query '{Key:PublicKey,Token:ImportToken}' > "$name.params"
  awk '{print $1}' "$name.params" | openssl enc -d -base64 -A -out "$name.PublicKey.bin"
  awk '{print $2}' "$name.params" | openssl enc -d -base64 -A -out "$name.ImportToken.bin"
  if [ "$alg" = RSAES_OAEP_SHA_256 ]; then
    openssl pkeyutl -encrypt -in "$material" -out "$name.EncryptedKeyMaterial.bin" -inkey "$name.PublicKey.bin" -keyform DER \
      -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256
  else
    openssl rand -out "$name.aes-key.bin" 32
    openssl enc -id-aes256-wrap-pad -K "$(xxd -p < "$name.aes-key.bin" | tr -d '\n')" -iv A65959A6 -in "$material" -out "$name.key_material_wrapped.bin"
    openssl pkeyutl -encrypt -in "$name.aes-key.bin" -out "$name.aes-key_wrapped.bin" -inkey "$name.PublicKey.bin" -keyform DER \
      -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
    cat "$name.aes-key_wrapped.bin" "$name.key_material_wrapped.bin" > "$name.EncryptedKeyMaterial.bin"
  fi
  $AWS import-key-material --key-id "$key_id" --encrypted-key-material "fileb://$name.EncryptedKeyMaterial.bin" \
    --import-token "fileb://$name.ImportToken.bin" --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE > /dev/null
  echo "$name $key_id"
}
openssl rand -out symmetric.bin 32
openssl rand -out hmac.bin 32
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null
openssl pkcs8 -topk8 -inform PEM -outform DER -nocrypt -in rsa.pem -out rsa.der
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ecc.pem 2>/dev/null
openssl pkcs8 -topk8 -inform PEM -outform DER -nocrypt -in ecc.pem -out ecc.der
import_key symmetric SYMMETRIC_DEFAULT ENCRYPT_DECRYPT RSAES_OAEP_SHA_256 symmetric.bin
import_key hmac HMAC_256 GENERATE_VERIFY_MAC RSA_AES_KEY_WRAP_SHA_256 hmac.bin
import_key rsa RSA_2048 SIGN_VERIFY RSA_AES_KEY_WRAP_SHA_256 rsa.der
import_key ecc ECC_NIST_P256 SIGN_VERIFY RSA_AES_KEY_WRAP_SHA_256 ecc.der
`;

describe('import walkthrough with the aws CLI and openssl', () => {
  let server: TestServer;
  let kms: KMSClient;
  let work: string;

  before(async () => {
    server = await startServer({ args: ['--request-log', 'off'] });
    kms = devClient(server.url);
    work = mkdtempSync(path.join(tmpdir(), 'trent-import-cli-'));
  });
  after(async () => {
    kms.destroy();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('imports symmetric (RSAES_OAEP_SHA_256), HMAC, RSA and ECC (RSA_AES_KEY_WRAP_SHA_256) material', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    Object.assign(env, {
      TRENT_URL: server.url, AWS_ACCESS_KEY_ID: 'AKIACLITEST', AWS_SECRET_ACCESS_KEY: 'cli-test-secret', AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '', AWS_EC2_METADATA_DISABLED: 'true',
    });
    const out = await new Promise<string>((resolve, reject) =>
      execFile('bash', ['-c', SCRIPT], { env, cwd: work, timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
    );
    const ids = new Map(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
    assert.deepEqual([...ids.keys()], ['symmetric', 'hmac', 'rsa', 'ecc']);


    const file = (name: string) => readFileSync(path.join(work, name));
    const client = devClient(server.url, { accessKeyId: 'AKIACLITEST' });
    try {
      for (const name of ids.keys()) {
        const meta = (await client.send(new DescribeKeyCommand({ KeyId: ids.get(name)! }))).KeyMetadata!;
        assert.equal(meta.KeyState, 'Enabled', name);
        assert.equal(meta.Origin, 'EXTERNAL', name);
        assert.equal(meta.ExpirationModel, 'KEY_MATERIAL_DOES_NOT_EXPIRE', name);
      }
      const blob = (await client.send(new EncryptCommand({ KeyId: ids.get('symmetric')!, Plaintext: Buffer.from('walkthrough') }))).CiphertextBlob!;
      assert.equal(Buffer.from((await client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'walkthrough');
      const mac = await client.send(new GenerateMacCommand({ KeyId: ids.get('hmac')!, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('m') }));
      assert.deepEqual(Buffer.from(mac.Mac!), createHmac('sha256', file('hmac.bin')).update('m').digest());
      for (const name of ['rsa', 'ecc']) {
        const pub = (await client.send(new GetPublicKeyCommand({ KeyId: ids.get(name)! }))).PublicKey!;
        const expected = createPublicKey(createPrivateKey({ key: file(`${name}.der`), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
        assert.deepEqual(Buffer.from(pub), expected, name);
      }
    } finally {
      client.destroy();
    }

  });
});
