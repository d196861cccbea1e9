// Model-driven input parsing/validation and output serialization for AWS JSON 1.1.
import { SHAPES, type ShapeDef } from '../model/kms-model.generated.js';
import { echoed, KmsError } from '../domain/errors.js';
import { SecretBytes } from '../crypto/secret-bytes.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
function shape(name: string): ShapeDef {
  const s = SHAPES[name];
  if (!s) throw new Error(`shape ${name} missing from the model`);
  return s;
}

interface Member {
  readonly name: string;
  /** Coral names members in lowerCamelCase in validation messages. */
  readonly pathName: string;
  readonly shapeName: string;
  readonly shape: ShapeDef;
  readonly required: boolean;
}

/** Java's String.matches: the whole value must match. */
export function compilePattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'u');
}

/** Derived once from the immutable model: each structure's members and each shape's compiled pattern. */
const MEMBERS: ReadonlyMap<string, readonly Member[]> = new Map(
  Object.entries(SHAPES)
    .filter(([, s]) => s.type === 'structure')
    .map(([name, s]) => [
      name,
      Object.freeze(Object.entries(s.members ?? {}).map(([m, shapeName]) => ({ name: m, pathName: m.charAt(0).toLowerCase() + m.slice(1), shapeName, shape: shape(shapeName), required: s.required?.includes(m) ?? false }))),
    ]),
);
const PATTERNS: ReadonlyMap<string, RegExp> = new Map(
  Object.entries(SHAPES).flatMap(([name, s]) => (s.pattern ? [[name, compilePattern(s.pattern)] as const] : [])),
);

const members = (name: string): readonly Member[] => MEMBERS.get(name) ?? [];

/** Where a value is, rendered ("tags.1.member.tagKey") only when a message needs it. */
interface Path {
  readonly parent: Path | undefined;
  readonly segment: string;
}
const at = (parent: Path | undefined, segment: string): Path => ({ parent, segment });
const whereOf = (path: Path | undefined): string => render(path) || 'request';
function render(path: Path | undefined): string {
  const segments: string[] = [];
  for (let p = path; p; p = p.parent) segments.push(p.segment);
  return segments.reverse().join('.');
}

/** The most problems one ValidationException lists (it counts them all): a body of a million bad values gets a short answer. */
const MAX_LISTED_PROBLEMS = 10;

class Collector {
  readonly problems: string[] = [];
  count = 0;
  add(value: string, path: Path | undefined, constraint: string): void {
    if (++this.count <= MAX_LISTED_PROBLEMS) this.problems.push(`Value ${value}at '${render(path)}' failed to satisfy constraint: ${constraint}`);
  }
}

function serializationError(message: string): KmsError {
  return new KmsError('SerializationException', message);
}

/**
 * Parses a JSON request body against an input shape: type errors are SerializationException, constraint
 * violations one ValidationException listing them all, worded as AWS words them.
 */
export function parseInput(shapeName: string, body: unknown): unknown {
  const collector = new Collector();
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw serializationError('Start of structure or map found where not expected.');
  }
  const value = convert(shapeName, body, undefined, collector, false);
  if (collector.count > 0) {
    const n = collector.count;
    throw new KmsError('ValidationException', `${n} validation error${n === 1 ? '' : 's'} detected: ${collector.problems.join('; ')}`);
  }
  return value;
}

function shown(s: ShapeDef, raw: unknown, sensitive: boolean): string {
  if (sensitive || s.sensitive || s.type === 'blob' || s.type === 'structure' || s.type === 'map') return '';
  if (s.type === 'list') return Array.isArray(raw) && raw.every((v) => typeof v !== 'object') ? `'${echoed(`[${raw.join(', ')}]`)}' ` : '';
  return `'${echoed(String(raw))}' `;
}

function checkLength(s: ShapeDef, length: number, raw: unknown, path: Path | undefined, c: Collector, sensitive: boolean): void {
  if (s.min !== undefined && length < s.min)
    c.add(shown(s, raw, sensitive), path, `Member must have length greater than or equal to ${s.min}`);
  if (s.max !== undefined && length > s.max)
    c.add(shown(s, raw, sensitive), path, `Member must have length less than or equal to ${s.max}`);
}

function convert(name: string, raw: unknown, path: Path | undefined, c: Collector, sensitive: boolean): unknown {
  const s = shape(name);
  switch (s.type) {
    case 'structure': {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        throw serializationError(`Expected a structure at '${whereOf(path)}'.`);
      const out: Record<string, unknown> = {};
      const obj = raw as Record<string, unknown>;
      for (const m of members(name)) {
        const v = obj[m.name];
        if (v === undefined || v === null) {
          if (m.required) c.add('null ', at(path, m.pathName), 'Member must not be null');
          continue;
        }
        out[m.name] = convert(m.shapeName, v, at(path, m.pathName), c, sensitive || m.shape.sensitive === true);
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(raw)) throw serializationError(`Expected a list at '${whereOf(path)}'.`);
      checkLength(s, raw.length, raw, path, c, sensitive);
      return raw.map((item, i) => convert(s.member!, item, at(path, `${i + 1}.member`), c, sensitive));
    }
    case 'map': {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        throw serializationError(`Expected a map at '${whereOf(path)}'.`);
      const entries = Object.entries(raw as Record<string, unknown>);
      checkLength(s, entries.length, raw, path, c, sensitive);
      // Built with Object.fromEntries (own data properties): `out[k] = v` on a plain object drops a "__proto__" key.
      return Object.fromEntries(
        entries.map(([k, v]) => {
          convert(s.key!, k, at(path, 'key'), c, sensitive);
          if (v === null || v === undefined) throw serializationError(`Map value at '${whereOf(path)}' must not be null.`);
          return [k, convert(s.value!, v, at(path, 'value'), c, sensitive)];
        }),
      );
    }
    case 'string': {
      if (typeof raw !== 'string') throw serializationError(`Expected a string at '${whereOf(path)}'.`);
      checkLength(s, raw.length, raw, path, c, sensitive);
      if (s.enum && !s.enum.includes(raw))
        c.add(shown(s, raw, sensitive), path, `Member must satisfy enum value set: [${s.enum.join(', ')}]`);
      if (s.pattern && !PATTERNS.get(name)!.test(raw))
        c.add(shown(s, raw, sensitive), path, `Member must satisfy regular expression pattern: ${s.pattern}`);
      return raw;
    }
    case 'blob': {
      if (typeof raw !== 'string' || !BASE64.test(raw)) throw serializationError(`Expected a base64-encoded blob at '${whereOf(path)}'.`);
      const bytes = Buffer.from(raw, 'base64');
      checkLength(s, bytes.length, raw, path, c, sensitive);
      return s.sensitive ? SecretBytes.adopt(bytes) : bytes;
    }
    case 'integer':
    case 'long': {
      if (typeof raw !== 'number' || !Number.isInteger(raw)) throw serializationError(`Expected an integer at '${whereOf(path)}'.`);
      if (s.min !== undefined && raw < s.min) c.add(shown(s, raw, sensitive), path, `Member must have value greater than or equal to ${s.min}`);
      if (s.max !== undefined && raw > s.max) c.add(shown(s, raw, sensitive), path, `Member must have value less than or equal to ${s.max}`);
      return raw;
    }
    case 'boolean':
      if (typeof raw !== 'boolean') throw serializationError(`Expected a boolean at '${whereOf(path)}'.`);
      return raw;
    case 'timestamp':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) throw serializationError(`Expected epoch seconds at '${whereOf(path)}'.`);
      return new Date(raw * 1000);
    default: {
      const never: never = s.type;
      throw new Error(`unhandled shape type ${String(never)}`);
    }
  }
}

/**
 * Serializes an operation's output by its shape: only modelled members, blobs as base64 (SecretBytes are
 * read here and nowhere else on the way out), timestamps as epoch seconds.
 */
export function serializeOutput(shapeName: string, value: unknown): unknown {
  const s = shape(shapeName);
  switch (s.type) {
    case 'structure': {
      const out: Record<string, unknown> = {};
      const obj = value as Record<string, unknown>;
      for (const m of members(shapeName)) {
        const v = obj[m.name];
        if (v !== undefined && v !== null) out[m.name] = serializeOutput(m.shapeName, v);
      }
      return out;
    }
    case 'list':
      return (value as unknown[]).map((v) => serializeOutput(s.member!, v));
    case 'map':
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, serializeOutput(s.value!, v)]));
    case 'blob':
      return (value instanceof SecretBytes ? value.unsafeBytes() : (value as Buffer)).toString('base64');
    case 'timestamp':
      return (value as Date).getTime() / 1000;
    case 'string':
    case 'integer':
    case 'long':
    case 'boolean':
      return value;
    default: {
      const never: never = s.type;
      throw new Error(`unhandled shape type ${String(never)}`);
    }
  }
}
