// A throwaway SoftHSM2 token directory per test process: its own softhsm2.conf (SOFTHSM2_CONF, set in this process's
// environment, since SoftHSM reads it at C_Initialize, which happens once per process) and tokens initialized with
// softhsm2-util. Removed when the process exits. `softhsmSkip` is the reason to skip when SoftHSM2 is not installed.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SOFTHSM_MODULE = process.env.TRENT_TEST_SOFTHSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

const utilPresent = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' }).status === 0;

/** Why the SoftHSM2 tests cannot run here (undefined: they can). */
const missing: string | undefined = !utilPresent
  ? 'SoftHSM2 is not installed (Debian package softhsm2: softhsm2-util not on PATH)'
  : !existsSync(SOFTHSM_MODULE)
    ? `SoftHSM2 is not installed (no PKCS#11 module at ${SOFTHSM_MODULE})`
    : undefined;
/** Skipped only outside CI: in CI (CI=true, as .ci/run runs) the HSM suites run, and fail with this reason if SoftHSM2 is missing. */
export const softhsmSkip: string | undefined = process.env.CI ? undefined : missing;

export interface SoftHsm {
  /** The softhsm2.conf to hand to child processes as SOFTHSM2_CONF. */
  readonly conf: string;
  readonly dir: string;
  readonly module: string;
  /** Initializes a new token in a free slot; returns its label, user PIN and slot id. */
  initToken(label?: string, pin?: string): { label: string; pin: string; slot: number };
}

let current: SoftHsm | undefined;

/** The process's SoftHSM2 directory (made on first use; SOFTHSM2_CONF is set for this process). */
export function softHsm(): SoftHsm {
  if (current) return current;
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(path.join(tmpdir(), 'trent-softhsm-'));
  const tokens = path.join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  current = {
    conf,
    dir,
    module: SOFTHSM_MODULE,
    initToken(label = `trent-${randomBytes(4).toString('hex')}`, pin = randomBytes(6).toString('hex')) {
      const r = spawnSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', `${pin}-so`], {
        encoding: 'utf8', env: { ...process.env, SOFTHSM2_CONF: conf },
      });
      if (r.status !== 0) throw new Error(`softhsm2-util --init-token failed: ${r.stderr}${r.stdout}`);
      const m = /reassigned to slot (\d+)/.exec(r.stdout);
      if (!m) throw new Error(`softhsm2-util: no slot in its output: ${r.stdout}`);
      return { label, pin, slot: Number(m[1]) };
    },
  };
  return current;
}
