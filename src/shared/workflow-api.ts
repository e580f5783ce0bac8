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

export type StageStatus = 'pending' | 'running' | 'done' | 'cancelled';

export interface StageProgress extends Counts {
  stage: Stage;
  status: StageStatus;
  startedAt?: number;
  finishedAt?: number;
  /** The ZIM Action this stage spends, its calls per second over the last reports, and its budget. */
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
  stages: StageProgress[];
  /** Seconds until every stage is done: the critical path of the stage graph at current rates or budgets. */
  etaSeconds?: number;
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
