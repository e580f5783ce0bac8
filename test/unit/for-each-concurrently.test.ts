import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachConcurrently } from '../../src/shared/for-each-concurrently';

describe('forEachConcurrently', () => {
  it('visits every item once, never more than the limit at a time', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachConcurrently([...Array(20).keys()], 3, async (n) => {
      most = Math.max(most, ++running);
      await sleep(n % 4);
      seen.push(n);
      running--;
    });
    assert.equal(most, 3);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [...Array(20).keys()]
    );
  });

  it('rejects with the first failure', async () => {
    await assert.rejects(
      forEachConcurrently([1, 2, 3], 2, async (n) => {
        if (n === 2) throw new Error('two failed');
      }),
      /two failed/
    );
  });

  it('does nothing for no items', async () => {
    await forEachConcurrently([], 4, async () => assert.fail('called'));
  });
});
