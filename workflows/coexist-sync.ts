/**
 * One workflow per coexistence sync (id `coexist-sync:<name>`, started by `zim-migrate coexist start`): the
 * sync's durable state, which the Temporal UI finds by its search attributes (ZimCoexistSync, ZimCoexistStatus)
 * and receivers read (by describe, no worker needed) to refuse events once it is draining. It holds no counters:
 * those live in the conversation workflows (`coexist status` sums their `stats`). Its history stays small (a
 * start, a drain, a stop), and it continues as new should Temporal suggest it anyway.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  makeContinueAsNewFunc,
  defineSignal,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { HandoffSetting } from '../src/coexist/handoff-setting';
import { ZIM_COEXIST_STATUS } from '../src/shared/search-attributes';

export type CoexistSyncState = 'running' | 'draining' | 'stopped';

export interface StopSummary {
  /** Conversation workflows closed by the stop. */
  closed: number;
  /** Events they had handled before closing (both directions, echoes included). */
  handled: number;
}

export interface CoexistSyncInput {
  name: string;
  startedAt: number;
  /**
   * The historical-import handoff (`coexist start --handoff`): also in the memo, where receivers read it by
   * describe and pass it to the conversations they start.
   */
  handoff?: HandoffSetting;
  // Carried across continue-as-new:
  state?: CoexistSyncState;
  drainingSince?: number;
}

export interface CoexistSyncView {
  name: string;
  state: CoexistSyncState;
  startedAt: number;
  drainingSince?: number;
}

/** Stop taking new events (receivers answer 410 from now on). */
export const drainSignal = defineSignal('drain');
/** The drain is done: every conversation closed. Ends the workflow with the summary. */
export const stoppedSignal = defineSignal<[StopSummary]>('stopped');
export const syncViewQuery = defineQuery<CoexistSyncView>('view');

export async function coexistSyncWorkflow(input: CoexistSyncInput): Promise<StopSummary> {
  let state: CoexistSyncState = input.state ?? 'running';
  let drainingSince = input.drainingSince;
  let summary: StopSummary | undefined;
  const setState = (s: CoexistSyncState) => {
    state = s;
    upsertSearchAttributes({ [ZIM_COEXIST_STATUS.name]: [s] });
  };
  setHandler(drainSignal, () => {
    if (state !== 'running') return;
    drainingSince = Date.now();
    setState('draining');
  });
  setHandler(stoppedSignal, (s) => {
    summary = s;
  });
  setHandler(syncViewQuery, () => ({
    name: input.name,
    state,
    startedAt: input.startedAt,
    ...(drainingSince !== undefined ? { drainingSince } : {}),
  }));
  await condition(() => summary !== undefined || workflowInfo().continueAsNewSuggested);
  if (summary === undefined) {
    await condition(allHandlersFinished);
    const next = { ...input, state, ...(drainingSince ? { drainingSince } : {}) };
    // The memo is the receivers' copy of the handoff: the next run keeps it.
    if (input.handoff)
      return makeContinueAsNewFunc<typeof coexistSyncWorkflow>({ memo: { handoff: input.handoff } })(next);
    return continueAsNew<typeof coexistSyncWorkflow>(next);
  }
  setState('stopped');
  return summary;
}
