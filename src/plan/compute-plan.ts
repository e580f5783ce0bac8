/**
 * The plan: what will be imported, how many ZIM calls each Action takes, what ZIM will refuse, and the
 * ETA at the configured rates. Stages whose dependencies are met run at the same time, and each Action
 * has its own budget, so the ETA is the critical path of the stage graph, not the sum of the stages.
 * Within a stage the Actions run side by side: the stage takes as long as its slowest Action. A per-group
 * Action (1/s per group, groups in parallel) takes as long as its busiest group needs.
 */
import type { RuleCount } from '../import-format/rejects';
import { RULES, type RuleId } from '../import-format/rules';
import type { StagingCounts } from '../staging/store';
import { STAGE_ACTIONS, STAGE_DEPENDENCIES, STAGES, type Stage } from '../shared/stages';
import { PER_GROUP_ACTIONS, type ZimAction } from './actions';
import type { Workload } from './workload';

/** Warnings about a file's form that lose no record. */
const ABOUT_FILES_ONLY: ReadonlySet<RuleId> = new Set(['file.bom', 'file.crlf', 'file.empty', 'file.unknown']);

export interface ActionPlan {
  action: ZimAction;
  stage: Stage;
  calls: number;
  /** Calls per second (per group for per-group Actions). */
  rate: number;
  perGroup: boolean;
  /** Calls of the busiest group (per-group Actions only). */
  maxCallsPerGroup?: number;
  seconds: number;
}

export interface StagePlan {
  stage: Stage;
  after: readonly Stage[];
  seconds: number;
  /** Earliest start and end, in seconds from the start of the migration. */
  start: number;
  end: number;
  critical: boolean;
}

export interface NotImported {
  rule: string;
  severity: 'error' | 'warning';
  records: number;
  why: string;
}

export interface Plan {
  counts: StagingCounts;
  actions: ActionPlan[];
  stages: StagePlan[];
  criticalPath: Stage[];
  etaSeconds: number;
  /** Records left out, by rule: what ZIM would refuse (warnings) and errors excluded by --exclude-errors. */
  notImported: NotImported[];
}

export function computePlan(
  counts: StagingCounts,
  workload: Workload,
  rates: Readonly<Record<ZimAction, number>>,
  rules: readonly RuleCount[]
): Plan {
  const actions: ActionPlan[] = STAGES.flatMap((stage) =>
    STAGE_ACTIONS[stage].map((action) => {
      const perGroup = PER_GROUP_ACTIONS.has(action);
      const rate = rates[action];
      const calls = workload.calls[action];
      const busiest = workload.maxCallsPerGroup[action] ?? 0;
      const plan: ActionPlan = {
        action,
        stage,
        calls,
        rate,
        perGroup,
        seconds: (perGroup ? busiest : calls) / rate,
      };
      if (perGroup) plan.maxCallsPerGroup = busiest;
      return plan;
    })
  );

  const byName = new Map<Stage, StagePlan>();
  for (const stage of STAGES) {
    const own = actions.filter((a) => a.stage === stage);
    const perGroupChain = own.filter((a) => a.perGroup).reduce((s, a) => s + a.seconds, 0);
    const seconds = Math.max(perGroupChain, ...own.filter((a) => !a.perGroup).map((a) => a.seconds));
    const after = STAGE_DEPENDENCIES[stage];
    // STAGES lists every stage after its dependencies, so their ends are known here.
    const start = Math.max(0, ...after.map((d) => byName.get(d)!.end));
    byName.set(stage, {
      stage,
      after,
      seconds,
      start,
      end: start + seconds,
      critical: false,
    });
  }

  // Walk back from the stage that ends last through the dependency that ends last.
  const stages = [...byName.values()];
  const criticalPath: Stage[] = [];
  let cursor: StagePlan | undefined = stages.reduce((a, b) => (b.end > a.end ? b : a));
  while (cursor) {
    cursor.critical = true;
    criticalPath.unshift(cursor.stage);
    const deps: StagePlan[] = cursor.after.map((d) => byName.get(d)!);
    cursor = deps.length ? deps.reduce((a, b) => (b.end > a.end ? b : a)) : undefined;
  }

  return {
    counts,
    actions,
    stages,
    criticalPath,
    etaSeconds: Math.max(...stages.map((s) => s.end)),
    notImported: rules
      .filter((r) => !ABOUT_FILES_ONLY.has(r.rule))
      .map((r) => ({ rule: r.rule, severity: r.severity, records: r.count, why: RULES[r.rule].summary })),
  };
}

/** "2d 3h 04m", "5m 07s", "12s". */
export function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${h}h ${pad(m)}m`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}
