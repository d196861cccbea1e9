// Request bodies for fuzzing Trent, drawn from the KMS model: mostly well-formed (so that they get past validation
// and into the operations), some with one member broken, some not JSON at all. Deterministic for a seed.
import { OPERATIONS, SHAPES, type ShapeDef } from '../../src/model/kms-model.generated.js';

/** xorshift128+: small, fast, and the same sequence for the same seed on every machine. */
export class Rng {
  #a: bigint;
  #b: bigint;
  constructor(seed: number) {
    this.#a = BigInt(seed >>> 0) | 1n;
    this.#b = BigInt(Math.imul(seed, 2654435761) >>> 0) | 2n;
    for (let i = 0; i < 20; i++) this.next();
  }
  next(): number {
    let x = this.#a;
    const y = this.#b;
    this.#a = y;
    x ^= (x << 23n) & 0xffffffffffffffffn;
    x ^= x >> 17n;
    x ^= y ^ (y >> 26n);
    this.#b = x;
    return Number((x + y) & 0xfffffffffffffn) / 2 ** 52;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

export interface FuzzContext {
  /** Key ids, ARNs and aliases of keys that exist (of several specs), so that requests reach the operations. */
  readonly keyRefs: readonly string[];
  /** Ciphertexts that Trent made, for Decrypt and ReEncrypt. */
  readonly ciphertexts: readonly string[];
}

const NASTY_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '\ud800', '\uffff', '🔑', 'é'.normalize('NFD'),
  '../../etc/passwd', "'; DROP TABLE keys; --", '%00', '${aws:username}', '*', 'alias/', 'alias/aws/s3', 'arn:aws:kms:us-east-1:111122223333:key/',
  'mrk-0123456789abcdef0123456789abcdef', '00000000-0000-0000-0000-000000000000', 'a'.repeat(300), 'x'.repeat(9000),
];

const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'];

/** A value for `shapeName`, usually within the model's constraints. */
function value(rng: Rng, ctx: FuzzContext, shapeName: string, memberName: string, depth: number): unknown {
  const s: ShapeDef = SHAPES[shapeName]!;
  if (rng.chance(0.02)) return wrongType(rng, s);
  switch (s.type) {
    case 'structure': {
      const out: Record<string, unknown> = {};
      if (depth > 4) return out;
      for (const [m, ms] of Object.entries(s.members ?? {})) {
        if (s.required?.includes(m) ? rng.chance(0.97) : rng.chance(0.4)) out[m] = value(rng, ctx, ms, m, depth + 1);
      }
      return out;
    }
    case 'list': {
      const n = rng.chance(0.05) ? rng.int(200) : rng.int(4);
      return Array.from({ length: n }, () => value(rng, ctx, s.member!, memberName, depth + 1));
    }
    case 'map': {
      const pairs: [string, unknown][] = [];
      const n = rng.chance(0.05) ? rng.int(100) : rng.int(4);
      for (let i = 0; i < n; i++) pairs.push([rng.chance(0.2) ? rng.pick(PROTO_KEYS) : str(rng, 1, 20), value(rng, ctx, s.value!, memberName, depth + 1)]);
      return Object.fromEntries(pairs);
    }
    case 'string':
      return stringValue(rng, ctx, s, memberName);
    case 'blob':
      if (memberName === 'CiphertextBlob' && ctx.ciphertexts.length > 0 && rng.chance(0.6)) {
        const c = rng.pick(ctx.ciphertexts);
        return rng.chance(0.3) ? flipOne(rng, c) : c;
      }
      return Buffer.from(Array.from({ length: rng.chance(0.1) ? rng.int(8000) : 1 + rng.int(64) }, () => rng.int(256))).toString('base64');
    case 'integer':
    case 'long':
      if (rng.chance(0.1)) return rng.pick([-1, 0, 2 ** 31, 2 ** 53, -(2 ** 53), 1e300]);
      return (s.min ?? 0) + rng.int(Math.min((s.max ?? 1000) - (s.min ?? 0) + 1, 5000));
    case 'boolean':
      return rng.chance(0.5);
    case 'timestamp':
      return rng.chance(0.1) ? rng.pick([-1, 0, 1e12, 253402300800]) : Math.floor(Date.now() / 1000) + rng.int(400 * 86400);
    default:
      return null;
  }
}

function stringValue(rng: Rng, ctx: FuzzContext, s: ShapeDef, memberName: string): string {
  if (rng.chance(0.08)) return rng.pick(NASTY_STRINGS);
  if (s.enum) return rng.chance(0.95) ? rng.pick(s.enum) : rng.pick(s.enum).toLowerCase();
  if (/KeyId$/.test(memberName) && ctx.keyRefs.length > 0 && rng.chance(0.85)) return rng.pick(ctx.keyRefs);
  if (memberName === 'AliasName') return `alias/fuzz-${rng.int(50)}`;
  if (/Principal$/.test(memberName)) return rng.pick(['arn:aws:iam::111122223333:root', 'arn:aws:iam::111122223333:role/app', 'arn:aws:iam::444455556666:user/x', '*']);
  if (memberName === 'Policy') return policy(rng);
  const min = s.min ?? 0;
  const max = Math.min(s.max ?? 64, 64);
  return str(rng, min, Math.max(min, max));
}

function policy(rng: Rng): string {
  const doc = {
    Version: rng.pick(['2012-10-17', '2008-10-17', 'x']),
    Statement: [
      { Effect: rng.pick(['Allow', 'Deny']), Principal: rng.pick([{ AWS: 'arn:aws:iam::111122223333:root' }, '*', { AWS: '*' }]), Action: rng.pick(['kms:*', 'kms:Encrypt', '*']), Resource: '*' },
      ...(rng.chance(0.5) ? [{ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { [rng.pick(['kms:EncryptionContext:__proto__', 'aws:PrincipalArn', 'kms:CallerAccount'])]: '${toString}' } } }] : []),
    ],
  };
  return rng.chance(0.1) ? JSON.stringify(doc).slice(0, rng.int(80)) : JSON.stringify(doc);
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/:.';
function str(rng: Rng, min: number, max: number): string {
  const n = min + rng.int(max - min + 1);
  let out = '';
  for (let i = 0; i < n; i++) out += rng.chance(0.03) ? String.fromCharCode(rng.int(0x3000)) : ALPHABET[rng.int(ALPHABET.length)];
  return out;
}

function wrongType(rng: Rng, s: ShapeDef): unknown {
  const options: unknown[] = [null, 0, -1.5, true, 'x', [], {}, [[[]]], { a: { b: {} } }];
  return rng.pick(options.filter((v) => !(s.type === 'string' && typeof v === 'string')));
}

function flipOne(rng: Rng, base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length > 0) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
  return bytes.toString('base64');
}

export interface FuzzRequest {
  readonly target: string;
  readonly body: string | Buffer;
}

const OPERATION_NAMES = Object.keys(OPERATIONS);

/** One request: an operation of the model (now and then a name that is not one) and its body. */
export function fuzzRequest(rng: Rng, ctx: FuzzContext): FuzzRequest {
  const roll = rng.next();
  const name = roll < 0.03 ? rng.pick(['toString', '__proto__', 'constructor', 'MakeCoffee', '', 'Encrypt ', 'encrypt']) : rng.pick(OPERATION_NAMES);
  const target = roll > 0.995 ? rng.pick(['KMS.Encrypt', 'TrentService', 'TrentService.', `TrentService.${name}.x`]) : `TrentService.${name}`;
  const def = OPERATIONS[name as keyof typeof OPERATIONS];
  const input = def?.input ? value(rng, ctx, def.input, '', 0) : {};
  const kind = rng.next();
  if (kind < 0.04) return { target, body: JSON.stringify(input).slice(0, rng.int(JSON.stringify(input).length + 1)) };
  if (kind < 0.05) return { target, body: '['.repeat(2000 + rng.int(20000)) };
  if (kind < 0.06) {
    const n = 1000 + rng.int(20000);
    return { target, body: `{"KeyId":${'['.repeat(n)}${']'.repeat(n)}}` };
  }
  if (kind < 0.08) return { target, body: Buffer.from(Array.from({ length: rng.int(200) }, () => rng.int(256))) };
  if (kind < 0.1) return { target, body: rng.pick(['null', '[]', '"x"', '1', 'true', '{}', '{"KeyId":{"__proto__":{"x":1}}}', '{"__proto__":{"KeyId":"x"}}']) };
  if (kind < 0.12) {
    // The same member twice: JSON.parse keeps the last one.
    const text = JSON.stringify(input);
    return { target, body: text.length > 2 ? `{"KeyId":"${rng.pick(ctx.keyRefs.length ? ctx.keyRefs : ['x'])}",${text.slice(1)}` : text };
  }
  return { target, body: JSON.stringify(input) };
}
