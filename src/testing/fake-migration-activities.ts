/**
 * In-memory stand-ins for the migration's activities: every page and step is recorded with its time, optionally
 * after a delay or a reservation in a call schedule. For orchestration tests and for benchmarks that measure the
 * workflows and Temporal without ZIM; the end-to-end tests use the real activities and the emulator.
 */
import type { MigrationActivities } from '../../activities/contract';
import type { LedgerCounts, PageStage, StageWork } from '../staging/migration-store';
import { DEFERRED_STEP, waitForOpenGate } from '../../activities/call-gate';
import { describeWorkflow } from '../../activities/describe-workflow';
import { STAGE_ACTION, type Stage } from '../shared/stages';

export interface FakeCall {
  stage: Stage;
  key: string;
  at: number;
}

export interface FakeMigrationOptions {
  owners: number;
  stepsPerOwner: number;
  groups: number;
  /** The first `count` owners have `steps` steps each instead (a few heavy owners, as real data has). */
  heavyOwners?: { count: number; steps: number };
  /** Steps of each group's setup (default 2) and history (default 3). */
  groupSetupSteps?: number;
  groupHistorySteps?: number;
  /** Pages of the page stages, overriding small defaults (one call each). */
  pages?: Partial<Record<PageStage, number>>;
  /** Owners or groups per listing, at most the stage's limit (default 3, so tests page through many listings). */
  listPageSize?: number;
  /** Simulated latency of each call. */
  delayMs?: number;
  /** Runs before each recorded call, e.g. a call-schedule reservation. */
  beforeCall?: (stage: Stage) => Promise<void>;
}

export function fakeMigrationActivities(opts: FakeMigrationOptions) {
  const calls: FakeCall[] = [];
  const appliedBudgets: { action: string; rate: number }[] = [];
  let gateOpen = true;
  // Like the real imports: wait at the gate (briefly, so tests stay fast), defer if it stays closed.
  const gate = () => waitForOpenGate(async () => gateOpen, new AbortController().signal, 1_000);
  // The ledger the fakes keep: records done per stage.
  const ledger: LedgerCounts = {};
  const record = async (stage: Stage, key: string, records = 1) => {
    await opts.beforeCall?.(stage);
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    calls.push({ stage, key, at: Date.now() });
    (ledger[stage] ??= { pending: 0, done: 0, failed: 0, skipped: 0 }).done += records;
  };
  const ids = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);
  const owners = ids('u', opts.owners);
  const groups = ids('g', opts.groups);
  const heavy = opts.heavyOwners;
  const stepsOf = new Map(owners.map((o, i) => [o, heavy && i < heavy.count ? heavy.steps : opts.stepsPerOwner]));
  const ownerSteps = [...stepsOf.values()].reduce((a, b) => a + b, 0);
  const setupSteps = opts.groupSetupSteps ?? 2;
  const historySteps = opts.groupHistorySteps ?? 3;
  const oneAction = (stage: Stage, calls: number) => [{ action: STAGE_ACTION[stage], calls, perGroup: false }];
  const stepStage = (stage: Stage, steps: number): StageWork => ({
    planned: steps,
    pages: 0,
    calls: steps,
    actions: oneAction(stage, steps),
  });
  const pageStage = (stage: PageStage, planned: number, pages: number): StageWork => {
    const n = opts.pages?.[stage] ?? pages;
    return { planned: Math.max(planned, n * 10), pages: n, calls: n, actions: oneAction(stage, n) };
  };
  const plan: Record<Stage, StageWork> = {
    accounts: pageStage('accounts', 50, 5),
    profiles: pageStage('profiles', 30, 3),
    friends: pageStage('friends', 20, 2),
    blocks: pageStage('blocks', 10, 2),
    'peer-messages': stepStage('peer-messages', ownerSteps),
    groups: stepStage('groups', opts.groups * setupSteps),
    'group-messages': stepStage('group-messages', opts.groups * historySteps),
    'read-state': pageStage('read-state', 0, 0),
    verify: pageStage('verify', 1, 2),
  };
  // Ids are sorted: find the first after `after` by binary search, so listing 10,000 owners stays cheap.
  const list = (all: string[], after: string | null, limit: number) => {
    let lo = 0;
    for (let hi = all.length; after !== null && lo < hi;) {
      const mid = (lo + hi) >> 1;
      if (all[mid]! > after) hi = mid;
      else lo = mid + 1;
    }
    const rest = all.slice(lo, lo + limit);
    const last = rest[rest.length - 1];
    return { items: rest.map((id) => ({ id, planned: 1 })), next: rest.length === limit && last ? last : null };
  };
  const step = (hasMore: boolean) => ({ done: 1, failed: 0, skipped: 0, calls: 1, hasMore });
  const activities: MigrationActivities = {
    loadPlan: async () => plan,
    runPage: async ({ stage, page }) => {
      await record(stage, `page-${page}`, 10);
      return { done: 10, failed: 0, skipped: 0, calls: 1 };
    },
    listFanoutItems: async ({ stage, after, limit }) =>
      list(stage === 'peer-messages' ? owners : groups, after, Math.min(limit, opts.listPageSize ?? 3)),
    // Two conversations per owner (when there are two steps or more), so owners run lanes side by side.
    ownerConversations: async ({ owner }) => {
      const steps = stepsOf.get(owner) ?? 0;
      const half = Math.ceil(steps / 2);
      return [
        { peer: 'peer-a', start: 0, count: half },
        { peer: 'peer-b', start: half, count: steps - half },
      ].filter((r) => r.count > 0);
    },
    importPeerMessage: async ({ owner, seq }) => {
      if (!(await gate())) return { ...DEFERRED_STEP };
      await record('peer-messages', `${owner}#${seq}`);
      return { ...step(seq + 1 < (stepsOf.get(owner) ?? 0)), landed: { conversation: 'peer', msgSeq: seq + 1 } };
    },
    setupGroupStep: async ({ groupId, step: s }) => {
      await record('groups', `${groupId}#${s}`);
      return step(s + 1 < setupSteps);
    },
    importGroupMessage: async ({ groupId, seq }) => {
      if (!(await gate())) return { ...DEFERRED_STEP };
      await record('group-messages', `${groupId}#${seq}`);
      return step(seq + 1 < historySteps);
    },
    loadRound: async () => {
      throw new Error('the fake migration activities run no catch-up rounds');
    },
    runRoundPage: async () => {
      throw new Error('the fake migration activities run no catch-up rounds');
    },
    finishRound: async () => undefined,
    setCallGate: async ({ open }) => void (gateOpen = open),
    applyBudget: async (change) => void appliedBudgets.push(change),
    readProgress: async ({ windowMs }) => {
      const end = Math.floor(Date.now() / 1000) * 1000;
      const sent: Record<string, number> = {};
      for (const c of calls)
        if (c.at >= end - windowMs && c.at < end) sent[STAGE_ACTION[c.stage]] = (sent[STAGE_ACTION[c.stage]] ?? 0) + 1;
      return { at: Date.now(), ledger: structuredClone(ledger), sent, windowMs };
    },
    // The real one: it only asks Temporal, through the worker's client.
    describeWorkflow,
  };
  return { activities, calls, owners, groups, plan, appliedBudgets };
}
