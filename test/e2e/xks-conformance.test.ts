// AWS's XKS conformance client (aws-samples/aws-kms-xksproxy-test-client: bash, curl --aws-sigv4, jq) against a real
// `trent xks-proxy` with a SoftHSM2 token. The client is not part of this repository: set TRENT_XKS_TEST_CLIENT to a
// checkout of it to run this test (it is skipped otherwise). `uuidgen` is shimmed when the machine lacks it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { softHsm, softhsmSkip } from '../helpers/softhsm.js';
import { repoRoot } from '../helpers/server.js';
import { makeTestCa, opensslSkip, type TestCa } from '../helpers/test-ca.js';
import { startXksProxy, type XksProxyProcess } from '../helpers/xks-proxy.js';

const client = process.env.TRENT_XKS_TEST_CLIENT;
const skip = !client
  ? 'TRENT_XKS_TEST_CLIENT is not set (a checkout of aws-samples/aws-kms-xksproxy-test-client)'
  : !existsSync(path.join(client, 'test-xks-proxy'))
    ? `${client} has no test-xks-proxy script`
    : softhsmSkip ?? opensslSkip;

let dir: string;
let ca: TestCa;
let proxy: XksProxyProcess;
const accessKeyId = 'TRENTXKSCONFORMANCE2';
const secret = randomBytes(32).toString('base64');

before(async () => {
  if (skip) return;
  const hsm = softHsm();
  const { label, pin } = hsm.initToken();
  dir = mkdtempSync(path.join(tmpdir(), 'trent-xks-conformance-'));
  ca = makeTestCa('Trent XKS Conformance CA');
  const server = ca.server();
  const env = { SOFTHSM2_CONF: hsm.conf, TRENT_XKS_PIN: pin };
  const config = path.join(dir, 'xks.json');
  // The client's defaults: URI_PREFIX example/uri/path/prefix, keys foo, encrypt_only_key, decrypt_only_key, impotent_key.
  writeFileSync(config, JSON.stringify({
    port: 0, tls: { cert: server.cert, key: server.key }, region: 'us-east-1', requestLog: 'off',
    pkcs11: { module: hsm.module, tokenLabel: label },
    keystores: [{ uriPath: '/example/uri/path/prefix/kms/xks/v1', credentials: [{ accessKeyId, secretAccessKey: secret }], keys: ['foo', 'encrypt_only_key', 'decrypt_only_key', 'impotent_key'] }],
  }));
  for (const [id, usage] of [['foo', 'ENCRYPT,DECRYPT'], ['encrypt_only_key', 'ENCRYPT'], ['decrypt_only_key', 'DECRYPT'], ['impotent_key', 'NONE']]) {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/trent.js'), 'xks-proxy', 'create-key', '--config', config, '--key-id', id!, '--usage', usage!], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  proxy = await startXksProxy(config, env);
});

after(async () => {
  await proxy?.stop();
  ca?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the AWS XKS conformance client passes every test against trent xks-proxy (test-xks-proxy --all)', { skip }, () => {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  if (spawnSync('uuidgen', [], { stdio: 'ignore' }).status !== 0) {
    writeFileSync(path.join(bin, 'uuidgen'), '#!/bin/sh\ncat /proc/sys/kernel/random/uuid\n');
    chmodSync(path.join(bin, 'uuidgen'), 0o755);
  }
  const port = new URL(proxy.url).port;
  const r = spawnSync('./test-xks-proxy', ['--all'], {
    cwd: client,
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      XKS_PROXY_HOST: `localhost:${port}`,
      SECURE: `--cacert ${ca.caCert}`,
      SIGV4_ACCESS_KEY_ID: accessKeyId,
      SIGV4_SECRET_ACCESS_KEY: secret,
      ASCII_ESCAPE: '0',
    },
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.doesNotMatch(out, /FAILED/, out.split('\n').filter((l) => /FAILED/.test(l)).join('\n'));
  assert.match(out, /All \d+ tests PASSED/);
});
