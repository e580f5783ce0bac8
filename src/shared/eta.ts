/**
 * Rates and the ETA shown by the `progress` query. Free of Node APIs (workflow code uses it).
 * The ETA is the critical path of the stage graph: a stage finishes when its slowest dependency has finished and
 * its own remaining calls have gone out at its observed rate (or, before it has one, at its budget).
 */
import { STAGE_DEPENDENCIES, type Stage } from './stages';

export interface RateSample {
  at: number;
  calls: number;
}

/** Calls per second over the samples (oldest first), or undefined when they span less than two seconds. */
export function callsPerSecond(samples: readonly RateSample[]): number | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || last.at - first.at < 2_000) return undefined;
  return ((last.calls - first.calls) * 1000) / (last.at - first.at);
}

/** Keeps the samples of the last `windowMs` (at least two), so the rate follows the present, not the average. */
export function addSample(samples: RateSample[], sample: RateSample, windowMs = 30_000): void {
  samples.push(sample);
  while (samples.length > 2 && sample.at - samples[0]!.at > windowMs) samples.shift();
}

export interface StageEtaInput {
  done: boolean;
  plannedCalls: number;
  calls: number;
  callsPerSecond?: number;
  budget: number;
}

export function criticalPathSeconds(
  selected: readonly Stage[],
  stages: Readonly<Partial<Record<Stage, StageEtaInput>>>
): number {
  const finish = new Map<Stage, number>();
  const finishOf = (stage: Stage): number => {
    const known = finish.get(stage);
    if (known !== undefined) return known;
    const s = stages[stage];
    const start = Math.max(0, ...STAGE_DEPENDENCIES[stage].filter((d) => selected.includes(d)).map(finishOf));
    const rate = s?.callsPerSecond && s.callsPerSecond > 0 ? s.callsPerSecond : (s?.budget ?? 20);
    const own = !s || s.done ? 0 : Math.max(0, s.plannedCalls - s.calls) / rate;
    finish.set(stage, start + own);
    return start + own;
  };
  return Math.max(0, ...selected.map(finishOf));
}
