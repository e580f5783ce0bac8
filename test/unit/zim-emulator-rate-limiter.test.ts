import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlidingWindowLimiter } from '../../src/zim-emulator/rate-limiter';

describe('SlidingWindowLimiter', () => {
  it('accepts `limit` calls in any one-second window and refuses the next', () => {
    const limiter = new SlidingWindowLimiter();
    const accepted = Array.from({ length: 25 }, (_, i) => limiter.tryAcquire('a', 20, 1000 + i));
    assert.equal(accepted.filter(Boolean).length, 20);
    assert.deepEqual(accepted.slice(20), [false, false, false, false, false]);
  });

  it('frees budget exactly one second after each accepted call (sliding, not fixed windows)', () => {
    const limiter = new SlidingWindowLimiter();
    assert.ok(limiter.tryAcquire('a', 2, 0));
    assert.ok(limiter.tryAcquire('a', 2, 600));
    assert.equal(limiter.tryAcquire('a', 2, 999), false);
    assert.ok(limiter.tryAcquire('a', 2, 1000));
    // A fixed window would allow this one (new second); the sliding window still holds 600 and 1000.
    assert.equal(limiter.tryAcquire('a', 2, 1500), false);
    assert.ok(limiter.tryAcquire('a', 2, 1600));
  });

  it('keeps separate budgets per key and does not charge refused calls', () => {
    const limiter = new SlidingWindowLimiter();
    assert.ok(limiter.tryAcquire('g1', 1, 0));
    assert.ok(limiter.tryAcquire('g2', 1, 0));
    for (let t = 1; t < 1000; t += 100) assert.equal(limiter.tryAcquire('g1', 1, t), false);
    assert.ok(limiter.tryAcquire('g1', 1, 1000));
  });
});
