/**
 * History events a workflow type wrote, from visibility (every run, continue-as-new and closed ones included): the
 * Temporal server's work grows with them, so events per synced message is what a change to the conversation
 * workflow's shape moves. Signals and workflow tasks are counted from each run's history: how many events a
 * workflow task holds depends on load (under a backlog one task takes several signals), the signals do not.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export interface HistoryEvents {
  runs: number;
  events: number;
  signals: number;
  workflowTasks: number;
}

const { EventType } = temporal.api.enums.v1;

export async function historyEventsOf(client: Client, workflowType: string): Promise<HistoryEvents> {
  const out: HistoryEvents = { runs: 0, events: 0, signals: 0, workflowTasks: 0 };
  for await (const w of client.workflow.list({ query: `WorkflowType = "${workflowType}"` })) {
    out.runs++;
    out.events += w.historyLength;
    const history = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    for (const e of history.events ?? []) {
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) out.signals++;
      else if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) out.workflowTasks++;
    }
  }
  return out;
}
