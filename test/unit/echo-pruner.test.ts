import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BODIES_KEPT_MS,
  BODIES_UNUSED_MS,
  bodiesUnusedMs,
  BODY_PRUNE_EVERY,
  BODY_PRUNE_MOST,
  bodyPruner,
  ECHO_PRUNE_EVERY,
  ECHO_RECORDS_KEPT_MS,
  echoPruner,
} from '../../src/coexist/coexist-store';

/** How many of `writes` writes prune, and before when. */
async function prunesOf(make: typeof echoPruner, writes: number): Promise<number[]> {
  const calls: number[] = [];
  const written = make(async (before) => {
    calls.push(before);
    return 0;
  });
  for (let i = 0; i < writes; i++) await written();
  return calls;
}

describe('echoPruner', () => {
  it("prunes every ECHO_PRUNE_EVERY-th echo write, what is older than a day's records", async () => {
    const calls = await prunesOf(echoPruner, ECHO_PRUNE_EVERY * 2 + 1);
    assert.equal(calls.length, 2);
    const want = Date.now() - ECHO_RECORDS_KEPT_MS;
    for (const before of calls) assert.ok(Math.abs(before - want) < 5_000, `prunes before ${before}`);
    assert.equal(ECHO_RECORDS_KEPT_MS, 86_400_000);
  });
});

describe('bodyPruner', () => {
  it('prunes every BODY_PRUNE_EVERY-th body put, what was put and settled more than a day ago, 10,000 at most', async () => {
    const calls = await prunesOf(bodyPruner, BODY_PRUNE_EVERY * 3 - 1);
    assert.equal(calls.length, 2);
    const want = Date.now() - BODIES_KEPT_MS;
    for (const before of calls) assert.ok(Math.abs(before - want) < 5_000, `prunes before ${before}`);
    assert.deepEqual([BODY_PRUNE_EVERY, BODIES_KEPT_MS, BODY_PRUNE_MOST], [1_000, 86_400_000, 10_000]);
  });
});

describe('bodiesUnusedMs', () => {
  it('is 30 days unless ZIM_MIGRATE_COEXIST_BODIES_UNUSED_DAYS gives whole days from 2 to 3650', () => {
    const DAY = 86_400_000;
    assert.equal(BODIES_UNUSED_MS, 30 * DAY);
    assert.equal(bodiesUnusedMs({}), 30 * DAY);
    assert.equal(bodiesUnusedMs({ ZIM_MIGRATE_COEXIST_BODIES_UNUSED_DAYS: ' ' }), 30 * DAY);
    assert.equal(bodiesUnusedMs({ ZIM_MIGRATE_COEXIST_BODIES_UNUSED_DAYS: '7' }), 7 * DAY);
    for (const bad of ['1', '0', '-3', '2.5', 'week', '3651'])
      assert.throws(
        () => bodiesUnusedMs({ ZIM_MIGRATE_COEXIST_BODIES_UNUSED_DAYS: bad }),
        /ZIM_MIGRATE_COEXIST_BODIES_UNUSED_DAYS: whole days from 2 to 3650/,
        bad
      );
  });
});
