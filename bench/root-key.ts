// How long the event loop is blocked by one wrap / unwrap under the HSM root key (synchronous C_Encrypt /
// C_Decrypt in the token), against the file root key (AES-GCM in process). Needs SoftHSM2.
// Usage: npm run build && node dist/bench/root-key.js [iterations]
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RootKey } from '../src/keystores/local/root-key.js';
import { Pkcs11Modules } from '../src/keystores/pkcs11/pkcs11-token.js';
import { openHsmRootKey } from '../src/keystores/root-of-trust.js';
import type { SecretWrapper } from '../src/domain/ports.js';
import { softHsm, softhsmSkip } from '../test/helpers/softhsm.js';

const n = Number(process.argv[2] ?? 2000);

function measure(name: string, w: SecretWrapper): void {
  const secret = randomBytes(32);
  const context = ['material', 'arn:aws:kms:us-east-1:111122223333:key/x', 'm1'];
  const wraps: number[] = [];
  const unwraps: number[] = [];
  let wrapped = w.wrap(context, secret);
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    wrapped = w.wrap(context, secret);
    wraps.push(performance.now() - t);
    t = performance.now();
    w.unwrap(context, wrapped);
    unwraps.push(performance.now() - t);
  }
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!.toFixed(3);
  process.stdout.write(`${name.padEnd(22)} wrap p50 ${q(wraps, 0.5)} ms p99 ${q(wraps, 0.99)} ms | unwrap p50 ${q(unwraps, 0.5)} ms p99 ${q(unwraps, 0.99)} ms (${n} each)\n`);
}

if (softhsmSkip) {
  process.stderr.write(`${softhsmSkip}\n`);
  process.exit(1);
}
const hsm = softHsm();
const tok = hsm.initToken();
const key = await openHsmRootKey(`pkcs11:token=${tok.label};object=bench-root`, { pkcs11Module: hsm.module, pkcs11Pin: tok.pin, rootKeyCreate: true }, new Pkcs11Modules(), {
  bytes: (k) => randomBytes(k), uuid: () => randomUUID(),
});
measure('file root key', RootKey.fromBytes(randomBytes(32)));
measure('HSM root key (SoftHSM)', key);
key.close();
