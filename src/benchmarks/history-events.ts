/**
 * History events a workflow type wrote, from visibility (every run, continue-as-new and closed ones included): the
 * Temporal server's work grows with them, so events per synced message is what a change to the conversation
 * workflow's shape moves.
 */
import type { Client } from '@temporalio/client';

export interface HistoryEvents {
  runs: number;
  events: number;
}

export async function historyEventsOf(client: Client, workflowType: string): Promise<HistoryEvents> {
  const out: HistoryEvents = { runs: 0, events: 0 };
  for await (const w of client.workflow.list({ query: `WorkflowType = "${workflowType}"` })) {
    out.runs++;
    out.events += w.historyLength;
  }
  return out;
}
