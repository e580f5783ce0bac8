/**
 * What a migration's duration is judged against:
 *   lower bound: the plan's critical path of the stage graph (compute-plan) at the budgets, counting the calls the
 *                migration made rather than the plan's estimates of them (verify's reads, for one, are estimated),
 *                and no stage shorter than its longest chain of calls × the step time (src/shared/chains.ts);
 *   naive:       the same calls made one at a time, stage after stage, each taking max(1/budget, round trip).
 */
import type { MigrationAction } from '../shared/stages';
import { computePlan } from '../plan/compute-plan';
import { defaultBudget } from '../zim-client/limits';
import type { Plan, StagingCounts, Workload } from '../shared/migration-plan';

/**
 * The planned workload with each Action's calls replaced by the calls made (per-group maxima kept as planned). Of
 * an Action two stages call, the earlier stage's share is taken as planned (the groups stage's member check reads
 * each group once) and verify gets the rest.
 */
function workloadMade(plan: Plan, made: Readonly<Partial<Record<string, number>>>): Workload {
  const calls = Object.fromEntries(plan.actions.map((a) => [a.action, made[a.action] ?? 0])) as Record<
    MigrationAction,
    number
  >;
  const sharedCalls: Workload['sharedCalls'] = {};
  for (const a of plan.actions)
    if (a.stage !== 'verify' && plan.actions.some((b) => b.action === a.action && b.stage !== a.stage))
      sharedCalls[a.stage] = { ...sharedCalls[a.stage], [a.action]: a.calls };
  const maxCallsPerGroup = Object.fromEntries(
    plan.actions.filter((a) => a.perGroup).map((a) => [a.action, calls[a.action] > 0 ? (a.maxCallsPerGroup ?? 0) : 0])
  );
  const chainSteps = Object.fromEntries(
    plan.actions.filter((a) => a.chainSteps !== undefined).map((a) => [a.action, a.chainSteps])
  );
  return { calls, sharedCalls, maxCallsPerGroup, chainSteps };
}

/** compute-plan's critical path at `rates`, over the calls made, each chain step taking `stepMs` (0: no chains). */
export function lowerBound(
  plan: Plan,
  counts: StagingCounts,
  rates: Readonly<Record<MigrationAction, number>>,
  made: Readonly<Partial<Record<string, number>>>,
  stepMs: number
): Plan {
  return computePlan(counts, workloadMade(plan, made), rates, [], stepMs);
}

/**
 * Seconds to make `made` calls one at a time: each waits max(1/budget, round trip). Per-group Actions are taken at
 * their per-group budget (a call a second), as one group's calls would be.
 */
export function naiveSequentialSeconds(
  made: Readonly<Partial<Record<string, number>>>,
  ratePerAction: number,
  roundTripMs: number
): number {
  return Object.entries(made).reduce((sum, [action, calls]) => {
    const budget = defaultBudget(action);
    const rate = budget.perKey ? budget.rate : ratePerAction;
    return sum + (calls ?? 0) * Math.max(1 / rate, roundTripMs / 1000);
  }, 0);
}
