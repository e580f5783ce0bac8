/**
 * The plan: what will be imported, how many ZIM calls each Action takes, what ZIM will refuse, and the
 * ETA at the configured rates: the critical path of the stage graph, timed by src/shared/eta.ts (the same
 * computation the live ETA of a running migration uses). A stage takes at least its longest chain of calls
 * (src/shared/chains.ts) × `stepMs`, whatever the budgets.
 */
import type { RuleCount } from '../import-format/rejects';
import { RULES, type RuleId } from '../import-format/rules';
import { actionSeconds, chainSeconds, stageSeconds, type StageActionWork } from '../shared/eta';
import {
  stageActions,
  stageCalls,
  type ActionPlan,
  type Plan,
  type StageTiming,
  type StagingCounts,
  type Workload,
  workloadCalls,
} from '../shared/migration-plan';
import { STAGE_ACTIONS, STAGE_DEPENDENCIES, STAGES, type Stage } from '../shared/stages';
import type { MigrationAction } from '../shared/stages';
import { PER_GROUP_ACTIONS } from './actions';

/** Warnings about a file's form that lose no record. */
const ABOUT_FILES_ONLY: ReadonlySet<RuleId> = new Set(['file.bom', 'file.crlf', 'file.empty', 'file.unknown']);

export function computePlan(
  counts: StagingCounts,
  workload: Workload,
  rates: Readonly<Record<MigrationAction, number>>,
  rules: readonly RuleCount[],
  /** The time of one chain step (ms): 0 times no chains. */
  stepMs: number
): Plan {
  const step = stepMs / 1000;
  const actions: ActionPlan[] = STAGES.flatMap((stage) =>
    STAGE_ACTIONS[stage].map((action) => {
      const perGroup = PER_GROUP_ACTIONS.has(action);
      const rate = rates[action];
      const calls = workloadCalls(workload, stage, action);
      const busiest = workload.maxCallsPerGroup[action] ?? 0;
      // Verify reads a conversation page by page, but its pages are not chained to an import: only importers chain.
      const chain = calls > 0 ? (workload.chainSteps[action] ?? 0) : 0;
      const work: StageActionWork = {
        action,
        calls,
        perGroup,
        ...(perGroup && { maxCallsPerGroup: busiest }),
        ...(chain > 0 && { chainSteps: chain }),
      };
      return {
        ...work,
        action,
        stage,
        rate,
        seconds: actionSeconds(work, rate, step),
        ...(chain > 0 && { chainSeconds: chainSeconds(work, step) }),
      };
    })
  );

  const byName = new Map<Stage, StageTiming>();
  for (const stage of STAGES) {
    const rateOf = (action: string) => rates[action as MigrationAction];
    const work = stageActions(actions, stage);
    const seconds = stageSeconds(work, rateOf, step);
    const after = STAGE_DEPENDENCIES[stage];
    // STAGES lists every stage after its dependencies, so their ends are known here.
    const start = Math.max(0, ...after.map((d) => byName.get(d)!.end));
    byName.set(stage, {
      stage,
      after,
      calls: stageCalls(actions, stage),
      seconds,
      ...(seconds > stageSeconds(work, rateOf) && { chainBound: true }),
      start,
      end: start + seconds,
      critical: false,
    });
  }

  // Walk back from the stage that ends last through the dependency that ends last.
  const stages = [...byName.values()];
  const criticalPath: Stage[] = [];
  let cursor: StageTiming | undefined = stages.reduce((a, b) => (b.end > a.end ? b : a));
  while (cursor) {
    cursor.critical = true;
    criticalPath.unshift(cursor.stage);
    const deps: StageTiming[] = cursor.after.map((d) => byName.get(d)!);
    cursor = deps.length ? deps.reduce((a, b) => (b.end > a.end ? b : a)) : undefined;
  }

  return {
    counts,
    actions,
    stages,
    criticalPath,
    etaSeconds: Math.max(...stages.map((s) => s.end)),
    stepMs,
    notImported: rules
      .filter((r) => !ABOUT_FILES_ONLY.has(r.rule))
      .map((r) => ({ rule: r.rule, severity: r.severity, records: r.count, why: RULES[r.rule].summary })),
  };
}
