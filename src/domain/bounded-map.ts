/**
 * A Map that holds at most `max` entries: adding one more drops the oldest added (insertion order, what a Map keeps
 * for free). Every cache of Trent is one of these, so that no client can grow one without bound (names that do not
 * exist, access key ids never issued). Reads cost what a Map's cost: the hot path's lookups do not pay for the bound.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super();
    if (!(max >= 1) || !Number.isInteger(max)) throw new RangeError('max must be a whole number of at least 1');
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}
