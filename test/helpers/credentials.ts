// Reads the AWS shared-credentials files that Trent writes (data/credentials, `trent iam` profiles).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** One profile's access key id and secret from a shared-credentials file; fails the test when the profile is missing. */
export function readProfile(file: string, profile: string): { id: string; secret: string } {
  let current = '';
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const section = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (section) current = section[1]!;
    const kv = /^\s*([\w-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (kv && current === profile) out[kv[1]!] = kv[2]!;
  }
  assert.ok(out.aws_access_key_id, `profile ${profile} in ${file}`);
  return { id: out.aws_access_key_id!, secret: out.aws_secret_access_key! };
}
