import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedMap } from '../../src/domain/bounded-map.js';

describe('BoundedMap', () => {
  it('holds at most max entries, dropping the oldest added', () => {
    const m = new BoundedMap<string, number>(3);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) m.set(k, i);
    assert.deepEqual([...m.keys()], ['b', 'c', 'd']);
    assert.equal(m.get('a'), undefined);
  });

  it('replacing an entry already there drops nothing', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('a', 3);
    assert.deepEqual([...m.entries()], [['a', 3], ['b', 2]]);
  });

  it('refuses a bound below 1', () => {
    assert.throws(() => new BoundedMap(0), RangeError);
    assert.throws(() => new BoundedMap(1.5), RangeError);
  });
});
