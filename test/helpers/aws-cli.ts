import { execFile } from 'node:child_process';

/**
 * Runs the real `aws` CLI against a Trent server and returns its JSON output: `aws kms <args…>` with the endpoint,
 * region and short timeouts (the CLI otherwise retries for seconds), a test access key and no user configuration.
 */
export function awsCli(endpoint: string, cwd: string, opts: { service?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } = {}): (...args: string[]) => Promise<any> {
  return (...args) =>
    new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
      Object.assign(env, {
        AWS_ACCESS_KEY_ID: opts.credentials?.accessKeyId ?? 'AKIACLITEST', AWS_SECRET_ACCESS_KEY: opts.credentials?.secretAccessKey ?? 'cli-test-secret', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_DEFAULT_OUTPUT: 'json', AWS_PAGER: '', AWS_EC2_METADATA_DISABLED: 'true',
      });
      const argv = [opts.service ?? 'kms', ...args, '--endpoint-url', endpoint, '--region', 'us-east-1', '--cli-connect-timeout', '5', '--cli-read-timeout', '10'];
      execFile('aws', argv, { env, cwd, timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`aws ${opts.service ?? 'kms'} ${args[0]}: ${stderr}`)) : resolve(JSON.parse(stdout))));
    });
}
