/**
 * What `zim-migrate dev` derives from its flags, kept apart so that it can be checked without servers: the
 * emulator's limits from the ZIM plan settings that validate and plan apply, the call rates of the emulator, the
 * budgets and the plan from `--rate`, and the closing verify line.
 */
import { classifyZimCode, type ZimAction } from '../zim-client';
import type { CountersSnapshot } from '../zim-emulator/counters';
import type { ZimLimits } from '../import-format/zim-limits';
import { defaultBudget, DEFAULT_RATE } from '../zim-client/limits';
import { MIGRATION_ACTIONS, type MigrationAction } from '../shared/stages';
import type { StageProgress } from '../shared/workflow-api';
import type { PlanLimits } from '../zim-client/limits';
import { DAY_MS } from '../zim-client/limits';
import type { ZimPlanSettings } from './import-options';

/**
 * The emulator's plan and limits for these settings, so that it accepts and refuses what plan said it would. The
 * emulator's clock is the real one: with `--as-of` in the past, its retention is longer by the days since then, so
 * that history inside the retention "as of" that moment is accepted (and read back by verify) as plan promised.
 */
export function emulatorPlanFor(
  settings: ZimPlanSettings,
  now = Date.now()
): { plan: ZimLimits['plan']; limits: Partial<PlanLimits> } {
  const l = settings.limits;
  const daysSinceAsOf = settings.asOfGiven ? Math.max(0, Math.ceil((now - settings.asOfMs) / DAY_MS)) : 0;
  return {
    plan: l.plan,
    limits: {
      retentionDays: l.retentionDays + daysSinceAsOf,
      maxGroupMembers: l.maxGroupMembers,
      maxFriendsPerUser: l.maxFriendsPerUser,
      maxBlocksPerUser: l.maxBlocksPerUser,
      maxMessageBytes: l.messageBytes,
      maxExtraBytes: l.userExtraBytes,
    },
  };
}

/** Actions whose ZIM limit (and our budget) applies per group: `--rate` leaves them at ZIM's 1/s per group. */
const perGroup = (a: MigrationAction) => defaultBudget(a).perKey === true;

export interface RehearsalRates {
  /** The emulator's per-Action (app-wide) limits; its per-group limits stay ZIM's. */
  emulatorPerSecond: Partial<Record<MigrationAction, number>>;
  /** The migration's budgets: only app-wide ones (a per-group budget above the emulator's limit is refused calls). */
  budgets: Partial<Record<MigrationAction, number>>;
  /** `plan --rate` flags, so that its ETA is at these budgets. */
  planArgs: string[];
}

/** `dev --rate N`: N calls per second per Action, app-wide, in the emulator, the budgets and the plan alike. */
export function rehearsalRates(rate: number): RehearsalRates {
  const appWide = MIGRATION_ACTIONS.filter((a) => !perGroup(a));
  return {
    emulatorPerSecond: Object.fromEntries(MIGRATION_ACTIONS.map((a) => [a, rate])),
    budgets: rate === DEFAULT_RATE ? {} : Object.fromEntries(appWide.map((a) => [a, rate])),
    planArgs: appWide.flatMap((a) => ['--rate', `${a}=${rate}`]),
  };
}

const n = (x: number) => x.toLocaleString('en-US');

/** The rehearsal's last word on verify: how many checks, and whether ZIM (the emulator) matched the ledger. */
export function verifyLine(
  result: { status: string; stages: readonly StageProgress[] },
  reportCommand: string
): string {
  const verify = result.stages.find((s) => s.stage === 'verify');
  if (!verify || verify.status !== 'done')
    return `Verify: not run to its end (the migration is ${result.status}); ${reportCommand} shows what was checked`;
  const checks = verify.done + verify.failed;
  if (verify.failed === 0) return `Verify: ${n(checks)} checks, all matched`;
  return `Verify: ${n(verify.failed)} of ${n(checks)} checks differ: see ${reportCommand}`;
}

/**
 * What the emulator counted: calls, and how many it refused as too frequent (ZIM's rate-limit codes). A rehearsal
 * at the budgets should see none or a handful; more means the schedule does not keep to the emulator's windows.
 */
export function emulatorCallsLine(counters: Pick<CountersSnapshot, 'calls' | 'refusalsByAction'>): string {
  const calls = Object.values(counters.calls).reduce((a, b) => a + (b ?? 0), 0);
  const refused = Object.entries(counters.refusalsByAction).map(([action, byCode]) => ({
    action,
    n: Object.entries(byCode ?? {})
      .filter(([code]) => classifyZimCode(Number(code)) === 'rate-limited')
      .reduce((a, [, k]) => a + k, 0),
  }));
  const total = refused.reduce((a, r) => a + r.n, 0);
  const share = calls > 0 ? ((total / calls) * 100).toFixed(2) : '0.00';
  const worst = refused
    .filter((r) => r.n > 0)
    .sort((a, b) => b.n - a.n)
    .slice(0, 3)
    .map((r) => `${r.action} ${n(r.n)} of ${n(counters.calls[r.action as ZimAction] ?? 0)}`);
  return (
    `ZIM emulator: ${n(calls)} calls, ${n(total)} answered "too frequent" (${share}%)` +
    (worst.length ? `: ${worst.join(', ')}` : '')
  );
}
