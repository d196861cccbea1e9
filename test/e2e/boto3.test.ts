// boto3 (installed on the machine) against Trent: one Python process runs many calls (test/python/boto3_flows.py),
// so the interpreter starts once; the script exits non-zero on any failed check.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { repoRoot, startServer, type TestServer } from '../helpers/server.js';

describe('boto3 against Trent', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ args: ['--multi-region-transition-ms', '100'] });
  });
  after(async () => {
    await server?.stop();
  });

  it('passes every flow of test/python/boto3_flows.py', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
    Object.assign(env, { AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true' });
    const script = path.join(repoRoot, 'test/python/boto3_flows.py');
    const { code, stdout, stderr } = await new Promise<{ code: number | string; stdout: string; stderr: string }>((resolve) =>
      execFile('python3', [script, server.url], { env, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (err.code ?? String(err)) : 0, stdout, stderr }),
      ),
    );
    assert.equal(code, 0, `boto3_flows.py failed (exit ${code}):\n${stdout}\n${stderr}`);
    assert.match(stdout, /boto3 flows: all checks passed/);
    assert.ok(stdout.split('\n').filter((l) => l.startsWith('ok ')).length >= 10, stdout);
  });
});
