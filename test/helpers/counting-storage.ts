import type { Storage } from '../../src/domain/ports.js';

/** A real store, with the name of every method called on it recorded in order. */
export function counting(storage: Storage): { storage: Storage; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(storage, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (...args: unknown[]) => (calls.push(String(prop)), v.apply(target, args)) : v;
    },
  });
  return { storage: proxy, calls };
}
