/** Waiting for a benchmark's migration, bounded: a run that hangs reports what it has instead of hanging too. */
import { setMaxListeners } from 'node:events';
import type { Client, WorkflowHandle } from '@temporalio/client';

/**
 * The migration's result, or 'timed out' after `ms`. The result's long poll is aborted at the deadline, so no
 * retry of it outlives the server.
 */
export async function resultWithin(
  client: Client,
  handle: WorkflowHandle,
  ms: number
): Promise<'completed' | 'timed out'> {
  const deadline = AbortSignal.timeout(ms);
  setMaxListeners(0, deadline); // each long poll of the result adds a listener to it
  try {
    await client.withAbortSignal(deadline, () => handle.result());
    return 'completed';
  } catch (err) {
    if (deadline.aborted) return 'timed out';
    throw err;
  }
}
