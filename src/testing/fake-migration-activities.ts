/**
 * In-memory stand-ins for the migration's activities: every page and step is recorded with its time, optionally
 * after a delay or a reservation in a call schedule. For orchestration tests and for benchmarks that measure the
 * workflows and Temporal without ZIM; the end-to-end tests use the real activities and the emulator.
 */
import type { MigrationActivities, StagePlan } from '../../activities/contract';
import { DEFERRED_STEP, waitForOpenGate } from '../../activities/call-gate';
import { describeWorkflow } from '../../activities/describe-workflow';
import type { Stage } from '../shared/stages';

export interface FakeCall {
  stage: Stage;
  key: string;
  at: number;
}

export interface FakeMigrationOptions {
  owners: number;
  stepsPerOwner: number;
  groups: number;
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
  const record = async (stage: Stage, key: string) => {
    await opts.beforeCall?.(stage);
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    calls.push({ stage, key, at: Date.now() });
  };
  const ids = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);
  const owners = ids('u', opts.owners);
  const groups = ids('g', opts.groups);
  const plan: Record<Stage, StagePlan> = {
    accounts: { planned: 50, pages: 5, calls: 5 },
    profiles: { planned: 30, pages: 3, calls: 3 },
    friends: { planned: 20, pages: 2, calls: 2 },
    blocks: { planned: 10, pages: 2, calls: 2 },
    'peer-messages': { planned: opts.owners * opts.stepsPerOwner, pages: 0, calls: opts.owners * opts.stepsPerOwner },
    groups: { planned: opts.groups * 2, pages: 0, calls: opts.groups * 2 },
    'group-messages': { planned: opts.groups * 3, pages: 0, calls: opts.groups * 3 },
    verify: { planned: 1, pages: 2, calls: 2 },
  };
  const list = (all: string[], after: string | null, limit: number) => {
    const rest = all.filter((id) => after === null || id > after).slice(0, limit);
    const last = rest[rest.length - 1];
    return { items: rest.map((id) => ({ id, planned: 1 })), next: rest.length === limit && last ? last : null };
  };
  const step = (hasMore: boolean) => ({ done: 1, failed: 0, skipped: 0, calls: 1, hasMore });
  const activities: MigrationActivities = {
    loadPlan: async () => plan,
    runPage: async ({ stage, page }) => {
      await record(stage, `page-${page}`);
      return { done: 10, failed: 0, skipped: 0, calls: 1 };
    },
    listFanoutItems: async ({ stage, after, limit }) =>
      list(stage === 'peer-messages' ? owners : groups, after, Math.min(limit, 3)),
    // Two conversations per owner (when there are two steps or more), so owners run lanes side by side.
    ownerConversations: async () => {
      const half = Math.ceil(opts.stepsPerOwner / 2);
      return [
        { peer: 'peer-a', start: 0, count: half },
        { peer: 'peer-b', start: half, count: opts.stepsPerOwner - half },
      ].filter((r) => r.count > 0);
    },
    importPeerMessage: async ({ owner, seq }) => {
      if (!(await gate())) return { ...DEFERRED_STEP };
      await record('peer-messages', `${owner}#${seq}`);
      return { ...step(seq + 1 < opts.stepsPerOwner), landed: { conversation: 'peer', msgSeq: seq + 1 } };
    },
    setupGroupStep: async ({ groupId, step: s }) => {
      await record('groups', `${groupId}#${s}`);
      return step(s + 1 < 2);
    },
    importGroupMessage: async ({ groupId, seq }) => {
      if (!(await gate())) return { ...DEFERRED_STEP };
      await record('group-messages', `${groupId}#${seq}`);
      return step(seq + 1 < 3);
    },
    setCallGate: async ({ open }) => void (gateOpen = open),
    applyBudget: async (change) => void appliedBudgets.push(change),
    // The real one: it only asks Temporal, through the worker's client.
    describeWorkflow,
  };
  return { activities, calls, owners, groups, plan, appliedBudgets };
}
