/**
 * The activities' view of a SQLite staging file (activities/migration-data.ts): page-indexed batches, each owner's
 * and group's messages by dense seq, and the ledger. Page stages run several pages at once, so a batch must be
 * addressable by its number: a small index table (`zm_call_batches`) records where each batch starts, built once
 * per file on first use (users by 100; each owner's friends and blocks by 20; verify pages of 20 owners or groups,
 * and the users pages again for profiles and relation lists).
 */
import Database from 'better-sqlite3';
import type { ConversationRange, FanoutItem, LedgerCounts, StagePlan } from '../../../activities/contract';
import type { LedgerStatus } from '../../../activities/batch-import';
import type { Claim } from '../../../activities/message-import';
import type {
  LedgerRecord,
  LedgerRow,
  MigrationData,
  StagedGroup,
  StagedImportMessage,
  StagedMember,
  StagedRelation,
  StagedUser,
  StagedUserRelations,
} from '../../../activities/migration-data';
import { CREATE_GROUP_MEMBERS, INVITE_BATCH, NICKNAME_BATCH } from '../../../activities/group-setup';
import type { StageActionWork } from '../../shared/eta';
import type { Stage } from '../../shared/stages';
import type { StagingMeta } from '../store';
import { MIGRATION_META_KEY } from './schema';

export const USERS_PER_CALL = 100;
export const RELATIONS_PER_CALL = 20;
export const VERIFY_PER_PAGE = 20;

type Row = Record<string, unknown>;
const optStr = (v: unknown) => (v == null ? undefined : (v as string));
const optNum = (v: unknown) => (v == null ? undefined : (v as number));

const BATCH_INDEX = `
CREATE TABLE IF NOT EXISTS zm_call_batches(kind TEXT NOT NULL, batch INTEGER NOT NULL, owner TEXT, first_key TEXT NOT NULL,
  PRIMARY KEY(kind, batch)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zm_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- Verify reads who lists a user as a friend (ZIM's AddFriends is mutual); friends' key only serves the other way.
CREATE INDEX IF NOT EXISTS zm_friends_by_friend ON friends(friend, user);
-- Ledger rows per stage and status, kept by triggers in the ledger write's own transaction: live progress reads
-- these few rows instead of counting a ledger of millions.
CREATE TABLE IF NOT EXISTS zm_ledger_counts(stage TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY(stage, status)) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS zm_ledger_counted AFTER INSERT ON ledger BEGIN
  INSERT INTO zm_ledger_counts(stage, status, n) VALUES (new.stage, new.status, 1)
    ON CONFLICT(stage, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS zm_ledger_recounted AFTER UPDATE OF status ON ledger WHEN old.status <> new.status BEGIN
  UPDATE zm_ledger_counts SET n = n - 1 WHERE stage = old.stage AND status = old.status;
  INSERT INTO zm_ledger_counts(stage, status, n) VALUES (new.stage, new.status, 1)
    ON CONFLICT(stage, status) DO UPDATE SET n = n + 1;
END;`;

/** A staging file written before the counts existed: count its ledger once. */
const COUNT_LEDGER = `
DELETE FROM zm_ledger_counts;
INSERT INTO zm_ledger_counts(stage, status, n) SELECT stage, status, count(*) FROM ledger GROUP BY stage, status;
INSERT INTO zm_meta(key, value) VALUES ('ledger_counts', 'kept');`;

/** Batch starts: row k of a window where a new batch begins, numbered from 0 in key order. */
const BUILD_BATCHES = `
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'users', (rn - 1) / ${USERS_PER_CALL}, NULL, id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM users) WHERE (rn - 1) % ${USERS_PER_CALL} = 0;
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'friends', row_number() OVER (ORDER BY user, friend) - 1, user, friend
  FROM (SELECT user, friend, row_number() OVER (PARTITION BY user ORDER BY friend) AS rn FROM friends)
  WHERE (rn - 1) % ${RELATIONS_PER_CALL} = 0;
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'blocks', row_number() OVER (ORDER BY user, blocked) - 1, user, blocked
  FROM (SELECT user, blocked, row_number() OVER (PARTITION BY user ORDER BY blocked) AS rn FROM blocks)
  WHERE (rn - 1) % ${RELATIONS_PER_CALL} = 0;
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'verify-owners', (rn - 1) / ${VERIFY_PER_PAGE}, NULL, user
  FROM (SELECT user, row_number() OVER (ORDER BY user) AS rn FROM owners) WHERE (rn - 1) % ${VERIFY_PER_PAGE} = 0;
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'verify-groups', (rn - 1) / ${VERIFY_PER_PAGE}, NULL, id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM groups) WHERE (rn - 1) % ${VERIFY_PER_PAGE} = 0;
INSERT INTO zm_meta(key, value) VALUES ('batches', 'built');`;

export class SqliteMigrationData implements MigrationData {
  private readonly db: Database.Database;
  private readonly q;

  constructor(file: string) {
    this.db = new Database(file, { fileMustExist: true });
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(BATCH_INDEX);
    this.db
      .transaction(() => {
        // Message imports' leases (activities/message-import.ts); files staged before them lack the columns.
        const columns = (this.db.prepare(`PRAGMA table_info(ledger)`).all() as { name: string }[]).map((c) => c.name);
        if (!columns.includes('lease_token'))
          this.db.exec(
            `ALTER TABLE ledger ADD COLUMN lease_token TEXT; ALTER TABLE ledger ADD COLUMN lease_until INTEGER;`
          );
        if (!this.db.prepare(`SELECT 1 FROM zm_meta WHERE key = 'batches'`).get()) this.db.exec(BUILD_BATCHES);
        if (!this.db.prepare(`SELECT 1 FROM zm_meta WHERE key = 'ledger_counts'`).get()) this.db.exec(COUNT_LEDGER);
      })
      .immediate();
    const db = this.db;
    this.q = {
      meta: db.prepare(`SELECT value FROM meta WHERE key = 'meta'`),
      batchCount: db.prepare(`SELECT count(*) AS n FROM zm_call_batches WHERE kind = ?`),
      batch: db.prepare(`SELECT owner, first_key FROM zm_call_batches WHERE kind = ? AND batch = ?`),
      users: db.prepare(`SELECT * FROM users WHERE id >= ? ORDER BY id LIMIT ?`),
      friends: db.prepare(`SELECT * FROM friends WHERE user = ? AND friend >= ? ORDER BY friend LIMIT ?`),
      blocks: db.prepare(`SELECT * FROM blocks WHERE user = ? AND blocked >= ? ORDER BY blocked LIMIT ?`),
      friendTargets: db.prepare(`SELECT friend FROM friends WHERE user = ? ORDER BY friend`),
      friendSources: db.prepare(`SELECT user FROM friends WHERE friend = ? ORDER BY user`),
      blockTargets: db.prepare(`SELECT blocked FROM blocks WHERE user = ? ORDER BY blocked`),
      relationUsers: db.prepare(
        `SELECT (SELECT count(*) FROM (SELECT user FROM friends UNION SELECT friend FROM friends)) AS friendLists,
           (SELECT count(DISTINCT user) FROM blocks) AS blockLists`
      ),
      ownersFrom: db.prepare(`SELECT user FROM owners WHERE user >= ? ORDER BY user LIMIT ?`),
      groupsFrom: db.prepare(`SELECT id FROM groups WHERE id >= ? ORDER BY id LIMIT ?`),
      ownersAfter: db.prepare(`SELECT user AS id, n AS planned FROM owners WHERE user > ? ORDER BY user LIMIT ?`),
      // A group child lands its memberships, admin roles and nicknames.
      groupsAfter: db.prepare(
        `SELECT id, member_count + (SELECT count(*) FILTER (WHERE role = 'admin')
             + count(*) FILTER (WHERE nickname IS NOT NULL AND nickname <> '') FROM group_members WHERE grp = g.id)
           AS planned
         FROM groups g WHERE id > ? ORDER BY id LIMIT ?`
      ),
      historiesAfter: db.prepare(
        `SELECT id, message_count AS planned FROM groups WHERE id > ? AND message_count > 0 ORDER BY id LIMIT ?`
      ),
      owner: db.prepare(`SELECT first, n FROM owners WHERE user = ?`),
      ranges: db.prepare(
        `SELECT peer, min(id) AS first_id, count(*) AS n FROM peer_copies WHERE id >= ? AND id < ?
         GROUP BY peer ORDER BY first_id`
      ),
      ownerCopy: db.prepare(
        `SELECT c.peer, m.src, m.f, m.t, m.sent, m.type, m.sub_type, m.body, m.searched
         FROM peer_copies c JOIN peer_messages m ON m.id = c.msg WHERE c.id = ?`
      ),
      ownerCopies: db.prepare(
        `SELECT c.peer, m.src, m.f, m.t, m.sent, m.type, m.sub_type, m.body, m.searched
         FROM peer_copies c JOIN peer_messages m ON m.id = c.msg WHERE c.id >= ? AND c.id < ? ORDER BY c.id`
      ),
      group: db.prepare(`SELECT * FROM groups WHERE id = ?`),
      groupRoleCounts: db.prepare(
        `SELECT count(*) FILTER (WHERE role = 'admin') AS admins,
           count(*) FILTER (WHERE nickname IS NOT NULL AND nickname <> '') AS nicknames
         FROM group_members WHERE grp = ?`
      ),
      admins: db.prepare(
        `SELECT user FROM group_members WHERE grp = ? AND role = 'admin' ORDER BY user LIMIT ? OFFSET ?`
      ),
      nicknames: db.prepare(
        `SELECT user, nickname FROM group_members WHERE grp = ? AND nickname IS NOT NULL AND nickname <> ''
         ORDER BY user LIMIT ? OFFSET ?`
      ),
      members: db.prepare(
        `SELECT user, joined_at FROM group_members WHERE grp = ? AND user <> ? ORDER BY user LIMIT ? OFFSET ?`
      ),
      groupCopy: db.prepare(
        `SELECT m.src, m.f, m.sent, m.type, m.sub_type, m.body, m.searched
         FROM group_seq s JOIN group_messages m ON m.id = s.msg WHERE s.id = ?`
      ),
      groupCopies: db.prepare(
        `SELECT m.src, m.f, m.sent, m.type, m.sub_type, m.body, m.searched
         FROM group_seq s JOIN group_messages m ON m.id = s.msg WHERE s.id >= ? AND s.id < ? ORDER BY s.id`
      ),
      ledgerGet: db.prepare(`SELECT status, msg_seq, zim_code FROM ledger WHERE stage = ? AND key = ?`),
      ledgerCounts: db.prepare(`SELECT stage, status, n FROM zm_ledger_counts WHERE n > 0`),
      gateGet: db.prepare(`SELECT value FROM zm_meta WHERE key = 'call_gate'`),
      gateSet: db.prepare(`INSERT OR REPLACE INTO zm_meta(key, value) VALUES ('call_gate', ?)`),
      migrationSet: db.prepare(`INSERT OR REPLACE INTO zm_meta(key, value) VALUES ('${MIGRATION_META_KEY}', ?)`),
      ledgerPut: db.prepare(
        `INSERT INTO ledger(stage, key, status, zim_code, zim_message, msg_id, msg_seq, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(stage, key) DO UPDATE SET status = excluded.status, zim_code = excluded.zim_code,
           zim_message = excluded.zim_message, msg_id = excluded.msg_id, msg_seq = excluded.msg_seq, at = excluded.at,
           lease_token = NULL, lease_until = NULL`
      ),
      leaseGet: db.prepare(
        `SELECT status, msg_seq, zim_code, lease_token, lease_until FROM ledger WHERE stage = ? AND key = ?`
      ),
      leaseTake: db.prepare(
        `INSERT INTO ledger(stage, key, status, at, lease_token, lease_until) VALUES (?, ?, 'pending', ?, ?, ?)
         ON CONFLICT(stage, key) DO UPDATE SET status = 'pending', at = excluded.at,
           lease_token = excluded.lease_token, lease_until = excluded.lease_until`
      ),
      leaseRenew: db.prepare(
        `UPDATE ledger SET lease_until = ? WHERE stage = ? AND key = ? AND status = 'pending' AND lease_token = ?`
      ),
      leaseRelease: db.prepare(
        `UPDATE ledger SET lease_until = NULL WHERE stage = ? AND key = ? AND status = 'pending' AND lease_token = ?`
      ),
      conversations: db.prepare(`SELECT count(DISTINCT owner || char(0) || peer) AS n FROM peer_copies`),
      memberStats: db.prepare(
        `SELECT count(*) AS groups, coalesce(sum(member_count), 0) AS members,
           coalesce(sum(max(0, (member_count - 1 - ${CREATE_GROUP_MEMBERS} + ${INVITE_BATCH} - 1) / ${INVITE_BATCH})), 0) AS invites,
           coalesce(sum(message_count), 0) AS messages FROM groups`
      ),
      roleStats: db.prepare(
        `SELECT count(*) FILTER (WHERE role = 'admin') AS admins,
           count(*) FILTER (WHERE nickname IS NOT NULL AND nickname <> '') AS nicknames,
           (SELECT coalesce(sum((n + ${NICKNAME_BATCH} - 1) / ${NICKNAME_BATCH}), 0) FROM (SELECT count(*) AS n
              FROM group_members WHERE nickname IS NOT NULL AND nickname <> '' GROUP BY grp)) AS nicknameCalls
         FROM group_members`
      ),
      ownerStats: db.prepare(`SELECT count(*) AS owners, coalesce(sum(n), 0) AS copies FROM owners`),
      userCount: db.prepare(`SELECT count(*) AS n FROM users`),
      relationCount: db.prepare(
        `SELECT (SELECT count(*) FROM friends) AS friends, (SELECT count(*) FROM blocks) AS blocks`
      ),
    };
  }

  private count(kind: string): number {
    return (this.q.batchCount.get(kind) as { n: number }).n;
  }

  private batch(kind: string, batch: number): { owner: string | null; first_key: string } | undefined {
    return this.q.batch.get(kind, batch) as { owner: string | null; first_key: string } | undefined;
  }

  async plan(): Promise<Record<Stage, StagePlan>> {
    const users = (this.q.userCount.get() as { n: number }).n;
    const rel = this.q.relationCount.get() as { friends: number; blocks: number };
    const owners = this.q.ownerStats.get() as { owners: number; copies: number };
    const groups = this.q.memberStats.get() as { groups: number; members: number; invites: number; messages: number };
    const roles = this.q.roleStats.get() as { admins: number; nicknames: number; nicknameCalls: number };
    const conversations = (this.q.conversations.get() as { n: number }).n;
    const lists = this.q.relationUsers.get() as { friendLists: number; blockLists: number };
    const pages = {
      users: this.count('users'),
      friends: this.count('friends'),
      blocks: this.count('blocks'),
      verify: this.count('verify-owners') + this.count('verify-groups') + this.count('users'),
    };
    const checks = conversations + 2 * groups.groups + users + lists.friendLists + lists.blockLists;
    const planned = JSON.parse((this.q.meta.get() as { value: string }).value) as Pick<StagingMeta, 'plan'>;
    const actions = (stage: Stage): StageActionWork[] =>
      planned.plan.actions
        .filter((a) => a.stage === stage)
        .map(({ action, calls, perGroup, maxCallsPerGroup }) => ({
          action,
          calls,
          perGroup,
          ...(maxCallsPerGroup !== undefined && { maxCallsPerGroup }),
        }));
    const plans = {
      accounts: { planned: users, pages: pages.users, calls: pages.users },
      profiles: { planned: users, pages: pages.users, calls: pages.users },
      friends: { planned: rel.friends, pages: pages.friends, calls: pages.friends },
      blocks: { planned: rel.blocks, pages: pages.blocks, calls: pages.blocks },
      'peer-messages': { planned: owners.copies, pages: 0, calls: owners.copies },
      // Memberships, admin roles and nicknames. CreateGroup, the invites beyond the first 100 members, one member-list
      // read per group, one SetGroupMemberRole per admin and one SetGroupMembersNickname per 20 nicknames.
      groups: {
        planned: groups.members + roles.admins + roles.nicknames,
        pages: 0,
        calls: 2 * groups.groups + groups.invites + roles.admins + roles.nicknameCalls,
      },
      'group-messages': { planned: groups.messages, pages: 0, calls: groups.messages },
      // Checks: each conversation copy, each group's history and members, each user's profile, each friend list and
      // blocklist that should hold something. At least one read each, but one QueryUserInfos per 100 profiles.
      verify: {
        planned: checks,
        pages: pages.verify,
        calls: checks - users + pages.users,
      },
    };
    return Object.fromEntries(
      Object.entries(plans).map(([stage, plan]) => [stage, { ...plan, actions: actions(stage as Stage) }])
    ) as Record<Stage, StagePlan>;
  }

  async usersPage(page: number): Promise<StagedUser[]> {
    const start = this.batch('users', page);
    if (!start) return [];
    return (this.q.users.all(start.first_key, USERS_PER_CALL) as Row[]).map((r) => ({
      userId: r.id as string,
      nickname: optStr(r.nickname),
      avatarUrl: optStr(r.avatar_url),
      extendedData: optStr(r.extended_data),
    }));
  }

  async relationBatch(stage: 'friends' | 'blocks', batch: number): Promise<StagedRelation[]> {
    const start = this.batch(stage, batch);
    if (!start?.owner) return [];
    if (stage === 'blocks') {
      return (this.q.blocks.all(start.owner, start.first_key, RELATIONS_PER_CALL) as Row[]).map((r) => ({
        owner: r.user as string,
        target: r.blocked as string,
        since: optNum(r.since),
      }));
    }
    return (this.q.friends.all(start.owner, start.first_key, RELATIONS_PER_CALL) as Row[]).map((r) => ({
      owner: r.user as string,
      target: r.friend as string,
      alias: optStr(r.alias),
      since: optNum(r.since),
      attributes: r.attributes
        ? Object.entries(JSON.parse(r.attributes as string) as Record<string, string>).map(([key, value]) => ({
            key,
            value,
          }))
        : undefined,
    }));
  }

  async verifyPage(page: number): Promise<{ owners: string[]; groups: string[]; users: StagedUser[] }> {
    const none = { owners: [], groups: [], users: [] };
    const ownerPages = this.count('verify-owners');
    const groupPages = this.count('verify-groups');
    if (page < ownerPages) {
      const start = this.batch('verify-owners', page)!;
      const owners = (this.q.ownersFrom.all(start.first_key, VERIFY_PER_PAGE) as Row[]).map((r) => r.user as string);
      return { ...none, owners };
    }
    if (page < ownerPages + groupPages) {
      const start = this.batch('verify-groups', page - ownerPages)!;
      const groups = (this.q.groupsFrom.all(start.first_key, VERIFY_PER_PAGE) as Row[]).map((r) => r.id as string);
      return { ...none, groups };
    }
    return { ...none, users: await this.usersPage(page - ownerPages - groupPages) };
  }

  async userRelations(userIds: string[]): Promise<Map<string, StagedUserRelations>> {
    const column = (rows: unknown[]) => (rows as Row[]).map((r) => Object.values(r)[0] as string);
    return new Map(
      userIds.map((u) => [
        u,
        {
          friends: column(this.q.friendTargets.all(u)),
          friendOf: column(this.q.friendSources.all(u)),
          blocked: column(this.q.blockTargets.all(u)),
        },
      ])
    );
  }

  async fanoutItems(
    stage: 'peer-messages' | 'groups' | 'group-messages',
    after: string | null,
    limit: number
  ): Promise<FanoutItem[]> {
    const query =
      stage === 'peer-messages' ? this.q.ownersAfter : stage === 'groups' ? this.q.groupsAfter : this.q.historiesAfter;
    return query.all(after ?? '', limit) as FanoutItem[];
  }

  private ownerRange(owner: string): { first: number; n: number } {
    return (this.q.owner.get(owner) as { first: number; n: number } | undefined) ?? { first: 0, n: 0 };
  }

  private peerMessage(r: Row): StagedImportMessage {
    return {
      sourceId: r.src as string,
      conversation: r.peer as string,
      from: r.f as string,
      to: r.t as string,
      sentTime: r.sent as number,
      type: r.type as number,
      subType: r.sub_type as number,
      body: JSON.parse(r.body as string) as StagedImportMessage['body'],
      ...(r.searched != null && { searchedContent: r.searched as string }),
    };
  }

  async ownerMessageCount(owner: string): Promise<number> {
    return this.ownerRange(owner).n;
  }

  async ownerConversationRanges(owner: string): Promise<ConversationRange[]> {
    const { first, n } = this.ownerRange(owner);
    return (this.q.ranges.all(first, first + n) as Row[]).map((r) => ({
      peer: r.peer as string,
      start: (r.first_id as number) - first,
      count: r.n as number,
    }));
  }

  async ownerMessage(owner: string, seq: number): Promise<StagedImportMessage | null> {
    const { first, n } = this.ownerRange(owner);
    if (seq < 0 || seq >= n) return null;
    const row = this.q.ownerCopy.get(first + seq) as Row | undefined;
    return row ? this.peerMessage(row) : null;
  }

  async ownerConversations(owner: string): Promise<Map<string, StagedImportMessage[]>> {
    const { first, n } = this.ownerRange(owner);
    const byPeer = new Map<string, StagedImportMessage[]>();
    for (const row of this.q.ownerCopies.iterate(first, first + n) as Iterable<Row>) {
      const m = this.peerMessage(row);
      const list = byPeer.get(m.conversation) ?? [];
      list.push(m);
      byPeer.set(m.conversation, list);
    }
    return byPeer;
  }

  async group(groupId: string): Promise<StagedGroup | null> {
    const r = this.q.group.get(groupId) as Row | undefined;
    if (!r) return null;
    return {
      groupId,
      owner: r.owner as string,
      name: optStr(r.name),
      avatarUrl: optStr(r.avatar_url),
      notice: optStr(r.notice),
      attributes: r.attributes
        ? Object.entries(JSON.parse(r.attributes as string) as Record<string, string>).map(([key, value]) => ({
            key,
            value,
          }))
        : undefined,
      createdTime: optNum(r.created_at),
      memberCount: Math.max(0, (r.member_count as number) - 1),
      ...(this.q.groupRoleCounts.get(groupId) as { admins: number; nicknames: number }),
    };
  }

  async groupAdmins(groupId: string, offset: number, limit: number): Promise<string[]> {
    return (this.q.admins.all(groupId, limit, offset) as Row[]).map((r) => r.user as string);
  }

  async groupNicknames(
    groupId: string,
    offset: number,
    limit: number
  ): Promise<{ userId: string; nickname: string }[]> {
    return (this.q.nicknames.all(groupId, limit, offset) as Row[]).map((r) => ({
      userId: r.user as string,
      nickname: r.nickname as string,
    }));
  }

  async groupMembers(groupId: string, offset: number, limit: number): Promise<StagedMember[]> {
    const owner = (this.q.group.get(groupId) as Row | undefined)?.owner;
    if (owner === undefined) return [];
    return (this.q.members.all(groupId, owner, limit, offset) as Row[]).map((r) => ({
      userId: r.user as string,
      joinedTime: optNum(r.joined_at),
    }));
  }

  private groupRange(groupId: string): { first: number; n: number } {
    const r = this.q.group.get(groupId) as Row | undefined;
    return r && r.first_msg != null
      ? { first: r.first_msg as number, n: r.message_count as number }
      : { first: 0, n: 0 };
  }

  private groupMessageOf(groupId: string, r: Row): StagedImportMessage {
    return { ...this.peerMessage({ ...r, peer: groupId, t: undefined }), to: undefined };
  }

  async groupMessageCount(groupId: string): Promise<number> {
    return this.groupRange(groupId).n;
  }

  async groupMessage(groupId: string, seq: number): Promise<StagedImportMessage | null> {
    const { first, n } = this.groupRange(groupId);
    if (seq < 0 || seq >= n) return null;
    const row = this.q.groupCopy.get(first + seq) as Row | undefined;
    return row ? this.groupMessageOf(groupId, row) : null;
  }

  async groupMessages(groupId: string): Promise<StagedImportMessage[]> {
    const { first, n } = this.groupRange(groupId);
    return (this.q.groupCopies.all(first, first + n) as Row[]).map((r) => this.groupMessageOf(groupId, r));
  }

  async ledgerGet(stage: Stage, keys: string[]): Promise<Map<string, LedgerRecord>> {
    const found = new Map<string, LedgerRecord>();
    for (const key of keys) {
      const r = this.q.ledgerGet.get(stage, key) as Row | undefined;
      if (r)
        found.set(key, {
          status: r.status as LedgerRecord['status'],
          msgSeq: optNum(r.msg_seq),
          zimCode: optNum(r.zim_code),
        });
    }
    return found;
  }

  async ledgerPut(stage: Stage, rows: LedgerRow[]): Promise<void> {
    const at = Date.now();
    this.db.transaction(() => {
      for (const r of rows)
        this.q.ledgerPut.run(
          stage,
          r.key,
          r.status,
          r.zimCode ?? null,
          r.zimMessage ?? null,
          r.msgId ?? null,
          r.msgSeq ?? null,
          at
        );
    })();
  }

  async ledgerClaim(stage: Stage, key: string, _sourceId: string, token: string, leaseMs: number): Promise<Claim> {
    // IMMEDIATE: the read and the write are one step, so two attempts never both claim.
    return this.db
      .transaction((): Claim => {
        const now = Date.now();
        const r = this.q.leaseGet.get(stage, key) as Row | undefined;
        const entry = r && {
          status: r.status as LedgerRecord['status'],
          ...(r.msg_seq != null && { msgSeq: r.msg_seq as number }),
          ...(r.zim_code != null && { zimCode: r.zim_code as number }),
        };
        if (entry && entry.status !== 'pending') return { claimed: false, current: entry };
        if (entry && r.lease_token !== token && r.lease_until != null && (r.lease_until as number) > now)
          return { claimed: false, current: entry };
        this.q.leaseTake.run(stage, key, now, token, now + leaseMs);
        return { claimed: true, previous: entry ?? null };
      })
      .immediate();
  }

  async ledgerRenew(stage: Stage, key: string, token: string, leaseMs: number): Promise<boolean> {
    return this.q.leaseRenew.run(Date.now() + leaseMs, stage, key, token).changes === 1;
  }

  async ledgerRelease(stage: Stage, key: string, token: string): Promise<void> {
    this.q.leaseRelease.run(stage, key, token);
  }

  async ledgerCounts(): Promise<LedgerCounts> {
    const counts: LedgerCounts = {};
    for (const r of this.q.ledgerCounts.all() as { stage: Stage; status: LedgerStatus; n: number }[])
      (counts[r.stage] ??= { pending: 0, done: 0, failed: 0, skipped: 0 })[r.status] = r.n;
    return counts;
  }

  async callGateOpen(): Promise<boolean> {
    return (this.q.gateGet.get() as Row | undefined)?.value !== 'closed';
  }

  async setCallGate(open: boolean): Promise<void> {
    this.q.gateSet.run(open ? 'open' : 'closed');
  }

  async recordMigration(migrationId: string): Promise<void> {
    this.q.migrationSet.run(migrationId);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
