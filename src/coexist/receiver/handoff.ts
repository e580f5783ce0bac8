/**
 * The durable hand-off: signal-with-start on the conversation's workflow. It needs only the Temporal server (not a
 * worker), and resolves once the server has recorded the signal, so the receiver may answer 200; it throws when
 * the server does not answer within the deadline, so the receiver answers 503 and the sender retries.
 */
import type { Client } from '@temporalio/client';
import type { HandoffSetting } from '../handoff-setting';
import type { ConversationSyncInput, conversationSyncWorkflow } from '../../../workflows/coexist';
import { SYNC_EVENT_SIGNAL } from '../../../workflows/coexist';
import { ZIM_COEXIST_SYNC } from '../../shared/search-attributes';
import { workflowIdFor, type SyncEvent } from '../sync-event';

export interface HandoffOptions {
  taskQueue: string;
  /** Longest wait for Temporal's answer (default 2.5 s: under ZEGO's per-attempt timeout, UNCONFIRMED at 3 s). */
  deadlineMs?: number;
  /** Workflow settings for conversations this starts (tests shorten the settle window). */
  workflowInput?: Pick<ConversationSyncInput, 'settleMs' | 'idleMs' | 'eventsPerRun' | 'mirrorAttempts' | 'batchMax'>;
  /** The sync (`coexist start --name`) the conversations belong to: their ZimCoexistSync search attribute. */
  syncName?: string;
  /**
   * The sync's historical-import handoff (sync-control.ts handoffReader), given to the conversations this starts;
   * a failed read fails the hand-off (503).
   */
  importHandoff?: () => Promise<HandoffSetting | undefined>;
}

export function temporalHandoff(client: Client, options: HandoffOptions) {
  const deadlineMs = options.deadlineMs ?? 2_500;
  return async (event: SyncEvent): Promise<void> => {
    const deadline = Date.now() + deadlineMs;
    const handoff = await options.importHandoff?.();
    await client.connection.withDeadline(deadline, () =>
      client.workflow.signalWithStart<typeof conversationSyncWorkflow, [SyncEvent]>('conversationSyncWorkflow', {
        workflowId: workflowIdFor(event.conv),
        taskQueue: options.taskQueue,
        args: [{ conv: event.conv, ...options.workflowInput, ...(handoff ? { handoff } : {}) }],
        signal: SYNC_EVENT_SIGNAL,
        signalArgs: [event],
        ...(options.syncName ? { typedSearchAttributes: [{ key: ZIM_COEXIST_SYNC, value: options.syncName }] } : {}),
      })
    );
  };
}
