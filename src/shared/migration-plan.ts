/**
 * The migration plan's shape: what staged data counts (records, calls per Action) and what `zim-migrate plan`
 * computes from it (calls, time and the critical path per stage). src/plan computes it, the staging data stores
 * it, the workflows' progress and the CLI read it; types and pure helpers only, so each of them can import it
 * without importing the others (workflow code too).
 */
import type { StageActionWork } from './eta';
import type { MigrationAction, Stage } from './stages';

export interface StagingCounts {
  users: number;
  deactivatedUsers: number;
  usersWithExtra: number;
  friends: number;
  blocks: number;
  /** Users in a friendship on either side: verify reads each one's friend list (AddFriends is mutual in ZIM). */
  friendListUsers?: number;
  /** Users who block someone: verify reads each one's blocklist. */
  blockListUsers?: number;
  groups: number;
  groupMembers: number;
  groupAdmins: number;
  groupMemberNicknames: number;
  /** Distinct one-to-one messages staged for import (after merge, without expired ones). */
  peerMessages: number;
  /** ImportPeerMsg calls: one per owning side that keeps the message. */
  peerCopies: number;
  owners: number;
  /** Distinct (owner, peer) conversations: QueryPeerMsg verification walks each. */
  conversations: number;
  groupMessages: number;
  /** Groups muted after their history (MuteGroup); absent in files staged before. */
  mutedGroups?: number;
  /** Read positions to import (ClearConversationUnread each); absent in files staged before. */
  readStates?: number;
  expiredPeerMessages: number;
  expiredGroupMessages: number;
}

/** What the migration will ask of ZIM, counted from the staged data (before any rate is applied). */
export interface Workload {
  /** Calls per Action over the whole migration. */
  calls: Record<MigrationAction, number>;
  /**
   * For an Action two stages call (STAGE_ACTIONS): the calls of every stage but the last that calls it; the last
   * (verify) makes the rest of `calls`.
   */
  sharedCalls: Partial<Record<Stage, Partial<Record<MigrationAction, number>>>>;
  /** For per-group Actions (1/s per group, groups in parallel): the most calls any one group needs. */
  maxCallsPerGroup: Partial<Record<MigrationAction, number>>;
  /**
   * For Actions whose calls run in chains (one after the other): the longest chain's calls. ImportPeerMsg: the
   * owner whose copy takes most steps (an owner's conversations share LANES_PER_OWNER lanes, each conversation in
   * order); ImportGroupMsg: the largest group history.
   */
  chainSteps: Partial<Record<MigrationAction, number>>;
}

export interface ActionPlan extends StageActionWork {
  action: MigrationAction;
  stage: Stage;
  /** Calls per second (per group for per-group Actions). */
  rate: number;
  seconds: number;
  /** Seconds its longest chain needs (chainSteps × the step time), when it has chains. */
  chainSeconds?: number;
}

/** When a stage runs in the plan, at the budgets. */
export interface StageTiming {
  stage: Stage;
  after: readonly Stage[];
  /** ZIM calls of the stage's Actions (stageCalls). */
  calls: number;
  seconds: number;
  /** The stage's seconds were set by a chain (its longest chain × the step time), not by a budget. */
  chainBound?: boolean;
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
  stages: StageTiming[];
  criticalPath: Stage[];
  etaSeconds: number;
  /** The step time the chains were timed at (ms; absent in files staged before chains were counted: none timed). */
  stepMs?: number;
  /** Records left out, by rule: what ZIM would refuse (warnings) and errors excluded by --exclude-errors. */
  notImported: NotImported[];
}

/** The calls `stage` makes of `action`: its share of an Action two stages call, else all of them. */
export function workloadCalls(w: Workload, stage: Stage, action: MigrationAction): number {
  const share = w.sharedCalls[stage]?.[action];
  if (share !== undefined) return share;
  const elsewhere = Object.values(w.sharedCalls).reduce((sum, byAction) => sum + (byAction?.[action] ?? 0), 0);
  return w.calls[action] - elsewhere;
}

/** A stage's Actions with their planned calls: what both the plan's ETA and the live ETA time. */
export function stageActions(
  actions: readonly (StageActionWork & { stage: Stage })[],
  stage: Stage
): StageActionWork[] {
  return actions
    .filter((a) => a.stage === stage)
    .map(({ action, calls, perGroup, maxCallsPerGroup, chainSteps }) => ({
      action,
      calls,
      perGroup,
      ...(maxCallsPerGroup !== undefined && { maxCallsPerGroup }),
      ...(chainSteps !== undefined && { chainSteps }),
    }));
}

/** The ZIM calls a stage makes: the one count that `plan` prints and the workflows' progress plans with. */
export function stageCalls(actions: readonly { stage: Stage; calls: number }[], stage: Stage): number {
  return actions.filter((a) => a.stage === stage).reduce((sum, a) => sum + a.calls, 0);
}

/** Records each stage lands, in the units its ledger counts: the progress and `report` both plan with these. */
export function plannedRecords(counts: StagingCounts): Record<Stage, number> {
  return {
    accounts: counts.users,
    profiles: counts.usersWithExtra,
    friends: counts.friends,
    blocks: counts.blocks,
    'peer-messages': counts.peerCopies,
    // A membership (the owner's included), an admin role, a nickname.
    groups: counts.groupMembers + counts.groupAdmins + counts.groupMemberNicknames,
    // A muted group's MuteGroup counts as one more record.
    'group-messages': counts.groupMessages + (counts.mutedGroups ?? 0),
    'read-state': counts.readStates ?? 0,
    // Each conversation copy, group history and member list, user profile, and friend list or blocklist to hold some.
    verify:
      counts.conversations +
      2 * counts.groups +
      (counts.mutedGroups ?? 0) +
      counts.users +
      (counts.friendListUsers ?? 0) +
      (counts.blockListUsers ?? 0),
  };
}
