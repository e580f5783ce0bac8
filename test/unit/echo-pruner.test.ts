import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ECHO_PRUNE_EVERY, ECHO_RECORDS_KEPT_MS, echoPruner } from '../../src/coexist/coexist-store';

describe('echoPruner', () => {
  it("prunes every ECHO_PRUNE_EVERY-th echo write, what is older than a day's records", async () => {
    const calls: number[] = [];
    const written = echoPruner(async (before) => {
      calls.push(before);
      return 0;
    });
    for (let i = 0; i < ECHO_PRUNE_EVERY * 2 + 1; i++) await written();
    assert.equal(calls.length, 2);
    const want = Date.now() - ECHO_RECORDS_KEPT_MS;
    for (const before of calls) assert.ok(Math.abs(before - want) < 5_000, `prunes before ${before}`);
    assert.equal(ECHO_RECORDS_KEPT_MS, 86_400_000);
  });
});
