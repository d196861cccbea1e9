import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../../src/cli/duration.js';
import { AdjustableClock } from '../../src/domain/clock.js';

describe('trent dev advance-clock durations', () => {
  it('reads days, hours, minutes, seconds and their sums', () => {
    assert.equal(parseDuration('400d'), 400 * 86_400);
    assert.equal(parseDuration('36h'), 36 * 3_600);
    assert.equal(parseDuration('90m'), 5_400);
    assert.equal(parseDuration('30s'), 30);
    assert.equal(parseDuration('1d12h'), 129_600);
    assert.equal(parseDuration('0s'), 0);
  });
  it('refuses anything else', () => {
    for (const bad of ['', '10', 'd', '-1d', '1.5d', '10 days', '1w', '1d 2h', '99999999999999999999d']) assert.equal(parseDuration(bad), undefined, bad);
  });
});

describe('AdjustableClock', () => {
  it('runs ahead of its base by what it was advanced, and never backwards', () => {
    let base = 1_000;
    const clock = new AdjustableClock({ now: () => new Date(base) });
    clock.advance(500);
    assert.equal(clock.now().getTime(), 1_500);
    base = 2_000;
    assert.equal(clock.now().getTime(), 2_500, 'real time keeps running under the offset');
    assert.throws(() => clock.advance(-1), RangeError);
    assert.throws(() => clock.advance(0.5), RangeError);
    assert.throws(() => clock.advance(9e15), RangeError);
    assert.equal(clock.offsetMs, 500);
  });
});
