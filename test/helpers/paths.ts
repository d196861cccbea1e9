import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(ROOT, 'test/vectors', name), 'utf8')) as T;
}
