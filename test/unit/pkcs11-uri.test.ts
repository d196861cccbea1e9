// RFC 7512 URIs naming the HSM root key: what Trent accepts, what it refuses, and where the PIN comes from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describePkcs11Uri, parsePkcs11Uri, resolvePin } from '../../src/keystores/pkcs11/pkcs11-uri.js';

test('a token label and key label, percent-decoded, with module path and PIN source from the query', () => {
  const u = parsePkcs11Uri('pkcs11:token=My%20Token;object=trent-root;type=secret-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/trent/pin');
  assert.deepEqual(u, { token: 'My Token', slotId: undefined, object: 'trent-root', modulePath: '/usr/lib/softhsm/libsofthsm2.so', pinValue: undefined, pinSource: 'file:/run/trent/pin' });
  assert.equal(describePkcs11Uri(u), 'pkcs11:token=My%20Token;object=trent-root');
  assert.deepEqual(parsePkcs11Uri('pkcs11:slot-id=3;object=k'), { token: undefined, slotId: 3, object: 'k', modulePath: undefined, pinValue: undefined, pinSource: undefined });
});

test('refuses URIs that do not name one secret key on one token, without echoing a PIN', () => {
  assert.throws(() => parsePkcs11Uri('token=a;object=b'), /must start with "pkcs11:"/);
  assert.throws(() => parsePkcs11Uri('pkcs11:token=a'), /object=LABEL/);
  assert.throws(() => parsePkcs11Uri('pkcs11:object=b'), /token=LABEL or slot-id=N/);
  assert.throws(() => parsePkcs11Uri('pkcs11:token=a;object=b;type=private'), /secret-key/);
  assert.throws(() => parsePkcs11Uri('pkcs11:token=a;object=b;colour=red'), /unknown path attribute "colour"/);
  assert.throws(() => parsePkcs11Uri('pkcs11:token=a;object=b;slot-id=x'), /decimal/);
  assert.throws(
    () => parsePkcs11Uri('pkcs11:token=a;object=b?pin-value=s3cret&pin-source=/x'),
    (err: Error) => /both pin-value and pin-source/.test(err.message) && !err.message.includes('s3cret'),
  );
});

test('the PIN: pin-value, else the pin-source file (trailing newline dropped), else TRENT_PKCS11_PIN', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trent-pin-'));
  try {
    const file = path.join(dir, 'pin');
    writeFileSync(file, '1234-5678\n');
    assert.equal(resolvePin(parsePkcs11Uri('pkcs11:token=a;object=b?pin-value=42'), 'env'), '42');
    assert.equal(resolvePin(parsePkcs11Uri(`pkcs11:token=a;object=b?pin-source=file:${file}`), 'env'), '1234-5678');
    assert.equal(resolvePin(parsePkcs11Uri(`pkcs11:token=a;object=b?pin-source=${file}`), undefined), '1234-5678');
    assert.equal(resolvePin(parsePkcs11Uri('pkcs11:token=a;object=b'), 'from-env'), 'from-env');
    assert.throws(() => resolvePin(parsePkcs11Uri('pkcs11:token=a;object=b'), undefined), /TRENT_PKCS11_PIN/);
    assert.throws(() => resolvePin(parsePkcs11Uri(`pkcs11:token=a;object=b?pin-source=${dir}/missing`), undefined), /cannot read the PKCS#11 PIN/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
