/**
 * A migration's store: the staged data it sends, in the pages and orders the workflows walk, and the ledger of what
 * landed. The one interface every engine implements (today an embedded SQLite file, src/staging/sqlite/; a shared
 * server database for workers on several machines goes beside it) and the one read API of staged data, used by the
 * activities, verify, `report` and the tests alike. Every method is async, so an engine across the network fits.
 * Reads return plain objects that activities hand to the ZIM client; message bodies and profiles stay here, and
 * workflows carry only ids, cursors and counts.
 */
import type { ZimMessageBody } from '../import-format/message-body';
import type { MEMBER_ROLES } from '../import-format/schemas';
import type { ZimLimits } from '../import-format/zim-limits';
import type { StageActionWork } from '../shared/eta';
import type { Plan, StagingCounts } from '../shared/migration-plan';
import type { RoundOp, RoundState } from '../shared/rounds';
import type { Stage } from '../shared/stages';
import type { RoundPlanned } from './round-planned';

/** What `zim-migrate plan` recorded when it staged the data. */
export interface StagingMeta {
  formatVersion: number;
  /** ISO time the staging data was built. */
  createdAt: string;
  /** Export directories in precedence order (rank 0 wins profile conflicts). */
  apps: { name: string; dir: string; rank: number }[];
  settings: {
    limits: ZimLimits;
    /** "Now" for the retention and future checks. */
    asOf: string;
    /** Calls per second per ZIM Action (per group for the per-group Actions). */
    rates: Record<string, number>;
    groupIdPrefix: Record<string, string>;
    messageIdPrefix: Record<string, string>;
    /** True when records with errors were left out (plan --exclude-errors). */
    excludedErrors: boolean;
  };
  /** The records as staged now: a catch-up round re-counts them (verify checks the final state). */
  counts: StagingCounts;
  /**
   * What the migration itself was planned with, kept when the first catch-up round re-counts `counts`: `report`
   * plans each stage with these plus each round's `planned`. Absent before any round (and in files whose rounds
   * were staged before it was kept).
   */
  migrationCounts?: StagingCounts;
  /** The plan as computed when the data was staged (calls per Action, stages, ETA at the rates above). */
  plan: Plan;
}

/** What a stage of the running migration has to do: the plan's share of it, in the units the workflows count. */
export interface StageWork {
  /** Records to land (users, relations, owner message copies, memberships, group messages, verify checks). */
  planned: number;
  /** `pages` stages: how many page activities make up the stage. */
  pages: number;
  /** ZIM calls the stage is expected to make (stageCalls: the plan's count). */
  calls: number;
  /** The plan's calls per Action of this stage (what `zim-migrate plan` timed): the live ETA times them alike. */
  actions: StageActionWork[];
  /** The chain step time (ms) the plan timed the chains at (plan.stepMs; absent: chains not timed). */
  stepMs?: number;
}

export type PageStage = 'accounts' | 'profiles' | 'friends' | 'blocks' | 'read-state' | 'verify';
export type FanoutStage = 'peer-messages' | 'groups' | 'group-messages';

/** One child of a fan-out stage. */
export interface FanoutItem {
  /** Owner user id (peer-messages) or group id. */
  id: string;
  /** Records this child will land: the owner's message copies, the group's messages or members. */
  planned: number;
  /** A catch-up round's group history: the seq its new messages start at (absent: 0). */
  start?: number;
}

export interface StagedUser {
  id: string;
  nickname: string | null;
  avatarUrl: string | null;
  extendedData: string | null;
  createdAt: number | null;
  /** Registered so others keep their history with this user, but owns no copies, relations or memberships. */
  deactivated: boolean;
  /** The apps this user was found in (merged profile). */
  apps: string[];
}

export interface FriendKey {
  user: string;
  friend: string;
}
export interface StagedFriend extends FriendKey {
  alias: string | null;
  wording: string | null;
  /** ZIM friend attributes (keys k0..k4). */
  attributes: Record<string, string> | null;
  /** When the friendship began (ms): ZIM's FriendTime. */
  since: number | null;
}

export interface BlockKey {
  user: string;
  blocked: string;
}
export interface StagedBlock extends BlockKey {
  since: number | null;
}

/** A user's staged relations, as verify reads their lists back from ZIM. */
export interface StagedUserRelations {
  /** Whom the user lists as friends (user → friend records). */
  friends: string[];
  /** Who lists the user as a friend (friend → user records): with ZIM's mutual AddFriends, in the user's list too. */
  friendOf: string[];
  blocked: string[];
}

export interface StagedGroup {
  id: string;
  /** The id in the legacy app (differs from id when --group-id-prefix applies). */
  sourceId: string;
  app: string;
  name: string | null;
  owner: string;
  avatarUrl: string | null;
  notice: string | null;
  attributes: Record<string, string> | null;
  createdAt: number | null;
  /** Members including the owner. */
  memberCount: number;
  /** Members staged as admins (never the owner). */
  adminCount: number;
  /** Members, the owner included, staged with a nickname. */
  nicknameCount: number;
  messageCount: number;
  /** Mute it (MuteGroup) after its history: a frozen source channel. */
  muted: boolean;
}

export interface StagedGroupMember {
  groupId: string;
  user: string;
  role: (typeof MEMBER_ROLES)[number];
  nickname: string | null;
  joinedAt: number | null;
}

export interface MessageOwner {
  user: string;
  /** Messages in this user's copy of all their one-to-one conversations. */
  messageCount: number;
  peerCount: number;
}

/** One conversation of an owner's copy: a range of its dense seq. */
export interface ConversationRange {
  peer: string;
  /** First seq of this conversation in the owner's copy, and how many messages it has. */
  start: number;
  count: number;
}

export interface StagedMessage {
  /** Dense, 0-based position in the read order: the cursor. */
  seq: number;
  sourceId: string;
  from: string;
  sentTime: number;
  /** ZIM MessageType number (1, 11, 12, 13, 14, 200). */
  type: number;
  /** ZIM SubMsgType (0 unless custom). */
  subType: number;
  body: ZimMessageBody;
  searchedContent?: string;
}

export interface StagedPeerMessage extends StagedMessage {
  /** The other participant: the conversation within the owner's copy. */
  peer: string;
  to: string;
}

export interface StagedGroupMessage extends StagedMessage {
  groupId: string;
}

/** A read position to import: the reader's conversation is read up to its newest message. */
export interface StagedReadState {
  user: string;
  kind: 'peer' | 'group';
  /** The peer user or the group. */
  conv: string;
  /** The last-read message's source id. */
  msg: string;
}

/**
 * A verify page holds one kind: owners (conversation copies), groups (history and members) or users. Page numbers
 * interleave the kinds (verify-page-order.ts), so the pages in flight read with every kind's Actions at once.
 */
export interface VerifyPage {
  owners: string[];
  groups: string[];
  users: StagedUser[];
}

export type LedgerStatus = 'pending' | 'done' | 'failed' | 'skipped';

/** The ledger's stages: the migration's, and `round` for catch-up round ops (src/shared/rounds.ts). */
export type LedgerStage = Stage | 'round';

/** A catch-up round of the migration (issue #13), as staged and run. */
export interface RoundRecord {
  round: number;
  exportDir: string;
  kind: 'full' | 'incremental';
  sinceMs: number | null;
  untilMs: number | null;
  state: RoundState;
  stagedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Records per change kind (src/catch-up/change-kinds.ts). */
  changes: Record<string, number>;
  /**
   * What the round adds to each stage's plan in ledger rows: its new messages and the keys it marks that no earlier
   * work marked (src/staging/round-planned.ts). Absent in rounds staged before it was counted.
   */
  planned?: RoundPlanned;
  etaSeconds: number;
}

/** What staging a round needs: the later export, staged beside the migration's staging (plan-round.ts). */
export interface StageRoundInput {
  round: number;
  laterFile: string;
  exportDir: string;
  kind: 'full' | 'incremental';
  sinceMs: number | null;
  untilMs: number | null;
  changes: Record<string, number>;
  etaSeconds: number;
}

/** One item of a round op page: a target (the user or group the call is about), a key, the values the call needs. */
export interface RoundOpItem {
  target: string;
  key: string;
  data: Record<string, unknown>;
}

/** A round's work: pages per op, and items and records per fan-out stage it reuses. */
export interface RoundWork {
  ops: { op: RoundOp; pages: number; items: number }[];
  fanout: Record<FanoutStage, { items: number; planned: number }>;
}

/** A new message a round did not import: older than its conversation's newest. */
export interface RoundLateMessage {
  sourceId: string;
  conversation: string;
  sentAt: number;
  newestAt: number;
}

/** A record's outcome in the ledger, keyed by (stage, key): keys come from ledger-keys.ts. */
export interface LedgerEntry {
  status: LedgerStatus;
  zimCode?: number;
  zimMessage?: string;
  msgId?: string;
  msgSeq?: number;
}

export interface LedgerWrite extends LedgerEntry {
  key: string;
}

/** A ledger entry as `report` lists it. */
export interface LedgerRecord extends LedgerWrite {
  stage: LedgerStage;
  /** When it was written (epoch ms). */
  at: number;
}

/** Ledger entries per stage and status: what has really landed, failed, been skipped, or is in flight. */
export type LedgerCounts = Partial<Record<LedgerStage, Record<LedgerStatus, number>>>;

/** A message import's claim on its ledger entry (activities/message-import.ts). */
export type Claim = { claimed: true; previous: LedgerEntry | null } | { claimed: false; current: LedgerEntry };

export interface MigrationStore {
  // The staging data and the migration running from it.
  meta(): Promise<StagingMeta>;
  /** Each stage's work, from the plan: what the workflows plan and time progress with. */
  stageWork(): Promise<Record<Stage, StageWork>>;
  /** Records that this migration runs from the staging data (the latest one wins). */
  recordMigration(migrationId: string): Promise<void>;
  /** The migration that last started from this staging data; null before any has. */
  lastMigration(): Promise<string | null>;

  // Staged data by cursor: after the key of the last row read (null: from the start).
  /** Users in id order. */
  readUsers(afterUserId: string | null, limit: number): Promise<StagedUser[]>;
  /** Friendships in (user, friend) order. */
  readFriends(after: FriendKey | null, limit: number): Promise<StagedFriend[]>;
  readBlocks(after: BlockKey | null, limit: number): Promise<StagedBlock[]>;
  readGroups(afterGroupId: string | null, limit: number): Promise<StagedGroup[]>;
  /** A group's members (owner included, role 'owner') in user id order. */
  readGroupMembers(groupId: string, afterUserId: string | null, limit: number): Promise<StagedGroupMember[]>;
  /** Users that own at least one one-to-one message copy, in id order. */
  readOwners(afterUserId: string | null, limit: number): Promise<MessageOwner[]>;
  /**
   * The owner's copy of all their one-to-one conversations, ordered by peer, then sentTime, messages sent at the
   * same time in the export's order (file, line); without the messages the owner deleted.
   */
  readOwnerMessages(owner: string, afterSeq: number | null, limit: number): Promise<StagedPeerMessage[]>;
  /** A group's history by sentTime (equal times in the export's order) with a dense seq. */
  readGroupMessages(groupId: string, afterSeq: number | null, limit: number): Promise<StagedGroupMessage[]>;

  // Staged data by address, as the migration's steps name it: a page number, a seq, an offset.
  /** Page `page` of the accounts stage: users in id order, one UserRegister each. */
  accountsPage(page: number): Promise<StagedUser[]>;
  /** Page `page` of the profiles stage: users with extended data, one ModifyUserInfo each. */
  profilesPage(page: number): Promise<StagedUser[]>;
  /** Page `page` of the friends stage: one user's friendships, one AddFriends. */
  friendsPage(page: number): Promise<StagedFriend[]>;
  /** Page `page` of the blocks stage: one user's blocks, one AddUsersToBlacklist. */
  blocksPage(page: number): Promise<StagedBlock[]>;
  /** Page `page` of the read-state stage: read states in (user, kind, conv) order, one ClearConversationUnread each. */
  readStatePage(page: number): Promise<StagedReadState[]>;
  verifyPage(page: number): Promise<VerifyPage>;
  /** The staged relations of each user in `userIds`. */
  userRelations(userIds: string[]): Promise<Map<string, StagedUserRelations>>;
  /** The next owners or groups of a fan-out stage, in id order after `after`. */
  fanoutItems(stage: FanoutStage, after: string | null, limit: number): Promise<FanoutItem[]>;
  countOwnerMessages(owner: string): Promise<number>;
  ownerConversationRanges(owner: string): Promise<ConversationRange[]>;
  ownerMessage(owner: string, seq: number): Promise<StagedPeerMessage | null>;
  /** The owner's whole copy, conversation by conversation (for verify). */
  ownerConversations(owner: string): Promise<Map<string, StagedPeerMessage[]>>;
  group(groupId: string): Promise<StagedGroup | null>;
  /** Members other than the owner, in user id order. */
  groupMembers(groupId: string, offset: number, limit: number): Promise<StagedGroupMember[]>;
  /** Members staged as admins, in user id order. */
  groupAdmins(groupId: string, offset: number, limit: number): Promise<StagedGroupMember[]>;
  /** Members staged with a nickname (the owner too), in user id order. */
  groupNicknames(groupId: string, offset: number, limit: number): Promise<StagedGroupMember[]>;
  countGroupMessages(groupId: string): Promise<number>;
  /** Whether the group is muted after its history (its child's last step is then MuteGroup). */
  groupMuted(groupId: string): Promise<boolean>;
  groupMessage(groupId: string, seq: number): Promise<StagedGroupMessage | null>;
  groupMessages(groupId: string): Promise<StagedGroupMessage[]>;

  // Catch-up rounds (issue #13).
  /** Every round staged, in order. */
  rounds(): Promise<RoundRecord[]>;
  /** Stages a round in one transaction (stage-round.ts); engines that cannot yet refuse with the fix. */
  stageRound(input: StageRoundInput): Promise<RoundRecord>;
  setRoundState(round: number, state: RoundState): Promise<void>;
  roundWork(round: number): Promise<RoundWork>;
  roundOpPage(round: number, op: RoundOp, page: number): Promise<RoundOpItem[]>;
  /** The round's items of a fan-out stage, in id order after `after`; `start` is where a group's new history begins. */
  roundFanoutItems(round: number, stage: FanoutStage, after: string | null, limit: number): Promise<FanoutItem[]>;
  /** The conversations of an owner's copy with messages the round added: only those messages' seqs. */
  roundConversationRanges(round: number, owner: string): Promise<ConversationRange[]>;
  roundLate(round: number, limit: number): Promise<RoundLateMessage[]>;

  // The ledger.
  ledgerGet(stage: LedgerStage, keys: string[]): Promise<Map<string, LedgerEntry>>;
  /** Upserts outcomes (or plain `pending` write-aheads) in one transaction; ends any lease on those entries. */
  ledgerPut(stage: LedgerStage, rows: readonly LedgerWrite[]): Promise<void>;
  /**
   * A message import's claim on its entry: writes `pending` with this attempt's lease unless the entry is settled or
   * another attempt's lease is live, atomically, by the store's clock.
   */
  ledgerClaim(stage: LedgerStage, key: string, token: string, leaseMs: number): Promise<Claim>;
  /** Extends the attempt's lease; false if the entry is no longer pending under this token. */
  ledgerRenew(stage: LedgerStage, key: string, token: string, leaseMs: number): Promise<boolean>;
  /** Ends the attempt's lease (the entry stays pending). */
  ledgerRelease(stage: LedgerStage, key: string, token: string): Promise<void>;
  /** Entries per stage and status, kept as the ledger is written (cheap enough for live progress). */
  ledgerCounts(): Promise<LedgerCounts>;
  /** One stage's entries in key order, after `afterKey`. */
  readLedger(stage: LedgerStage, afterKey: string | null, limit: number): Promise<LedgerRecord[]>;

  // The call gate (MigrationActivities.setCallGate): open unless the migration closed it.
  callGateOpen(): Promise<boolean>;
  setCallGate(open: boolean): Promise<void>;

  close(): Promise<void>;
}

export interface OpenStagingOptions {
  /** Open for reading only (the CLI's report and status while a worker writes the ledger). */
  readonly?: boolean;
}
