/**
 * Repairs message-import runs that a Temporal SDK fault left unable to replay.
 *
 * On a starved machine an owner's workflow task can time out while its local activities (the imports) still run.
 * When the server then hands the run's next task to the same worker, SDK 1.24's core logs "Trying to send a new WFT
 * for a run which already has one!" and may record the imports' markers against a history they were not computed
 * from (seen in CI: a pause signal that arrived during the timed-out task is, in the history, before markers the
 * unpaused code wrote). Every later task of that run fails with a nondeterminism error, so the run, and the
 * migration waiting for it, would wait forever. The server flags such a run (the TemporalReportedProblems search
 * attribute). Every step of an entity sequence is idempotent against the ledger (a step done is found done, no call
 * made twice), so replaying the run from its start is exact: it is reset to its first workflow task, signals
 * re-applied, as an operator would do by hand, and the parent gets the new run's result.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const EventType = temporal.api.enums.v1.EventType;
const TASK_FINISHED = new Set([
  EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
]);

/** The workflows whose every step is idempotent, so a reset to their start is safe: the entity sequences only. */
export const REPAIRABLE_WORKFLOW_TYPES = ['entitySequenceWorkflow'];
export const REPAIR_EVERY_MS = 15_000;

/**
 * The server setting that flags a run after this many failed workflow tasks in a row. With it, stuck-run-repair.test.ts
 * prints about 11 s to the repair; with the server's default, 53–55 s (two one-off runs of that test with this
 * setting removed; no switch kept). Our dev servers set it; production servers should too (docs/operations.md).
 */
export const FLAG_STUCK_RUNS_SOONER = { 'system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute': 2 };

export interface StuckRunRepairOptions {
  client: Client;
  /** Only runs on this task queue: each worker fleet repairs its own. */
  taskQueue: string;
  workflowTypes?: string[];
  everyMs?: number;
  warn: (message: string) => void;
}

export interface StuckRunRepair {
  /** Runs reset so far by this process. */
  readonly repaired: number;
  stop(): Promise<void>;
}

const quote = (s: string) => `'${s.replace(/'/g, "\\'")}'`;

export function stuckRunsQuery(taskQueue: string, workflowTypes: string[]): string {
  return [
    `ExecutionStatus = 'Running'`,
    `TaskQueue = ${quote(taskQueue)}`,
    `WorkflowType IN (${workflowTypes.map(quote).join(', ')})`,
    `TemporalReportedProblems IN ('cause=WorkflowTaskFailedCauseNonDeterministicError')`,
  ].join(' AND ');
}

/** Resets one run to its first finished workflow task; false when it has none (nothing to reset to). */
export async function resetToFirstTask(client: Client, workflowId: string, runId: string): Promise<boolean> {
  const { events } = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const first = events?.find((e) => e.eventType != null && TASK_FINISHED.has(e.eventType));
  if (!first?.eventId) return false;
  await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId, runId },
    workflowTaskFinishEventId: first.eventId,
    reason: 'zim-migrate: the run could not replay its history (a Temporal SDK fault); replayed from its start',
    // Two workers finding the same run send the same request: the server resets it once.
    requestId: `zim-migrate-repair-${runId}`,
  });
  return true;
}

export function startStuckRunRepair(options: StuckRunRepairOptions): StuckRunRepair {
  const query = stuckRunsQuery(options.taskQueue, options.workflowTypes ?? REPAIRABLE_WORKFLOW_TYPES);
  const stopped = new AbortController();
  let repaired = 0;
  // A listing that fails (Temporal unreachable) is said once, and again only after one succeeded: not every pass.
  let listingFailed = false;

  async function pass(): Promise<'again' | 'unsupported'> {
    try {
      for await (const wf of options.client.workflow.list({ query })) {
        if (stopped.signal.aborted) break;
        try {
          if (!(await resetToFirstTask(options.client, wf.workflowId, wf.runId))) continue;
          repaired++;
          options.warn(
            `${wf.workflowId}: its workflow tasks failed on a nondeterminism error (a Temporal SDK fault under load); ` +
              `reset to its first task, its imports replay against the ledger`
          );
        } catch (err) {
          options.warn(`${wf.workflowId}: could not reset a run stuck on a nondeterminism error: ${String(err)}`);
        }
      }
      if (listingFailed) options.warn('listing runs stuck on a nondeterminism error works again');
      listingFailed = false;
    } catch (err) {
      // An older server has no TemporalReportedProblems: say once that runs stuck so need an operator.
      if (/TemporalReportedProblems/.test(String(err))) return 'unsupported';
      if (!listingFailed)
        options.warn(
          `could not list runs stuck on a nondeterminism error (said once until it works again): ${String(err)}`
        );
      listingFailed = true;
    }
    return 'again';
  }

  const loop = (async () => {
    const every = options.everyMs ?? REPAIR_EVERY_MS;
    while (!stopped.signal.aborted) {
      await sleep(every, undefined, { signal: stopped.signal }).catch(() => undefined);
      if (stopped.signal.aborted) return;
      if ((await pass()) === 'unsupported') {
        options.warn(
          'this Temporal server does not flag runs stuck on a nondeterminism error (TemporalReportedProblems): ' +
            'such a run needs `temporal workflow reset --type FirstWorkflowTask` by hand (docs/troubleshooting.md, "A stage is stuck")'
        );
        return;
      }
    }
  })();

  return {
    get repaired() {
      return repaired;
    },
    async stop() {
      stopped.abort();
      await loop;
    },
  };
}
