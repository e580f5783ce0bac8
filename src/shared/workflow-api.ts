/**
 * Signals, queries and ids of the migration workflows: the contract between workflows, our CLI and the plain
 * `temporal` CLI (`temporal workflow signal --workflow-id zim-migrate/m1 --name pause --input '{"reason":"peak"}'`).
 * Imported by workflow code: no Node APIs.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Stage } from './stages';

export interface ControlArgs {
  reason?: string;
}

/** Stop starting ZIM calls; calls in flight finish. Carried across continue-as-new and down to every child. */
export const pauseSignal = defineSignal<[ControlArgs?]>('pause');
export const resumeSignal = defineSignal<[ControlArgs?]>('resume');
/** Graceful cancel: start nothing new, let calls in flight finish, end with status `cancelled`. */
export const cancelSignal = defineSignal<[ControlArgs?]>('cancel');

export interface Counts {
  /** Records this stage must land (from the plan). */
  planned: number;
  done: number;
  failed: number;
  skipped: number;
  /** ZIM calls made (including reconciliation reads). */
  calls: number;
}

/** `paused`: a running stage of a paused migration (it starts no new ZIM call). */
export type StageStatus = 'pending' | 'running' | 'paused' | 'done' | 'cancelled';

/**
 * A stage in the `progress` query. Done, failed and skipped are the ledger's counts (read every 5 s while work
 * runs), so they are what really landed; `calls` is what the stage's children reported.
 */
export interface StageProgress extends Counts {
  stage: Stage;
  status: StageStatus;
  startedAt?: number;
  finishedAt?: number;
  /** Time this stage spent paused, and its running time without it (what durations and rates are taken over). */
  pausedMs?: number;
  activeSeconds?: number;
  /**
   * The ZIM Action shown for this stage (of its app-wide budgets, the one closest to full), its budget, and the
   * calls per second really sent for it over the last `rateWindowSeconds` (from the call schedule).
   */
  action?: string;
  callsPerSecond?: number;
  budget?: number;
}

export type MigrationStatus = 'running' | 'paused' | 'cancelling' | 'cancelled' | 'completed';

export interface MigrationProgress {
  migrationId: string;
  status: MigrationStatus;
  pausedReason?: string;
  startedAt: number;
  /** Since the start, and how much of it the migration was paused. */
  elapsedSeconds?: number;
  pausedSeconds?: number;
  /** When the ledger and call schedule were last read (epoch ms), and the window rates are measured over. */
  asOf?: number;
  rateWindowSeconds?: number;
  stages: StageProgress[];
  /**
   * Seconds until every stage is done, as of `asOf` (running migrations only): each stage's remaining share of its
   * planned time at the budgets, slowed by its measured pace, along the critical path of the stage graph
   * (src/shared/eta.ts). A workflow's query cannot read the clock, so readers subtract the time since: `etaNow`.
   */
  etaSeconds?: number;
}

/** The ETA at `now`: the migration's ETA less the time since it read the ledger. */
export function etaNow(p: Pick<MigrationProgress, 'etaSeconds' | 'asOf'>, now: number): number | undefined {
  if (p.etaSeconds === undefined) return undefined;
  return Math.max(0, p.etaSeconds - (p.asOf !== undefined ? Math.max(0, now - p.asOf) / 1000 : 0));
}

export const progressQuery = defineQuery<MigrationProgress>('progress');

export interface BudgetChange {
  action: string;
  /** Calls per second. */
  rate: number;
}
/** Changes an Action's budget while the migration runs (applied by a worker to the shared call schedule). */
export const setBudgetUpdate = defineUpdate<Record<string, number>, [BudgetChange]>('setBudget');

/** Internal: a stage child reports its counters (absolute values) to the parent migration. */
export interface StageReport {
  stage: Stage;
  counts: Counts;
  finished?: 'done' | 'cancelled';
  /**
   * The reporting stage workflow's id. A round started again after a cancel has the same workflow id as the
   * cancelled run, whose stage children (other ids) may still report to it: the round takes only its own children's.
   * Absent from stages started before it was sent.
   */
  from?: string;
}
export const stageReportSignal = defineSignal<[StageReport]>('stageReport');

/** What a child has done so far (counted over all its runs). */
export type ChildTotals = Omit<Counts, 'planned'>;

/**
 * Internal: an owner/group child reports to its stage. Reports carry the child's totals, not deltas, and a
 * sequence number: the stage keeps each child's newest report, so a report that replay rebuilt differently from
 * the one sent (local activity results may land in a different workflow task on replay) is corrected by the next
 * one instead of counting a step twice or never.
 */
export interface ChildReport {
  childId: string;
  seq: number;
  totals: ChildTotals;
  finished?: boolean;
}
export const childReportSignal = defineSignal<[ChildReport]>('childReport');

/** Workflow ids: readable in the Temporal UI, stable so a restart never duplicates a child. */
export const workflowIds = {
  migration: (migrationId: string) => `zim-migrate/${migrationId}`,
  stage: (migrationId: string, stage: Stage) => `zim-migrate/${migrationId}/stage/${stage}`,
  peerHistory: (migrationId: string, owner: string) => `zim-migrate/${migrationId}/peer/${owner}`,
  groupSetup: (migrationId: string, groupId: string) => `zim-migrate/${migrationId}/group/${groupId}`,
  groupHistory: (migrationId: string, groupId: string) => `zim-migrate/${migrationId}/group-history/${groupId}`,
};

export function emptyCounts(planned = 0): Counts {
  return { planned, done: 0, failed: 0, skipped: 0, calls: 0 };
}

export function addCounts(into: ChildTotals, delta: Partial<ChildTotals>): void {
  into.done += delta.done ?? 0;
  into.failed += delta.failed ?? 0;
  into.skipped += delta.skipped ?? 0;
  into.calls += delta.calls ?? 0;
}
