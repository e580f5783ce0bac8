/**
 * What the workflows ask of activities. Workflows import these types only (`proxyActivities<MigrationActivities>`).
 * Inputs and outputs carry ids, cursors and counts: never a message body, a profile field or a secret, so nothing
 * personal lands in Temporal history.
 */
import type {
  ConversationRange,
  FanoutItem,
  FanoutStage,
  LedgerCounts,
  PageStage,
  RoundWork,
  StageWork,
} from '../src/staging/migration-store';
import type { RoundOp, RoundState } from '../src/shared/rounds';
import type { Stage } from '../src/shared/stages';

/** Which migration and where its staging data is (a file path or a database URL: `openStaging`), not data. */
export interface MigrationRef {
  migrationId: string;
  stagingPath: string;
}

export interface Outcome {
  done: number;
  failed: number;
  skipped: number;
  calls: number;
}

/** The newest message we know landed in a conversation, for reconciliation after an ambiguous failure. */
export interface LandedMark {
  /** Peer user id (1:1) or group id. */
  conversation: string;
  msgSeq: number;
}

export interface StepResult extends Outcome {
  landed?: LandedMark;
  /** False once this was the child's last step. */
  hasMore: boolean;
  /** The migration's call gate stayed closed (paused or cancelled): nothing was sent; run the step again later. */
  deferred?: boolean;
}

/** What has really happened so far, read from the ledger and the call schedule (not from workflow reports). */
export interface ProgressSnapshot {
  /** When it was read (epoch ms): counts are the ledger's at that moment, rates the window before it. */
  at: number;
  ledger: LedgerCounts;
  /** ZIM calls sent per Action during the last `windowMs` (whole seconds, up to the last whole second). */
  sent: Record<string, number>;
  windowMs: number;
}

export interface MigrationActivities {
  /** Each stage's work (records, pages, the plan's calls per Action), read from staging. */
  loadPlan(input: MigrationRef): Promise<Record<Stage, StageWork>>;
  /** One page of a `pages` stage: one batch call to ZIM (verify pages read owners, groups or users back instead). */
  runPage(input: MigrationRef & { stage: PageStage; page: number }): Promise<Outcome>;
  /** The next owners or groups of a fan-out stage, in id order after `after`. */
  listFanoutItems(
    input: MigrationRef & { stage: FanoutStage; after: string | null; limit: number; round?: number }
  ): Promise<{ items: FanoutItem[]; next: string | null }>;
  /**
   * The conversations of `owner`'s copy as ranges of its dense seq, in staging order (peer by peer); in a catch-up
   * round, only the messages the round added.
   */
  ownerConversations(input: MigrationRef & { owner: string; round?: number }): Promise<ConversationRange[]>;
  /** A catch-up round's work, and the verify stage's pages and records as staged now; marks the round running. */
  loadRound(input: MigrationRef & { round: number }): Promise<{ work: RoundWork; verify: StageWork }>;
  /** One page of a round op: one ZIM call (activities/round-ops.ts). */
  runRoundPage(input: MigrationRef & { round: number; op: RoundOp; page: number }): Promise<Outcome>;
  /** Records how the round ended. */
  finishRound(input: MigrationRef & { round: number; state: RoundState }): Promise<void>;
  /** Imports message `seq` of `owner`'s copy (ImportPeerMsg), reconciling against ZIM first if a try was pending. */
  importPeerMessage(input: MigrationRef & { owner: string; seq: number; prev: LandedMark | null }): Promise<StepResult>;
  /**
   * Step `step` of creating a group: CreateGroup, invites in batches, a member check, then one step per admin role
   * and one per 20 nicknames.
   */
  setupGroupStep(input: MigrationRef & { groupId: string; step: number }): Promise<StepResult>;
  /** Imports message `seq` of a group's history (ImportGroupMsg), reconciling first if a try was pending. */
  importGroupMessage(
    input: MigrationRef & { groupId: string; seq: number; prev: LandedMark | null }
  ): Promise<StepResult>;
  /**
   * Opens or closes the migration's call gate in staging. Message imports check it just before calling ZIM, so a
   * pause stops them at once, even while their owner's workflow task is busy with local activities.
   */
  setCallGate(input: MigrationRef & { open: boolean }): Promise<void>;
  /** The ledger's counts and the calls sent per Action in the last `windowMs`: live progress that is true. */
  readProgress(input: MigrationRef & { windowMs: number }): Promise<ProgressSnapshot>;
  /** Sets an Action's budget (calls/s) in the call schedule shared by the workers. */
  applyBudget(input: { action: string; rate: number }): Promise<void>;
  /** Whether a workflow id is running or closed, for a child that a restarted stage finds already started. */
  describeWorkflow(input: {
    workflowId: string;
  }): Promise<'running' | 'completed' | 'closed-unsuccessfully' | 'not-found'>;
}
