/**
 * One workflow per coexistence sync (id `coexist-sync:<name>`, started by `zim-migrate coexist start`): the
 * sync's durable state, which the Temporal UI finds by its search attributes (ZimCoexistSync, ZimCoexistStatus)
 * and receivers read (by describe, no worker needed) to refuse events once it is draining. It holds no message
 * counters: those live in the conversation workflows (`coexist status` sums their `stats`). While running it runs
 * the reconciliation audit every `auditEveryMinutes` as a child (workflows/coexist-audit.ts) over the window since
 * the last one, and keeps the audits' totals. Its history stays small (a start, an audit every quarter of an hour,
 * a drain, a stop), and it continues as new when Temporal suggests it.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  makeContinueAsNewFunc,
  defineSignal,
  executeChild,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { HandoffSetting } from '../src/coexist/handoff-setting';
import { ZIM_COEXIST_STATUS, ZIM_COEXIST_SYNC } from '../src/shared/search-attributes';
import type { coexistAuditWorkflow } from './coexist-audit';

export type CoexistSyncState = 'running' | 'draining' | 'stopped';

export interface StopSummary {
  /** Conversation workflows closed by the stop. */
  closed: number;
  /** Events they had handled before closing (both directions, echoes included). */
  handled: number;
  /** What the audit `coexist stop` ran after the drain found and repaired (absent: not run). */
  audit?: AuditFigures;
  /** Every audit of the sync, scheduled and final (set by the sync workflow; absent in older syncs). */
  audits?: AuditTotals;
}

/** What audits found: messages missing on one side, how many were handed back to be mirrored, sequence gaps. */
export interface AuditFigures {
  found: number;
  repaired: number;
  gaps: number;
  /** Conversations the store did not know, found by listing users' conversations (absent before discovery). */
  discovered?: number;
  /** User listings cut short (ZIM lists a user's newest 1,000): conversations there may not have been audited. */
  listingsCut?: number;
}
export interface AuditTotals extends AuditFigures {
  runs: number;
  /** Audits that failed (after their activities' retries); the next one covers their window again. */
  failed: number;
}

export interface CoexistSyncInput {
  name: string;
  startedAt: number;
  /**
   * The historical-import handoff (`coexist start --handoff`): also in the memo, where receivers read it by
   * describe and pass it to the conversations they start.
   */
  handoff?: HandoffSetting;
  /** Minutes between reconciliation audits while running (default 15; 0: never). */
  auditEveryMinutes?: number;
  /** Only messages older than this are audited, so mirrors still in flight are not reported (ms, default 2 min). */
  auditGraceMs?: number;
  /**
   * Messages before this are never audited (ms; default the sync's start). Set it past the historical import's
   * export when capture started before it: imported messages carry no mirror tag (docs/coexistence.md §9).
   */
  auditFrom?: number;
  // Carried across continue-as-new:
  state?: CoexistSyncState;
  drainingSince?: number;
  /** The end of the last audit's window: the next one starts there (less the grace, to overlap). */
  auditedUntil?: number;
  audits?: AuditTotals;
}

export interface CoexistSyncView {
  name: string;
  state: CoexistSyncState;
  startedAt: number;
  drainingSince?: number;
  auditEveryMinutes?: number;
  auditGraceMs?: number;
  auditFrom?: number;
  auditedUntil?: number;
  audits?: AuditTotals;
}

export const DEFAULT_AUDIT_EVERY_MINUTES = 15;
export const DEFAULT_AUDIT_GRACE_MS = 2 * 60_000;
/** Running syncs started before the audit schedule replay without it (patch marker). */
const AUDIT_SCHEDULE = 'coexist-audit-schedule';
const emptyAudits = (): AuditTotals => ({ runs: 0, failed: 0, found: 0, repaired: 0, gaps: 0 });

/** Adds an audit's discovery figures to the totals (only once an audit reported them: older totals stay as they were). */
function addDiscovery<T extends AuditFigures>(totals: T, r: AuditFigures): T {
  if (r.discovered !== undefined) totals.discovered = (totals.discovered ?? 0) + r.discovered;
  if (r.listingsCut !== undefined) totals.listingsCut = (totals.listingsCut ?? 0) + r.listingsCut;
  return totals;
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
  let auditedUntil = input.auditedUntil;
  const audits = input.audits ?? emptyAudits();
  const everyMs = (input.auditEveryMinutes ?? DEFAULT_AUDIT_EVERY_MINUTES) * 60_000;
  const graceMs = input.auditGraceMs ?? DEFAULT_AUDIT_GRACE_MS;
  const earliest = input.auditFrom ?? input.startedAt;
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
    auditEveryMinutes: everyMs / 60_000,
    auditGraceMs: graceMs,
    auditFrom: earliest,
    ...(auditedUntil !== undefined ? { auditedUntil } : {}),
    audits,
  }));

  /** One audit as a child, over the window since the last (overlapping by the grace: findings are idempotent). */
  async function audit(): Promise<void> {
    const until = Date.now() - graceMs;
    const from = Math.max(earliest, auditedUntil !== undefined ? auditedUntil - graceMs : earliest);
    if (until <= from) return;
    try {
      const r = await executeChild<typeof coexistAuditWorkflow>('coexistAuditWorkflow', {
        workflowId: `coexist-audit:${input.name}:${until}`,
        args: [{ from, until, syncName: input.name, ...(input.handoff ? { handoff: input.handoff.staging } : {}) }],
        // Found in the UI with the sync and its conversations (ZimCoexistSync="<name>").
        typedSearchAttributes: [{ key: ZIM_COEXIST_SYNC, value: input.name }],
      });
      audits.found += r.found;
      audits.repaired += r.repaired;
      audits.gaps += r.gaps;
      addDiscovery(audits, r);
      auditedUntil = until;
    } catch (err) {
      // The sync goes on; the next audit covers this window again (auditedUntil did not move).
      audits.failed++;
      log.warn('coexistence audit failed', { error: err instanceof Error ? err.message : String(err) });
    }
    audits.runs++;
  }

  const scheduled = patched(AUDIT_SCHEDULE);
  while (summary === undefined && !workflowInfo().continueAsNewSuggested) {
    if (scheduled && everyMs > 0 && state === 'running') {
      const woke = await condition(
        () => summary !== undefined || state !== 'running' || workflowInfo().continueAsNewSuggested,
        everyMs
      );
      if (!woke) await audit();
    } else await condition(() => summary !== undefined || workflowInfo().continueAsNewSuggested);
  }
  if (summary === undefined) {
    await condition(allHandlersFinished);
    const next = {
      ...input,
      state,
      ...(drainingSince ? { drainingSince } : {}),
      ...(auditedUntil !== undefined ? { auditedUntil } : {}),
      audits,
    };
    // The memo is the receivers' copy of the handoff: the next run keeps it.
    if (input.handoff)
      return makeContinueAsNewFunc<typeof coexistSyncWorkflow>({ memo: { handoff: input.handoff } })(next);
    return continueAsNew<typeof coexistSyncWorkflow>(next);
  }
  setState('stopped');
  // The stop's audit counts too (also in a sync started before the schedule: only its result changes).
  const final = summary.audit;
  return {
    ...summary,
    audits: final
      ? addDiscovery(
          {
            ...audits,
            runs: audits.runs + 1,
            found: audits.found + final.found,
            repaired: audits.repaired + final.repaired,
            gaps: audits.gaps + final.gaps,
          },
          final
        )
      : audits,
  };
}
