/**
 * How an Action's calls went against its budget, from a series of the emulator's cumulative call counters sampled
 * about once a second: the benchmarks' measure of whether a stage kept its budgets full.
 */

import { classifyZimCode } from '../zim-client/codes';
import { TEST_APP_ID, TEST_SECRET } from '../testing/migration-rig';
import { ZIM_ACTION_NAMES } from '../zim-client/actions';
import { startZimEmulator, type CountersSnapshot, type EmulatorOptions } from '../zim-emulator';

/** Cumulative calls per Action at each sample, and of them those answered "too frequent". */
export type CallSeries = { at: number; calls: Partial<Record<string, number>>; tooFrequent: Record<string, number> }[];

/** One sample of the emulator's counters. */
export function callSample(counters: Pick<CountersSnapshot, 'calls' | 'refusalsByAction'>): CallSeries[number] {
  const tooFrequent: Record<string, number> = {};
  for (const [action, codes] of Object.entries(counters.refusalsByAction))
    for (const [code, n] of Object.entries(codes ?? {}))
      if (classifyZimCode(Number(code)) === 'rate-limited') tooFrequent[action] = (tooFrequent[action] ?? 0) + n;
  return { at: Date.now(), calls: { ...counters.calls }, tooFrequent };
}

export interface BudgetUse {
  /** The Action's first and last second with calls, in seconds from the start of the series (or window). */
  from: number;
  to: number;
  /** Seconds from the Action's first call to its last (within the window asked for). */
  seconds: number;
  perSecond: number;
  /** The same without the first and last second, which the Action's calls fill only in part. */
  steadyPerSecond: number;
  /** Seconds below 90% of the budget. */
  secondsBelow: number;
  /** The last stretch below 90% (the tail a stage spends on a few long sequences), and its calls. */
  tailSeconds: number;
  tailCalls: number;
  /** Calls answered "too frequent" over those seconds: each holds the Action back and widens its headroom. */
  tooFrequent: number;
}

/**
 * Over the seconds from `action`'s first call to its last, optionally only those sampled within [from, to] (a
 * stage's run: an Action also read elsewhere, e.g. QueryPeerMsg to reconcile imports, is then measured while that
 * stage had work for it, not diluted by the idle time between).
 */
export function budgetUse(
  series: CallSeries,
  action: string,
  budget: number,
  window?: { from: number; to: number }
): BudgetUse | undefined {
  const seconds = series
    .slice(1)
    .map((s, i) => ({
      at: s.at,
      n: (s.calls[action] ?? 0) - (series[i]!.calls[action] ?? 0),
      refused: (s.tooFrequent[action] ?? 0) - (series[i]!.tooFrequent[action] ?? 0),
    }))
    .filter((s) => !window || (s.at > window.from && s.at <= window.to + 1_000));
  const perSecond = seconds.map((s) => s.n);
  const first = perSecond.findIndex((n) => n > 0);
  const last = perSecond.findLastIndex((n) => n > 0);
  if (first < 0) return undefined;
  const active = perSecond.slice(first, last + 1);
  const calls = active.reduce((a, n) => a + n, 0);
  const lastAtBudget = active.findLastIndex((n) => n >= 0.9 * budget);
  return {
    from: first,
    to: last + 1,
    seconds: active.length,
    perSecond: calls / active.length,
    steadyPerSecond:
      active.length > 2 ? active.slice(1, -1).reduce((a, n) => a + n, 0) / (active.length - 2) : calls / active.length,
    secondsBelow: active.filter((n) => n < 0.9 * budget).length,
    tailSeconds: active.length - 1 - lastAtBudget,
    tailCalls: active.slice(lastAtBudget + 1).reduce((a, n) => a + n, 0),
    tooFrequent: seconds.slice(first, last + 1).reduce((a, s) => a + s.refused, 0),
  };
}

/**
 * When `action` was answered "too frequent" (seconds from the series' start, once per refusal) and its calls/s in
 * each `everyS` seconds: how the refusals, and the headroom they add, shaped its pace.
 */
export function paceAndRefusals(series: CallSeries, action: string, everyS = 30) {
  const refusedAt: number[] = [];
  const pace: number[] = [];
  for (let i = 1; i < series.length; i++) {
    const delta = (field: 'calls' | 'tooFrequent') =>
      (series[i]![field][action] ?? 0) - (series[i - 1]![field][action] ?? 0);
    for (let r = delta('tooFrequent'); r > 0; r--) refusedAt.push(i);
    const window = Math.floor((i - 1) / everyS);
    pace[window] = (pace[window] ?? 0) + delta('calls') / everyS;
  }
  return { refusedAt, pace };
}

/** One line per Action: its rate and share of the budget, and where it ran below. */
export function renderBudgetUse(action: string, use: BudgetUse, budget: number): string {
  const rate = (perSecond: number) => `${perSecond.toFixed(1)} calls/s = ${((perSecond / budget) * 100).toFixed(0)}%`;
  return (
    `${action}: ${rate(use.perSecond)} of the budget over its ${use.seconds} s (${use.from}–${use.to} s), ` +
    `${rate(use.steadyPerSecond)} without its first and last second; below 90% in ${use.secondsBelow} of them, ` +
    `of which the last ${use.tailSeconds} s at the end (${use.tailCalls.toLocaleString('en-US')} calls); ` +
    `${use.tooFrequent} answered "too frequent"`
  );
}

/**
 * A ZIM emulator enforcing `rate` calls/s on every Action app-wide (no per-group limits), as ZIM's budgets would;
 * `limits` overrides the Pro plan's (e.g. the retention and member cap that `plan` was given).
 */
export function startEmulatorAtRate(rate: number, limits: EmulatorOptions['limits'] = {}) {
  return startZimEmulator({
    appId: TEST_APP_ID,
    serverSecret: TEST_SECRET,
    limits,
    rateLimits: {
      enabled: true,
      perSecond: Object.fromEntries(ZIM_ACTION_NAMES.map((a) => [a, rate])),
      perGroupPerSecond: {},
      codes: {},
    },
  });
}
