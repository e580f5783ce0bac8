/**
 * What the migration reads from staging and writes to its ledger: the one interface that every
 * backend implements (today an embedded SQLite file; later perhaps a shared server database when
 * workers run on several machines). Reads are cursor-paged and return plain objects, so activities can
 * hand them straight to the ZIM client. Message bodies stay here; workflows carry only cursors.
 */
import type { ZimMessageBody } from '../import-format/message-body';
import type { MEMBER_ROLES } from '../import-format/schemas';
import type { ZimLimits } from '../import-format/zim-limits';
import type { Plan, StagingCounts } from '../shared/migration-plan';

export interface StagingMeta {
  formatVersion: number;
  /** ISO time the staging file was built. */
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
  counts: StagingCounts;
  /** The plan as computed when the file was built (calls per Action, stages, ETA at the rates above). */
  plan: Plan;
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
  messageCount: number;
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

interface StagedMessage {
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

export type OutcomeStatus = 'done' | 'failed' | 'skipped';
export interface Outcome {
  stage: string;
  /** e.g. `${owner}|${sourceId}` for a message copy, the user id for an account. */
  key: string;
  status: OutcomeStatus;
  zimCode?: number;
  zimMessage?: string;
  msgId?: string;
  msgSeq?: number;
  /** Epoch ms. */
  at: number;
}

export interface LedgerCount {
  stage: string;
  status: OutcomeStatus;
  count: number;
}

export interface StagingStore {
  meta(): Promise<StagingMeta>;
  /** Users in id order, after `afterUserId` (null: from the start). */
  readUsers(afterUserId: string | null, limit: number): Promise<StagedUser[]>;
  /** Friendships in (user, friend) order, so a page batches per FromUserId. */
  readFriends(after: FriendKey | null, limit: number): Promise<StagedFriend[]>;
  readBlocks(after: BlockKey | null, limit: number): Promise<StagedBlock[]>;
  readGroups(afterGroupId: string | null, limit: number): Promise<StagedGroup[]>;
  /** A group's members (owner included, role 'owner') in user id order. */
  readGroupMembers(groupId: string, afterUserId: string | null, limit: number): Promise<StagedGroupMember[]>;
  /** Users that own at least one one-to-one message copy, in id order. */
  readOwners(afterUserId: string | null, limit: number): Promise<MessageOwner[]>;
  /**
   * The owner's copy of all their one-to-one conversations, ordered by peer, then sentTime, messages sent at the
   * same time in the export's order (file, line); without the messages the owner deleted. `afterSeq` is the seq of the last row read (null: start).
   */
  readOwnerMessages(owner: string, afterSeq: number | null, limit: number): Promise<StagedPeerMessage[]>;
  countOwnerMessages(owner: string): Promise<number>;
  /** A group's history by sentTime (equal times in the export's order) with a dense seq. */
  readGroupMessages(groupId: string, afterSeq: number | null, limit: number): Promise<StagedGroupMessage[]>;
  /** Upsert outcomes by (stage, key) in one transaction; the last write for a key wins. */
  recordOutcomes(rows: readonly Outcome[]): Promise<void>;
  readLedger(stage: string, afterKey: string | null, limit: number): Promise<Outcome[]>;
  ledgerSummary(): Promise<LedgerCount[]>;
  /** The migration that last started from this file (recorded when it loads its plan); null before any has. */
  lastMigration(): Promise<string | null>;
  close(): Promise<void>;
}

export interface OpenStagingOptions {
  /** Open for reading only (the CLI's report and status while a worker writes the ledger). */
  readonly?: boolean;
}
