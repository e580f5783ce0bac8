/**
 * How long stages take at the budgets: one computation for `zim-migrate plan`'s ETA and for the live ETA of the
 * `progress` query. Free of Node APIs (workflow code uses it).
 *
 * Within a stage the Actions run side by side, so a stage takes as long as its slowest Action; a per-group Action
 * (1/s per group, groups in parallel) takes as long as its busiest group needs, and a stage's per-group Actions run
 * one after the other for that group. Stages whose dependencies are met run at once, so the migration takes the
 * critical path of the stage graph, not the sum of its stages.
 *
 * Chains: some calls must go one after the other (an owner's conversation copy, a group's history: each step waits
 * for its slot, calls ZIM, writes the ledger and returns to its workflow before the next starts), so an Action
 * also takes at least its longest chain × the time of one step, however high its budget. With raised budgets that
 * term, not the budget, bounds the stage.
 */
import { STAGE_DEPENDENCIES, type Stage } from './stages';

/** One Action's share of a stage, as the plan counted it from the staged data. */
export interface StageActionWork {
  action: string;
  calls: number;
  /** The budget is per group (1/s each), not per app. */
  perGroup: boolean;
  /** Per-group Actions: the calls of the busiest group. */
  maxCallsPerGroup?: number;
  /** The longest run of this Action's calls that must go one after the other (absent: none longer than one). */
  chainSteps?: number;
}

/** Seconds the longest chain of an Action's calls needs at `stepSeconds` a step (0 when it has no chain). */
export function chainSeconds(work: StageActionWork, stepSeconds: number): number {
  return (work.chainSteps ?? 0) * stepSeconds;
}

/** Seconds the budget alone allows one Action at `rate` calls/s (per group for per-group Actions). */
export function budgetSeconds(work: StageActionWork, rate: number): number {
  return (work.perGroup ? (work.maxCallsPerGroup ?? 0) : work.calls) / rate;
}

/** Seconds one Action needs: its budget's time or its longest chain's, whichever is longer. */
export function actionSeconds(work: StageActionWork, rate: number, stepSeconds = 0): number {
  return Math.max(budgetSeconds(work, rate), chainSeconds(work, stepSeconds));
}

/** Seconds a whole stage needs at the given budgets, one chain step taking `stepSeconds`. */
export function stageSeconds(
  actions: readonly StageActionWork[],
  rateOf: (action: string) => number,
  stepSeconds = 0
): number {
  const perGroupChain = actions
    .filter((a) => a.perGroup)
    .reduce((sum, a) => sum + actionSeconds(a, rateOf(a.action), stepSeconds), 0);
  return Math.max(
    0,
    perGroupChain,
    ...actions.filter((a) => !a.perGroup).map((a) => actionSeconds(a, rateOf(a.action), stepSeconds))
  );
}

/**
 * The calls/s of `action` the plan expects while its stage runs: its calls over the stage's seconds. That is its
 * budget when the budget binds, less when a chain (or a slower Action of the stage) does; a measured rate is a
 * pace against this, so a stage that is slow only because the plan said it would be is not counted slow twice.
 */
export function plannedRate(actions: readonly StageActionWork[], action: string, seconds: number): number | undefined {
  const calls = actions.find((a) => a.action === action)?.calls ?? 0;
  return calls > 0 && seconds > 0 ? calls / seconds : undefined;
}

export interface StageRemaining {
  /** Seconds the rest of this stage needs; 0 when it is done. */
  seconds: number;
}

/** When the last selected stage ends, each stage starting once its selected dependencies have ended. */
export function criticalPathSeconds(
  selected: readonly Stage[],
  stages: Readonly<Partial<Record<Stage, StageRemaining>>>
): number {
  const finish = new Map<Stage, number>();
  const finishOf = (stage: Stage): number => {
    const known = finish.get(stage);
    if (known !== undefined) return known;
    const start = Math.max(0, ...STAGE_DEPENDENCIES[stage].filter((d) => selected.includes(d)).map(finishOf));
    const end = start + (stages[stage]?.seconds ?? 0);
    finish.set(stage, end);
    return end;
  };
  return Math.max(0, ...selected.map(finishOf));
}

export interface LiveStage {
  finished: boolean;
  /** Records settled (done, failed or skipped) out of those planned. */
  settled: number;
  planned: number;
  /** The whole stage at the current budgets (stageSeconds). */
  seconds: number;
  /**
   * Measured calls/s of the stage's main Action over its planned rate (plannedRate), once it ran unpaused for a
   * whole rate window: below 1 when calls go out slower than planned (a slow ZIM, a loaded worker, steps slower
   * than the step time planned). Absent: as planned.
   */
  pace?: number;
}

/** The live ETA: every stage's remaining share of its planned time, at its measured pace, along the critical path. */
export function liveEtaSeconds(
  selected: readonly Stage[],
  stages: Readonly<Partial<Record<Stage, LiveStage>>>
): number {
  const remaining: Partial<Record<Stage, StageRemaining>> = {};
  for (const stage of selected) {
    const s = stages[stage];
    if (!s || s.finished) continue;
    const left = s.planned > 0 ? Math.max(0, 1 - s.settled / s.planned) : 0;
    const pace = Math.min(1, Math.max(0.05, s.pace ?? 1));
    remaining[stage] = { seconds: (s.seconds * left) / pace };
  }
  return criticalPathSeconds(selected, remaining);
}
