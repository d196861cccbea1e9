// The fuzz run: many generated requests against a running dev-mode Trent, each answer checked against what every
// client relies on (an AWS JSON 1.1 answer: a modelled exception or a result, a request id, no server fault, no stack
// trace, a bounded message). `npm run fuzz` runs it long; test/e2e/fuzz.test.ts runs a few thousand bodies in npm test.
import { EXCEPTION_NAMES } from '../../src/model/kms-model.generated.js';
import type { ProtocolExceptionName } from '../../src/domain/errors.js';
import { fuzzRequest, Rng, type FuzzContext } from './generator.js';

const PROTOCOL_EXCEPTIONS: readonly ProtocolExceptionName[] = [
  'ValidationException', 'SerializationException', 'UnknownOperationException', 'AccessDeniedException', 'MissingAuthenticationTokenException',
  'IncompleteSignatureException', 'InvalidSignatureException', 'UnrecognizedClientException', 'ThrottlingException', 'RequestEntityTooLargeException',
  'NotAuthorizedException',
];
const KNOWN_TYPES = new Set<string>([...EXCEPTION_NAMES, ...PROTOCOL_EXCEPTIONS]);
const DEV_AUTH = 'AWS4-HMAC-SHA256 Credential=AKIAFUZZ/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00';

export interface FuzzOptions {
  readonly url: string;
  readonly count: number;
  readonly seed: number;
  readonly concurrency?: number;
}

export interface FuzzResult {
  readonly sent: number;
  /** Answers by status and exception type ("200", "400 ValidationException", ...). */
  readonly outcomes: ReadonlyMap<string, number>;
  /** Every answer that broke a rule, with what was sent (bounded to the first 20). */
  readonly violations: readonly string[];
}

async function kms(url: string, operation: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `TrentService.${operation}`, Authorization: DEV_AUTH }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${operation}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Keys of several specs, an alias and ciphertexts, so that generated requests reach the operations. */
export async function seedContext(url: string): Promise<FuzzContext> {
  const keyRefs: string[] = [];
  const ciphertexts: string[] = [];
  const specs = [{}, { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }, { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' },
    { KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' }, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }, { Origin: 'EXTERNAL' }, { KeySpec: 'ML_DSA_44', KeyUsage: 'SIGN_VERIFY' }];
  for (const spec of specs) {
    const meta = (await kms(url, 'CreateKey', spec)).KeyMetadata as { KeyId: string; Arn: string };
    keyRefs.push(meta.KeyId, meta.Arn);
  }
  await kms(url, 'CreateAlias', { AliasName: 'alias/fuzz', TargetKeyId: keyRefs[0] });
  keyRefs.push('alias/fuzz', 'alias/missing');
  for (const context of [undefined, { a: 'b' }, JSON.parse('{"__proto__":"x"}') as Record<string, string>]) {
    ciphertexts.push((await kms(url, 'Encrypt', { KeyId: keyRefs[0], Plaintext: 'aGVsbG8=', ...(context && { EncryptionContext: context }) })).CiphertextBlob as string);
  }
  return { keyRefs, ciphertexts };
}

/** Sends `count` generated requests (a few at a time) and checks each answer. */
export async function runFuzz(opts: FuzzOptions, ctx: FuzzContext): Promise<FuzzResult> {
  const rng = new Rng(opts.seed);
  const outcomes = new Map<string, number>();
  const violations: string[] = [];
  let sent = 0;
  const one = async () => {
    const { target, body } = fuzzRequest(rng, ctx);
    sent++;
    const shown = () => `${target} ${(typeof body === 'string' ? body : body.toString('base64')).slice(0, 300)}`;
    const problem = (what: string) => violations.length < 20 && violations.push(`${what} — sent ${shown()}`);
    let res: Response;
    try {
      res = await fetch(opts.url, { method: 'POST', headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': target, Authorization: DEV_AUTH }, body });
    } catch (err) {
      problem(`no answer: ${String(err)}`);
      return;
    }
    const text = await res.text();
    let json: { __type?: unknown; message?: unknown } | undefined;
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      problem(`answer is not JSON (HTTP ${res.status}): ${text.slice(0, 200)}`);
    }
    const type = typeof json?.__type === 'string' ? json.__type : undefined;
    const key = res.status === 200 ? '200' : `${res.status} ${type ?? '?'}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    if (!res.headers.get('x-amzn-requestid')) problem('no x-amzn-RequestId');
    if (res.status >= 500) problem(`server fault HTTP ${res.status}: ${text.slice(0, 300)}`);
    else if (res.status !== 200) {
      if (![400, 413].includes(res.status)) problem(`HTTP ${res.status}`);
      if (!type || !KNOWN_TYPES.has(type)) problem(`unknown exception type ${String(json?.__type)}`);
      if (typeof json?.message !== 'string') problem('no message');
      else if (json.message.length > 8192 + 3) problem(`message of ${json.message.length} characters`);
    }
    if (/\bat [\w.<>]+ \(?(file:|node:|\/)[^)]*:\d+:\d+/.test(text)) problem(`stack trace in the answer: ${text.slice(0, 300)}`);
  };
  const workers = Array.from({ length: opts.concurrency ?? 8 }, async () => {
    while (sent < opts.count) await one();
  });
  await Promise.all(workers);
  return { sent, outcomes, violations };
}
