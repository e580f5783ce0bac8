import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';

/**
 * Whether a workflow id is running or closed: a stage that finds a child "already started" (started by an earlier
 * run of the same migration) asks this to decide between waiting for it and counting its work done.
 */
export async function describeWorkflow(input: {
  workflowId: string;
}): Promise<'running' | 'completed' | 'closed-unsuccessfully' | 'not-found'> {
  try {
    const { status } = await Context.current().client.workflow.getHandle(input.workflowId).describe();
    if (status.name === 'RUNNING' || status.name === 'PAUSED') return 'running';
    return status.name === 'COMPLETED' || status.name === 'CONTINUED_AS_NEW' ? 'completed' : 'closed-unsuccessfully';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'not-found';
    throw err;
  }
}
