import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { startStuckRunRepair } from '../../src/worker/stuck-run-repair';
import { waitFor } from '../helpers/wait-for';

/** A client whose listing answers each pass as `outcomes` says, in turn (the last one repeats): 'ok' lists nothing. */
function listingClient(outcomes: ('ok' | 'down' | 'old server')[]) {
  let pass = 0;
  const client = {
    workflow: {
      list: () => ({
        // eslint-disable-next-line require-yield
        async *[Symbol.asyncIterator]() {
          const outcome = outcomes[Math.min(pass++, outcomes.length - 1)];
          if (outcome === 'down') throw new Error('14 UNAVAILABLE: connection refused');
          if (outcome === 'old server') throw new Error('invalid query: unknown field TemporalReportedProblems');
        },
      }),
    },
  };
  return { client: client as unknown as Client, passes: () => pass };
}

describe('stuck-run repair', () => {
  it('says once that the listing fails, and once that it works again, not at every pass', async () => {
    const { client, passes } = listingClient(['down', 'down', 'down', 'ok', 'ok', 'down', 'down']);
    const warnings: string[] = [];
    const repair = startStuckRunRepair({ client, taskQueue: 'q', everyMs: 1, warn: (m) => warnings.push(m) });
    try {
      await waitFor('eight passes', async () => passes() >= 8, 5_000);
    } finally {
      await repair.stop();
    }
    assert.deepEqual(
      warnings.map((w) => (/could not list/.test(w) ? 'failing' : /works again/.test(w) ? 'works again' : w)),
      ['failing', 'works again', 'failing']
    );
    assert.match(warnings[0]!, /UNAVAILABLE/);
  });

  it('stops with one warning naming the manual reset on a server without the search attribute', async () => {
    const { client, passes } = listingClient(['old server']);
    const warnings: string[] = [];
    const repair = startStuckRunRepair({ client, taskQueue: 'q', everyMs: 1, warn: (m) => warnings.push(m) });
    await waitFor('a pass', async () => passes() >= 1, 5_000);
    await new Promise((r) => setTimeout(r, 50));
    await repair.stop();
    assert.equal(passes(), 1, 'no listing after the server said it cannot');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /temporal workflow reset --type FirstWorkflowTask/);
  });
});
