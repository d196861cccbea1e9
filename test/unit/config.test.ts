import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeStore, envName, loadConfig } from '../../src/config/config.js';

describe('configuration', () => {
  it('takes the HSM root key as a pkcs11: URI (flag, env, config file), its module from TRENT_PKCS11_MODULE and PIN from TRENT_PKCS11_PIN only', () => {
    const c = loadConfig({ 'root-key': 'pkcs11:token=trent;object=root', 'root-key-create': true }, { TRENT_PKCS11_MODULE: '/lib/p11.so', TRENT_PKCS11_PIN: '123456' });
    assert.equal(c.rootKey, 'pkcs11:token=trent;object=root');
    assert.equal(c.rootKeyCreate, true);
    assert.equal(c.pkcs11Module, '/lib/p11.so');
    assert.equal(c.pkcs11Pin, '123456');
    assert.equal(loadConfig({}, { TRENT_ROOT_KEY: 'pkcs11:token=t;object=o' }).rootKey, 'pkcs11:token=t;object=o');
    assert.throws(() => loadConfig({ 'root-key': '/var/lib/trent/root-key' }, {}), /--root-key must be a pkcs11: URI/);
  });

  it('has the documented defaults', () => {
    const c = loadConfig({}, {});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 4599);
    assert.equal(c.region, 'us-east-1');
    assert.equal(c.defaultAccount, '111122223333');
    assert.equal(c.dev, false);
    assert.equal(c.dataDir, path.resolve('./data'));
    assert.equal(c.rootKeyFile, path.resolve('./data/root-key'));
    assert.deepEqual(c.store, { kind: 'sqlite', file: path.resolve('./data/trent.db') });
    assert.equal(c.cacheTtlSeconds, undefined, 'the store decides: 30 s on PostgreSQL, no expiry on SQLite');
  });

  it('takes the cache expiry from --cache-ttl-seconds or TRENT_CACHE_TTL_SECONDS', () => {
    assert.equal(loadConfig({ 'cache-ttl-seconds': '5' }, {}).cacheTtlSeconds, 5);
    assert.equal(loadConfig({}, { TRENT_CACHE_TTL_SECONDS: '120' }).cacheTtlSeconds, 120);
    assert.throws(() => loadConfig({ 'cache-ttl-seconds': '0' }, {}), /--cache-ttl-seconds must be an integer from 1 to 86400/);
  });

  it('bounds the wait for the store: --store-timeout-seconds or TRENT_STORE_TIMEOUT_SECONDS, default 5', () => {
    assert.equal(loadConfig({}, {}).storeTimeoutSeconds, 5);
    assert.equal(loadConfig({ 'store-timeout-seconds': '2' }, {}).storeTimeoutSeconds, 2);
    assert.equal(loadConfig({}, { TRENT_STORE_TIMEOUT_SECONDS: '30' }).storeTimeoutSeconds, 30);
    assert.throws(() => loadConfig({ 'store-timeout-seconds': '0' }, {}), /--store-timeout-seconds must be an integer from 1 to 300/);
  });

  it('takes the store from --store, TRENT_STORE or the config file: sqlite or a postgres:// URL', () => {
    assert.deepEqual(loadConfig({ store: 'sqlite', 'data-dir': '/srv/trent' }, {}).store, { kind: 'sqlite', file: '/srv/trent/trent.db' });
    const url = 'postgres://trent:secret@db.internal:5432/trent?sslmode=require';
    assert.deepEqual(loadConfig({ store: url }, {}).store, { kind: 'postgres', url });
    assert.deepEqual(loadConfig({}, { TRENT_STORE: 'postgresql://trent@/trent?host=/run/postgresql' }).store, {
      kind: 'postgres', url: 'postgresql://trent@/trent?host=/run/postgresql',
    });
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'trent-cfg-')), 'trent.json');
    writeFileSync(file, JSON.stringify({ store: 'postgres://a@b/c' }));
    assert.deepEqual(loadConfig({ config: file }, {}).store, { kind: 'postgres', url: 'postgres://a@b/c' });
    assert.equal(loadConfig({ config: file, store: 'sqlite' }, {}).store.kind, 'sqlite', 'the flag wins');
    for (const bad of ['mysql://a@b/c', 'postgres', 'data/trent.db', 'http://x/y']) {
      assert.throws(() => loadConfig({ store: bad }, {}), /--store must be sqlite or a postgres:\/\/user@host:port\/database URL/);
    }
    writeFileSync(file, JSON.stringify({ store: { kind: 'postgres', url: 'x' } }));
    assert.throws(() => loadConfig({ config: file }, {}), /--store must be sqlite or a postgres/);
    assert.doesNotMatch(
      (() => { try { loadConfig({ store: 'mysql://u:hunter2@h/d' }, {}); return ''; } catch (e) { return String(e); } })(),
      /hunter2/,
      'a refused URL is not echoed: it may hold a password',
    );
    assert.equal(describeStore({ kind: 'postgres', url }), 'PostgreSQL postgres://trent:***@db.internal:5432/trent?sslmode=require');
  });

  it('takes flags over environment over config file', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'trent-cfg-')), 'trent.json');
    writeFileSync(file, JSON.stringify({ port: 5000, region: 'eu-west-1', dev: true }));
    const c = loadConfig({ config: file, port: '6000' }, { TRENT_PORT: '5500', TRENT_DEFAULT_ACCOUNT: '000000000000' });
    assert.equal(c.port, 6000);
    assert.equal(c.region, 'eu-west-1');
    assert.equal(c.dev, true);
    assert.equal(c.defaultAccount, '000000000000');
    assert.equal(loadConfig({ config: file }, { TRENT_PORT: '5500' }).port, 5500);
  });

  it('takes HSM clusters from the config file or TRENT_HSM_CLUSTERS, checked', () => {
    assert.deepEqual(loadConfig({}, {}).hsmClusters, [], 'none by default');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'trent-cfg-')), 'trent.json');
    const clusters = [
      { clusterId: 'cluster-softhsm2abcd', modulePath: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'trent' },
      { clusterId: 'cluster-234567ABCDEFabcd', modulePath: '/opt/hsm/lib.so', slot: 7, maxSessions: 4, trustAnchorCertificateFile: '/etc/trent/ca.pem' },
    ];
    writeFileSync(file, JSON.stringify({ hsmClusters: clusters }));
    assert.deepEqual(loadConfig({ config: file }, {}).hsmClusters, clusters);
    assert.deepEqual(loadConfig({}, { TRENT_HSM_CLUSTERS: JSON.stringify(clusters.slice(0, 1)) }).hsmClusters, clusters.slice(0, 1));
    const bad = (value: unknown, message: RegExp) => assert.throws(() => loadConfig({}, { TRENT_HSM_CLUSTERS: JSON.stringify(value) }), message);
    bad({}, /must be an array/);
    bad([{ clusterId: 'cluster-1234', modulePath: '/m.so', tokenLabel: 't' }], /clusterId must be an AWS CloudHSM cluster id/);
    bad([{ clusterId: 'cluster-abcdefghijk', modulePath: '/m.so' }], /exactly one of tokenLabel and slot/);
    bad([{ clusterId: 'cluster-abcdefghijk', modulePath: '/m.so', tokenLabel: 't', slot: 1 }], /exactly one of tokenLabel and slot/);
    bad([{ clusterId: 'cluster-abcdefghijk', modulePath: '/m.so', tokenLabel: 't', pin: '1234' }], /unknown setting "pin"/);
    bad([{ clusterId: 'cluster-abcdefghijk', modulePath: '/m.so', tokenLabel: 't' }, { clusterId: 'cluster-abcdefghijk', modulePath: '/n.so', slot: 0 }], /configured twice/);
    assert.throws(() => loadConfig({}, { TRENT_HSM_CLUSTERS: 'not json' }), /JSON array/);
  });

  it('names environment variables after the settings', () => {
    assert.equal(envName('dataDir'), 'TRENT_DATA_DIR');
    assert.equal(envName('defaultAccount'), 'TRENT_DEFAULT_ACCOUNT');
    assert.equal(envName('rootKeyPassphrase'), 'TRENT_ROOT_KEY_PASSPHRASE');
  });

  it('rejects bad values with a clear message', () => {
    assert.throws(() => loadConfig({ port: '70000' }, {}), /--port must be an integer from 0 to 65535/);
    assert.throws(() => loadConfig({ 'default-account': '123' }, {}), /--default-account must be a 12-digit account id/);
    assert.throws(() => loadConfig({}, { TRENT_REGION: 'mars' }), /TRENT_REGION|--region/);
    assert.throws(() => loadConfig({ 'tls-cert': 'a.pem' }, {}), /--tls-cert and --tls-key go together/);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'trent-cfg-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    assert.throws(() => loadConfig({ config: file }, {}), /unknown setting "prot"/);
  });

  it('refuses plain HTTP on a non-loopback address unless told otherwise', () => {
    assert.throws(() => loadConfig({ host: '0.0.0.0' }, {}), /refusing plain HTTP/);
    assert.equal(loadConfig({ host: '0.0.0.0', 'allow-insecure-http': true }, {}).host, '0.0.0.0');
    assert.equal(loadConfig({ host: '0.0.0.0', 'tls-cert': 'c', 'tls-key': 'k' }, {}).tlsCert, 'c');
  });

  it('reads the access keys of integrated services from a flag, the environment or a config file', () => {
    assert.deepEqual(loadConfig({ 'service-access-keys': 'AKIAS3GATEWAY=s3, AKIAEBS=ec2' }, {}).serviceAccessKeys, { AKIAS3GATEWAY: 's3', AKIAEBS: 'ec2' });
    assert.deepEqual(loadConfig({}, { TRENT_SERVICE_ACCESS_KEYS: 'AKIAX=rds' }).serviceAccessKeys, { AKIAX: 'rds' });
    const dir = mkdtempSync(path.join(tmpdir(), 'trent-config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ serviceAccessKeys: { AKIAY: 'lambda' } }));
    assert.deepEqual(loadConfig({ config: file }, {}).serviceAccessKeys, { AKIAY: 'lambda' });
    assert.equal(loadConfig({}, {}).serviceAccessKeys, undefined);
    assert.throws(() => loadConfig({ 'service-access-keys': 'AKIAX' }, {}), /--service-access-keys must map access key ids to service names/);
    assert.throws(() => loadConfig({ 'service-access-keys': 'AKIAX=S3.Amazon' }, {}), /must map access key ids/);
  });
  it('refuses a config file key that is not a setting, "__proto__" included (it would have set defaults for every setting)', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'trent-cfg-')), 'trent.json');
    writeFileSync(file, '{"__proto__": {"dev": true}}');
    assert.throws(() => loadConfig({ config: file }, {}), /unknown setting "__proto__"/);
    writeFileSync(file, '{"toString": 1}');
    assert.throws(() => loadConfig({ config: file }, {}), /unknown setting "toString"/);
  });
});
