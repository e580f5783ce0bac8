import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { acceptingGate } from '../../src/coexist/sync-control';

/** A client whose sync workflow describe answers `answer()` after a tick, counting the calls. */
function fakeClient(answer: () => 'running' | 'draining' | 'missing') {
  const calls = { describe: 0 };
  const client = {
    // Each read runs under a deadline (coexist-temporal-outage.test.ts shows what it is for).
    connection: { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() },
    workflow: {
      getHandle: () => ({
        describe: async () => {
          calls.describe++;
          await new Promise((r) => setTimeout(r, 5));
          const a = answer();
          if (a === 'missing') throw new WorkflowNotFoundError('none', 'coexist-sync:x', undefined);
          return { status: { name: 'RUNNING' }, typedSearchAttributes: { get: () => a } };
        },
      }),
    },
  } as unknown as Client;
  return { client, calls };
}

describe('the receiver’s accepting gate', () => {
  it('asks Temporal once for a burst of deliveries, including those that arrive while it asks', async () => {
    const { client, calls } = fakeClient(() => 'running');
    const gate = acceptingGate(client, 'x', 60_000);
    assert.deepEqual(await Promise.all(Array.from({ length: 20 }, () => gate())), Array(20).fill(true));
    assert.equal(await gate(), true);
    assert.equal(calls.describe, 1);
  });

  it('reads the state again once the cache is older than cacheMs, and refuses a draining sync', async () => {
    let state: 'running' | 'draining' | 'missing' = 'running';
    const { client, calls } = fakeClient(() => state);
    const gate = acceptingGate(client, 'x', 30);
    assert.equal(await gate(), true);
    state = 'draining';
    assert.equal(await gate(), true, 'cached');
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(await gate(), false);
    state = 'missing';
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(await gate(), true, 'a sync never started takes events');
    assert.equal(calls.describe, 3);
  });
});
