import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/worker/workflow-bundle';

/**
 * Replays every run the visibility query lists through the current workflow code, failing on the first that does
 * not replay (a determinism check); returns how many replayed.
 */
export async function replayEveryRun(client: Client, query: string): Promise<number> {
  let replayed = 0;
  for await (const { workflowId, error } of Worker.runReplayHistories(
    { workflowBundle: await workflowBundle() },
    client.workflow.list({ query }).intoHistories()
  )) {
    assert.equal(error, undefined, `${workflowId} does not replay: ${String(error)}`);
    replayed++;
  }
  return replayed;
}
