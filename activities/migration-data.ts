/**
 * What the activities read from and write to a migration's staging database: the data to send, in the pages and
 * orders the workflows walk, and the ledger of outcomes. `src/staging` implements it; keeping the port this small
 * is what lets a shared server database back it later.
 */
import type { ConversationRange, FanoutItem, LedgerCounts, PageStage, StagePlan } from './contract';
import type { LedgerStatus } from './batch-import';
import type { Claim } from './message-import';
import type { Stage } from '../src/shared/stages';

export interface StagedUser {
  userId: string;
  nickname?: string;
  avatarUrl?: string;
  extendedData?: string;
}

export interface StagedRelation {
  /** The user whose list it is (FromUserId). */
  owner: string;
  /** The friend or the blocked user. */
  target: string;
  alias?: string;
  attributes?: { key: string; value: string }[];
  since?: number;
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
  groupId: string;
  owner: string;
  name?: string;
  avatarUrl?: string;
  notice?: string;
  attributes?: { key: string; value: string }[];
  createdTime?: number;
  /** Members other than the owner. */
  memberCount: number;
  /** Members staged as admins (never the owner). */
  admins: number;
  /** Members, the owner included, staged with a nickname. */
  nicknames: number;
}

export interface StagedMember {
  userId: string;
  joinedTime?: number;
}

/** A message as ZIM's import needs it; `conversation` is the peer (from the owner's side) or the group. */
export interface StagedImportMessage {
  sourceId: string;
  conversation: string;
  from: string;
  to?: string;
  sentTime: number;
  type: number;
  subType?: number;
  body: { Message: string; ExtendedData?: string };
  searchedContent?: string;
  /** Set when planning found ZIM will refuse it (e.g. older than the retention window). */
  skipReason?: string;
}

export interface LedgerRow {
  key: string;
  status: LedgerStatus;
  sourceId: string;
  zimCode?: number;
  zimMessage?: string;
  msgId?: string;
  msgSeq?: number;
}

export interface LedgerRecord {
  status: LedgerStatus;
  msgSeq?: number;
  zimCode?: number;
}

export interface MigrationData {
  plan(): Promise<Record<Stage, StagePlan>>;
  /** Records in the staging file that this migration runs from it (the latest one wins). */
  recordMigration(migrationId: string): Promise<void>;
  /** Page `page` of users (100 a page): UserRegister and ModifyUserInfo batches. */
  usersPage(page: number): Promise<StagedUser[]>;
  /** Batch `batch` of friends or blocks: one owner's relations, at most 20 (one AddFriends / block call). */
  relationBatch(stage: 'friends' | 'blocks', batch: number): Promise<StagedRelation[]>;
  /**
   * Verify page `page`: the owners (conversation copies), groups, or users (profile, friend list, blocklist) whose
   * state it compares with ZIM. Each page holds one kind.
   */
  verifyPage(page: number): Promise<{ owners: string[]; groups: string[]; users: StagedUser[] }>;
  /** The staged relations of each user in `userIds`. */
  userRelations(userIds: string[]): Promise<Map<string, StagedUserRelations>>;
  fanoutItems(
    stage: 'peer-messages' | 'groups' | 'group-messages',
    after: string | null,
    limit: number
  ): Promise<FanoutItem[]>;
  ownerMessageCount(owner: string): Promise<number>;
  ownerConversationRanges(owner: string): Promise<ConversationRange[]>;
  ownerMessage(owner: string, seq: number): Promise<StagedImportMessage | null>;
  /** The owner's whole copy, conversation by conversation (for verify). */
  ownerConversations(owner: string): Promise<Map<string, StagedImportMessage[]>>;
  group(groupId: string): Promise<StagedGroup | null>;
  groupMembers(groupId: string, offset: number, limit: number): Promise<StagedMember[]>;
  /** Staged admins of a group, by user id. */
  groupAdmins(groupId: string, offset: number, limit: number): Promise<string[]>;
  /** Staged nicknames of a group's members (the owner's too), by user id. */
  groupNicknames(groupId: string, offset: number, limit: number): Promise<{ userId: string; nickname: string }[]>;
  groupMessageCount(groupId: string): Promise<number>;
  groupMessage(groupId: string, seq: number): Promise<StagedImportMessage | null>;
  groupMessages(groupId: string): Promise<StagedImportMessage[]>;
  ledgerGet(stage: Stage, keys: string[]): Promise<Map<string, LedgerRecord>>;
  /** Records outcomes (or plain `pending` write-aheads); ends any lease on those entries. */
  ledgerPut(stage: Stage, rows: LedgerRow[]): Promise<void>;
  /**
   * A message import's claim on its entry (activities/message-import.ts): writes `pending` with this attempt's
   * lease unless the entry is settled or another attempt's lease is live, atomically, by the store's clock.
   */
  ledgerClaim(stage: Stage, key: string, sourceId: string, token: string, leaseMs: number): Promise<Claim>;
  /** Extends the attempt's lease; false if the entry is no longer pending under this token. */
  ledgerRenew(stage: Stage, key: string, token: string, leaseMs: number): Promise<boolean>;
  /** Ends the attempt's lease (the entry stays pending). */
  ledgerRelease(stage: Stage, key: string, token: string): Promise<void>;
  ledgerCounts(): Promise<LedgerCounts>;
  /** The call gate (see MigrationActivities.setCallGate): open unless the migration closed it. */
  callGateOpen(): Promise<boolean>;
  setCallGate(open: boolean): Promise<void>;
}

export type PageStageData = Exclude<PageStage, 'verify'>;
