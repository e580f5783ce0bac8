/**
 * The message imports phase by phase: while both import stages had work, and while only one had. If one worker's
 * CPU sets the pace, the imports together keep one rate whatever the phase and the worker's cores stay flat; if the
 * budgets do, each Action runs near its budget in every phase; a chain shows as one Action far below both at the end.
 */
import type { StageProgress } from '../shared/workflow-api';
import type { CallSeries } from './budget-use';

/** The worker process's CPU seconds so far, sampled along the call series. */
export type CpuSeries = { at: number; cpuSeconds: number }[];

export interface ImportPhase {
  /** Seconds from `t0`. */
  from: number;
  to: number;
  stages: string[];
  /** Calls/s of each import Action over the phase. */
  perSecond: Record<string, number>;
  /** Every ZIM call of the phase (imports and the rest). */
  allPerSecond: number;
  workerCores: number;
  /** Worker CPU per ZIM call of the phase. */
  workerMsPerCall: number;
}

const IMPORTS: Record<string, string> = { 'peer-messages': 'ImportPeerMsg', 'group-messages': 'ImportGroupMsg' };

/** The last sample at or before `at` (the first one if none is). */
function at<T extends { at: number }>(series: readonly T[], time: number): T {
  let found = series[0]!;
  for (const s of series) if (s.at <= time) found = s;
  return found;
}

const total = (calls: Partial<Record<string, number>>) =>
  Object.values(calls).reduce<number>((a, n) => a + (n ?? 0), 0);

/** Phases at least `minSeconds` long between the import stages' starts and ends. */
export function importPhases(
  series: CallSeries,
  cpu: CpuSeries,
  stages: readonly StageProgress[],
  t0: number,
  minSeconds = 10
): ImportPhase[] {
  const runs = stages.filter(
    (s) => s.stage in IMPORTS && s.startedAt !== undefined && s.finishedAt !== undefined && s.calls > 0
  );
  if (series.length < 2 || cpu.length < 2 || runs.length === 0) return [];
  const edges = [...new Set(runs.flatMap((s) => [s.startedAt!, s.finishedAt!]))].sort((a, b) => a - b);
  const phases: ImportPhase[] = [];
  for (const [i, from] of edges.slice(0, -1).entries()) {
    const to = edges[i + 1]!;
    const seconds = (to - from) / 1000;
    const active = runs.filter((s) => s.startedAt! < to && s.finishedAt! > from);
    if (seconds < minSeconds || active.length === 0) continue;
    const a = at(series, from);
    const b = at(series, to);
    const ca = at(cpu, from);
    const cb = at(cpu, to);
    const sampled = (b.at - a.at) / 1000 || seconds;
    const calls = total(b.calls) - total(a.calls);
    const cpuSeconds = cb.cpuSeconds - ca.cpuSeconds;
    phases.push({
      from: (from - t0) / 1000,
      to: (to - t0) / 1000,
      stages: active.map((s) => s.stage),
      perSecond: Object.fromEntries(
        active.map((s) => {
          const action = IMPORTS[s.stage]!;
          return [action, ((b.calls[action] ?? 0) - (a.calls[action] ?? 0)) / sampled];
        })
      ),
      allPerSecond: calls / sampled,
      workerCores: cpuSeconds / ((cb.at - ca.at) / 1000 || seconds),
      workerMsPerCall: calls > 0 ? (cpuSeconds * 1000) / calls : Number.NaN,
    });
  }
  return phases;
}

export function renderImportPhase(p: ImportPhase, budget: number): string {
  const imports = Object.entries(p.perSecond)
    .map(([action, n]) => `${action} ${n.toFixed(1)}/s = ${((n / budget) * 100).toFixed(0)}%`)
    .join(', ');
  return (
    `${p.from.toFixed(0)}–${p.to.toFixed(0)} s (${p.stages.join(' + ')}): ${imports}; all ZIM calls ` +
    `${p.allPerSecond.toFixed(1)}/s; worker ${p.workerCores.toFixed(2)} cores, ${p.workerMsPerCall.toFixed(1)} ms of ` +
    `CPU per call`
  );
}
