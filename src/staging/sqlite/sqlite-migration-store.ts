/** MigrationStore over the embedded SQLite staging file (engine choice and measurements: docs/staging.md). */
import type { Statement } from 'better-sqlite3';
import { plannedRecords, stageActions, stageCalls } from '../../shared/migration-plan';
import { ROUND_OPS, type RoundOp, type RoundState } from '../../shared/rounds';
import { STAGES, type Stage } from '../../shared/stages';
import { OLD_CPU_PATH } from '../../shared/bench-old-cpu-path';
import type {
  BlockKey,
  Claim,
  ConversationRange,
  FanoutItem,
  FanoutStage,
  FriendKey,
  LedgerCounts,
  LedgerEntry,
  LedgerRecord,
  LedgerStage,
  RoundLateMessage,
  RoundOpItem,
  RoundRecord,
  RoundWork,
  StageRoundInput,
  LedgerStatus,
  LedgerWrite,
  MessageOwner,
  MigrationStore,
  OpenStagingOptions,
  StagedBlock,
  StagedFriend,
  StagedGroup,
  StagedGroupMember,
  StagedGroupMessage,
  StagedPeerMessage,
  StagedUser,
  StagedUserRelations,
  StageWork,
  StagingMeta,
  VerifyPage,
  StagedReadState,
} from '../migration-store';
import { PAGE_SIZE } from '../page-sizes';
import {
  blockOf,
  entryOf,
  friendOf,
  groupOf,
  memberOf,
  messageFields,
  readStateOf,
  readStatePageRange,
  userOf,
  type Row,
} from '../staged-rows';
import { VerifyOrderMemo, type VerifyPageRef } from '../verify-page-order';
import { prepareForMigration } from './call-batches';
import { openDatabase, type Db } from './database';
import { MIGRATION_META_KEY, STAGING_FORMAT_VERSION } from './schema';
import { readRounds, ROUND_SCHEMA, stageRoundSqlite } from './stage-round';

const str = (v: unknown) => v as string;

/** A group with its admin and nickname counts (the steps of its setup). */
const GROUP_SELECT = `SELECT g.*,
  (SELECT count(*) FROM group_members m WHERE m.grp = g.id AND m.role = 'admin') AS admin_count,
  (SELECT count(*) FROM group_members m WHERE m.grp = g.id AND m.nickname IS NOT NULL AND m.nickname <> '')
    AS nickname_count
  FROM groups g`;
const NICKNAMED = `nickname IS NOT NULL AND nickname <> ''`;
const PEER_MESSAGE = `SELECT c.id AS cid, c.peer, m.src, m.f, m.t, m.sent, m.type, m.sub_type, m.body, m.searched
  FROM peer_copies c JOIN peer_messages m ON m.id = c.msg`;
const GROUP_MESSAGE = `SELECT s.id AS sid, m.src, m.grp, m.f, m.sent, m.type, m.sub_type, m.body, m.searched
  FROM group_seq s JOIN group_messages m ON m.id = s.msg`;

export class SqliteMigrationStore implements MigrationStore {
  private readonly statements = new Map<string, Statement<unknown[]>>();
  private readonly tables = new Set<string>();

  private constructor(
    private readonly db: Db,
    private readonly readonly: boolean
  ) {}

  /** Opens a staging file written by `zim-migrate plan`; a writable open readies it for the migration first. */
  static open(file: string, options: OpenStagingOptions = {}): SqliteMigrationStore {
    const readonly = options.readonly ?? false;
    let db: Db | undefined;
    try {
      db = openDatabase(file, readonly);
      const version = (db.prepare(`SELECT value FROM meta WHERE key = 'formatVersion'`).get() as Row | undefined)
        ?.value;
      if (version !== String(STAGING_FORMAT_VERSION)) throw notStaging(file, version);
      if (!readonly) prepareForMigration(db);
      return new SqliteMigrationStore(db, readonly);
    } catch (err) {
      db?.close();
      if ((err as { code?: string }).code === 'SQLITE_NOTADB') throw notStaging(file, undefined);
      if ((err as { code?: string }).code === 'SQLITE_ERROR' && /no such table: meta/.test(String(err)))
        throw notStaging(file, undefined);
      throw err;
    }
  }

  /** A prepared statement, prepared on first use (a read-only open never prepares what needs the migration's tables). */
  private sql(text: string): Statement<unknown[]> {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare<unknown[]>(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private writable(): void {
    if (this.readonly) throw new Error('the staging store was opened read-only');
  }

  /**
   * Whether a table exists yet. Only found tables are remembered (they are never dropped once there): the call gate
   * asks before every message import, and sqlite_master is read by a scan.
   */
  private hasTable(name: string): boolean {
    if (this.tables.has(name) && !OLD_CPU_PATH) return true;
    const found = this.sql(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
    if (found) this.tables.add(name);
    return found;
  }

  // The staging data and the migration running from it.

  async meta(): Promise<StagingMeta> {
    return JSON.parse(str((this.sql(`SELECT value FROM meta WHERE key = 'meta'`).get() as Row).value)) as StagingMeta;
  }

  async stageWork(): Promise<Record<Stage, StageWork>> {
    const { counts, plan } = await this.meta();
    const pages = (kind: string) =>
      (this.sql(`SELECT count(*) AS n FROM zm_call_batches WHERE kind = ?`).get(kind) as { n: number }).n;
    // Files staged before these counts were kept: count them here.
    const lists = this.sql(
      `SELECT (SELECT count(*) FROM (SELECT user FROM friends UNION SELECT friend FROM friends)) AS friendListUsers,
         (SELECT count(DISTINCT user) FROM blocks) AS blockListUsers`
    ).get() as { friendListUsers: number; blockListUsers: number };
    const planned = plannedRecords({ ...lists, ...counts });
    const pagesOf: Partial<Record<Stage, number>> = {
      accounts: pages('users'),
      profiles: pages('profiles'),
      friends: pages('friends'),
      blocks: pages('blocks'),
      'read-state': Math.ceil(this.readStateCount() / PAGE_SIZE.readStates),
      verify: pages('verify-owners') + pages('verify-groups') + pages('users'),
    };
    return Object.fromEntries(
      STAGES.map((stage): [Stage, StageWork] => [
        stage,
        {
          planned: planned[stage],
          pages: pagesOf[stage] ?? 0,
          calls: stageCalls(plan.actions, stage),
          actions: stageActions(plan.actions, stage),
          ...(plan.stepMs !== undefined && { stepMs: plan.stepMs }),
        },
      ])
    ) as Record<Stage, StageWork>;
  }

  async recordMigration(migrationId: string): Promise<void> {
    this.writable();
    this.sql(`INSERT OR REPLACE INTO zm_meta(key, value) VALUES ('${MIGRATION_META_KEY}', ?)`).run(migrationId);
  }

  async lastMigration(): Promise<string | null> {
    // zm_meta exists once a worker has opened the file (call-batches.ts).
    if (!this.hasTable('zm_meta')) return null;
    const row = this.sql(`SELECT value FROM zm_meta WHERE key = ?`).get(MIGRATION_META_KEY) as Row | undefined;
    return row ? str(row.value) : null;
  }

  // Staged data by cursor.

  async readUsers(afterUserId: string | null, limit: number): Promise<StagedUser[]> {
    return (
      this.sql(`SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?`).all(afterUserId ?? '', limit) as Row[]
    ).map(userOf);
  }

  async readFriends(after: FriendKey | null, limit: number): Promise<StagedFriend[]> {
    const rows = this.sql(`SELECT * FROM friends WHERE (user, friend) > (?, ?) ORDER BY user, friend LIMIT ?`).all(
      after?.user ?? '',
      after?.friend ?? '',
      limit
    ) as Row[];
    return rows.map(friendOf);
  }

  async readBlocks(after: BlockKey | null, limit: number): Promise<StagedBlock[]> {
    const rows = this.sql(`SELECT * FROM blocks WHERE (user, blocked) > (?, ?) ORDER BY user, blocked LIMIT ?`).all(
      after?.user ?? '',
      after?.blocked ?? '',
      limit
    ) as Row[];
    return rows.map(blockOf);
  }

  async readGroups(afterGroupId: string | null, limit: number): Promise<StagedGroup[]> {
    const rows = this.sql(`${GROUP_SELECT} WHERE g.id > ? ORDER BY g.id LIMIT ?`).all(afterGroupId ?? '', limit);
    return (rows as Row[]).map(groupOf);
  }

  async readGroupMembers(groupId: string, afterUserId: string | null, limit: number): Promise<StagedGroupMember[]> {
    const rows = this.sql(`SELECT * FROM group_members WHERE grp = ? AND user > ? ORDER BY user LIMIT ?`).all(
      groupId,
      afterUserId ?? '',
      limit
    );
    return (rows as Row[]).map(memberOf);
  }

  async readOwners(afterUserId: string | null, limit: number): Promise<MessageOwner[]> {
    const rows = this.sql(`SELECT * FROM owners WHERE user > ? ORDER BY user LIMIT ?`).all(afterUserId ?? '', limit);
    return (rows as Row[]).map((r) => ({
      user: str(r.user),
      messageCount: r.n as number,
      peerCount: r.peers as number,
    }));
  }

  async readOwnerMessages(owner: string, afterSeq: number | null, limit: number): Promise<StagedPeerMessage[]> {
    const { first, n } = this.ownerRange(owner);
    const from = first + (afterSeq === null ? 0 : afterSeq + 1);
    return this.peerMessages(first, from, first + n, limit);
  }

  async readGroupMessages(groupId: string, afterSeq: number | null, limit: number): Promise<StagedGroupMessage[]> {
    const { first, n } = this.groupRange(groupId);
    const from = first + (afterSeq === null ? 0 : afterSeq + 1);
    return this.groupMessagesIn(first, from, first + n, limit);
  }

  // Staged data by address.

  /** Where page `page` of a kind starts in zm_call_batches. */
  private pageStart(kind: string, page: number): { owner: string | null; first_key: string } | undefined {
    return this.sql(`SELECT owner, first_key FROM zm_call_batches WHERE kind = ? AND batch = ?`).get(kind, page) as
      { owner: string | null; first_key: string } | undefined;
  }

  private pageCount(kind: string): number {
    return (this.sql(`SELECT count(*) AS n FROM zm_call_batches WHERE kind = ?`).get(kind) as { n: number }).n;
  }

  async accountsPage(page: number): Promise<StagedUser[]> {
    const start = this.pageStart('users', page);
    if (!start) return [];
    const rows = this.sql(`SELECT * FROM users WHERE id >= ? ORDER BY id LIMIT ?`).all(
      start.first_key,
      PAGE_SIZE.accounts
    );
    return (rows as Row[]).map(userOf);
  }

  async profilesPage(page: number): Promise<StagedUser[]> {
    const start = this.pageStart('profiles', page);
    if (!start) return [];
    const rows = this.sql(`SELECT * FROM users WHERE id >= ? AND extended_data IS NOT NULL ORDER BY id LIMIT ?`).all(
      start.first_key,
      PAGE_SIZE.profiles
    );
    return (rows as Row[]).map(userOf);
  }

  async friendsPage(page: number): Promise<StagedFriend[]> {
    const start = this.pageStart('friends', page);
    if (!start?.owner) return [];
    const rows = this.sql(`SELECT * FROM friends WHERE user = ? AND friend >= ? ORDER BY friend LIMIT ?`).all(
      start.owner,
      start.first_key,
      PAGE_SIZE.friends
    );
    return (rows as Row[]).map(friendOf);
  }

  async blocksPage(page: number): Promise<StagedBlock[]> {
    const start = this.pageStart('blocks', page);
    if (!start?.owner) return [];
    const rows = this.sql(`SELECT * FROM blocks WHERE user = ? AND blocked >= ? ORDER BY blocked LIMIT ?`).all(
      start.owner,
      start.first_key,
      PAGE_SIZE.blocks
    );
    return (rows as Row[]).map(blockOf);
  }

  /** Files staged before read states have no table (opened read-only, it was not added). */
  private readStateCount(): number {
    if (!this.hasTable('read_states')) return 0;
    return (this.sql(`SELECT count(*) AS n FROM read_states`).get() as { n: number }).n;
  }

  async readStatePage(page: number): Promise<StagedReadState[]> {
    if (!this.hasTable('read_states')) return [];
    const [after, last] = readStatePageRange(page, PAGE_SIZE.readStates);
    const rows = this.sql(`SELECT user, kind, conv, msg FROM read_states WHERE id > ? AND id <= ? ORDER BY id`).all(
      after,
      last
    );
    return (rows as Row[]).map(readStateOf);
  }

  /** Verify's pages in stage order (verify-page-order.ts), as the pages are now (a round rebuilds them). */
  private readonly verifyOrder = new VerifyOrderMemo();

  private async verifyPageOrder(): Promise<VerifyPageRef[]> {
    const counts = new Map(VerifyOrderMemo.pageKinds.map((k) => [k, this.pageCount(k)] as const));
    return this.verifyOrder.get((await this.meta()).plan.actions, counts);
  }

  async verifyPage(page: number): Promise<VerifyPage> {
    const ref = (await this.verifyPageOrder())[page];
    const none: VerifyPage = { owners: [], groups: [], users: [] };
    if (!ref) return none;
    const ids = (kind: string, sql: string) => {
      const start = this.pageStart(kind, ref.index)!;
      return (this.sql(sql).all(start.first_key, PAGE_SIZE.verify) as Row[]).map((r) => str(Object.values(r)[0]));
    };
    if (ref.kind === 'owners')
      return { ...none, owners: ids('verify-owners', `SELECT user FROM owners WHERE user >= ? ORDER BY user LIMIT ?`) };
    if (ref.kind === 'groups')
      return { ...none, groups: ids('verify-groups', `SELECT id FROM groups WHERE id >= ? ORDER BY id LIMIT ?`) };
    return { ...none, users: await this.accountsPage(ref.index) };
  }

  async userRelations(userIds: string[]): Promise<Map<string, StagedUserRelations>> {
    const column = (sql: string, user: string) =>
      (this.sql(sql).all(user) as Row[]).map((r) => str(Object.values(r)[0]));
    return new Map(
      userIds.map((u) => [
        u,
        {
          friends: column(`SELECT friend FROM friends WHERE user = ? ORDER BY friend`, u),
          friendOf: column(`SELECT user FROM friends WHERE friend = ? ORDER BY user`, u),
          blocked: column(`SELECT blocked FROM blocks WHERE user = ? ORDER BY blocked`, u),
        },
      ])
    );
  }

  async fanoutItems(stage: FanoutStage, after: string | null, limit: number): Promise<FanoutItem[]> {
    const query = {
      'peer-messages': `SELECT user AS id, n AS planned FROM owners WHERE user > ? ORDER BY user LIMIT ?`,
      // A group child lands its memberships, admin roles and nicknames.
      groups: `SELECT id, member_count + (SELECT count(*) FILTER (WHERE role = 'admin')
             + count(*) FILTER (WHERE ${NICKNAMED}) FROM group_members WHERE grp = g.id) AS planned
         FROM groups g WHERE id > ? ORDER BY id LIMIT ?`,
      // A muted group's child ends with one more step: MuteGroup.
      'group-messages': `SELECT id, message_count + muted AS planned FROM groups WHERE id > ?
         AND (message_count > 0 OR muted = 1)
         ORDER BY id LIMIT ?`,
    }[stage];
    return this.sql(query).all(after ?? '', limit) as FanoutItem[];
  }

  private ownerRange(owner: string): { first: number; n: number } {
    return (
      (this.sql(`SELECT first, n FROM owners WHERE user = ?`).get(owner) as
        { first: number; n: number } | undefined) ?? {
        first: 0,
        n: 0,
      }
    );
  }

  /** Copies [from, to) of an owner's run that starts at `first`. */
  private peerMessages(first: number, from: number, to: number, limit: number): StagedPeerMessage[] {
    const rows = this.sql(`${PEER_MESSAGE} WHERE c.id >= ? AND c.id < ? ORDER BY c.id LIMIT ?`).all(from, to, limit);
    return (rows as Row[]).map((r) => ({
      seq: (r.cid as number) - first,
      peer: str(r.peer),
      ...messageFields(r),
      to: str(r.t),
    }));
  }

  async countOwnerMessages(owner: string): Promise<number> {
    return this.ownerRange(owner).n;
  }

  async ownerConversationRanges(owner: string): Promise<ConversationRange[]> {
    const { first, n } = this.ownerRange(owner);
    const rows = this.sql(
      `SELECT peer, min(id) AS first_id, count(*) AS n FROM peer_copies WHERE id >= ? AND id < ?
       GROUP BY peer ORDER BY first_id`
    ).all(first, first + n) as Row[];
    return rows.map((r) => ({ peer: str(r.peer), start: (r.first_id as number) - first, count: r.n as number }));
  }

  async ownerMessage(owner: string, seq: number): Promise<StagedPeerMessage | null> {
    const { first, n } = this.ownerRange(owner);
    if (seq < 0 || seq >= n) return null;
    return this.peerMessages(first, first + seq, first + seq + 1, 1)[0] ?? null;
  }

  async ownerConversations(owner: string): Promise<Map<string, StagedPeerMessage[]>> {
    const { first, n } = this.ownerRange(owner);
    const byPeer = new Map<string, StagedPeerMessage[]>();
    for (const m of this.peerMessages(first, first, first + n, n)) {
      const list = byPeer.get(m.peer) ?? [];
      list.push(m);
      byPeer.set(m.peer, list);
    }
    return byPeer;
  }

  async group(groupId: string): Promise<StagedGroup | null> {
    const row = this.sql(`${GROUP_SELECT} WHERE g.id = ?`).get(groupId) as Row | undefined;
    return row ? groupOf(row) : null;
  }

  async groupMembers(groupId: string, offset: number, limit: number): Promise<StagedGroupMember[]> {
    const rows = this.sql(
      `SELECT m.* FROM group_members m JOIN groups g ON g.id = m.grp WHERE m.grp = ? AND m.user <> g.owner
       ORDER BY m.user LIMIT ? OFFSET ?`
    ).all(groupId, limit, offset);
    return (rows as Row[]).map(memberOf);
  }

  async groupAdmins(groupId: string, offset: number, limit: number): Promise<StagedGroupMember[]> {
    const rows = this.sql(
      `SELECT * FROM group_members WHERE grp = ? AND role = 'admin' ORDER BY user LIMIT ? OFFSET ?`
    ).all(groupId, limit, offset);
    return (rows as Row[]).map(memberOf);
  }

  async groupNicknames(groupId: string, offset: number, limit: number): Promise<StagedGroupMember[]> {
    const rows = this.sql(
      `SELECT * FROM group_members WHERE grp = ? AND ${NICKNAMED} ORDER BY user LIMIT ? OFFSET ?`
    ).all(groupId, limit, offset);
    return (rows as Row[]).map(memberOf);
  }

  private groupRange(groupId: string): { first: number; n: number } {
    const g = this.sql(`SELECT first_msg, message_count FROM groups WHERE id = ?`).get(groupId) as
      { first_msg: number | null; message_count: number } | undefined;
    return g && g.first_msg !== null ? { first: g.first_msg, n: g.message_count } : { first: 0, n: 0 };
  }

  /** Messages [from, to) of the group's run that starts at `first`. */
  private groupMessagesIn(first: number, from: number, to: number, limit: number): StagedGroupMessage[] {
    const rows = this.sql(`${GROUP_MESSAGE} WHERE s.id >= ? AND s.id < ? ORDER BY s.id LIMIT ?`).all(from, to, limit);
    return (rows as Row[]).map((r) => ({ seq: (r.sid as number) - first, groupId: str(r.grp), ...messageFields(r) }));
  }

  async countGroupMessages(groupId: string): Promise<number> {
    return this.groupRange(groupId).n;
  }

  async groupMuted(groupId: string): Promise<boolean> {
    return this.sql(`SELECT muted FROM groups WHERE id = ?`).pluck().get(groupId) === 1;
  }

  async groupMessage(groupId: string, seq: number): Promise<StagedGroupMessage | null> {
    const { first, n } = this.groupRange(groupId);
    if (seq < 0 || seq >= n) return null;
    return this.groupMessagesIn(first, first + seq, first + seq + 1, 1)[0] ?? null;
  }

  async groupMessages(groupId: string): Promise<StagedGroupMessage[]> {
    const { first, n } = this.groupRange(groupId);
    return this.groupMessagesIn(first, first, first + n, n);
  }

  // Catch-up rounds.

  async rounds(): Promise<RoundRecord[]> {
    if (this.readonly && !this.hasTable('zm_rounds')) return [];
    return readRounds(this.db);
  }

  async stageRound(input: StageRoundInput): Promise<RoundRecord> {
    this.writable();
    this.statements.clear(); // the read tables are rewritten
    return stageRoundSqlite(this.db, input);
  }

  async setRoundState(round: number, state: RoundState): Promise<void> {
    this.writable();
    this.db.exec(ROUND_SCHEMA);
    const now = Date.now();
    this.sql(
      `UPDATE zm_rounds SET state = ?,
         started_at = CASE WHEN ? = 'running' THEN coalesce(started_at, ?) ELSE started_at END,
         finished_at = CASE WHEN ? IN ('done', 'cancelled') THEN ? ELSE NULL END WHERE round = ?`
    ).run(state, state, now, state, now, round);
  }

  async roundWork(round: number): Promise<RoundWork> {
    const ops = new Map(
      (
        this.sql(
          `SELECT op, count(DISTINCT page) AS pages, count(*) AS items FROM zm_round_ops WHERE round = ?
          GROUP BY op`
        ).all(round) as { op: RoundOp; pages: number; items: number }[]
      ).map((r) => [r.op, r])
    );
    const fanout = (stage: FanoutStage) =>
      this.sql(
        `SELECT count(*) AS items, coalesce(sum(planned), 0) AS planned FROM zm_round_items WHERE round = ? AND stage = ?`
      ).get(round, stage) as { items: number; planned: number };
    return {
      ops: ROUND_OPS.map((op) => ops.get(op) ?? { op, pages: 0, items: 0 }),
      fanout: {
        groups: fanout('groups'),
        'peer-messages': fanout('peer-messages'),
        'group-messages': fanout('group-messages'),
      },
    };
  }

  async roundOpPage(round: number, op: RoundOp, page: number): Promise<RoundOpItem[]> {
    const rows = this.sql(
      `SELECT target, key, data FROM zm_round_ops WHERE round = ? AND op = ? AND page = ? ORDER BY target, key`
    ).all(round, op, page) as { target: string; key: string; data: string }[];
    return rows.map((r) => ({ target: r.target, key: r.key, data: JSON.parse(r.data) as Record<string, unknown> }));
  }

  async roundFanoutItems(
    round: number,
    stage: FanoutStage,
    after: string | null,
    limit: number
  ): Promise<FanoutItem[]> {
    return this.sql(
      `SELECT id, planned, start FROM zm_round_items WHERE round = ? AND stage = ? AND id > ? ORDER BY id LIMIT ?`
    ).all(round, stage, after ?? '', limit) as FanoutItem[];
  }

  async roundConversationRanges(round: number, owner: string): Promise<ConversationRange[]> {
    const { first, n } = this.ownerRange(owner);
    const rows = this.sql(
      `SELECT peer, min(id) AS first_id, count(*) AS n FROM peer_copies WHERE id >= ? AND id < ?
         AND msg >= (SELECT first_peer_msg FROM zm_rounds WHERE round = ?)
       GROUP BY peer ORDER BY first_id`
    ).all(first, first + n, round) as Row[];
    return rows.map((r) => ({ peer: str(r.peer), start: (r.first_id as number) - first, count: r.n as number }));
  }

  async roundLate(round: number, limit: number): Promise<RoundLateMessage[]> {
    return this.sql(
      `SELECT src AS sourceId, conversation, sent AS sentAt, newest AS newestAt FROM zm_round_late WHERE round = ?
       ORDER BY sent LIMIT ?`
    ).all(round, limit) as RoundLateMessage[];
  }

  // The ledger.

  async ledgerGet(stage: LedgerStage, keys: string[]): Promise<Map<string, LedgerEntry>> {
    const found = new Map<string, LedgerEntry>();
    const get = this.sql(`SELECT * FROM ledger WHERE stage = ? AND key = ?`);
    for (const key of keys) {
      const r = get.get(stage, key) as Row | undefined;
      if (r) found.set(key, entryOf(r));
    }
    return found;
  }

  async ledgerPut(stage: LedgerStage, rows: readonly LedgerWrite[]): Promise<void> {
    this.writable();
    const put = this.sql(
      `INSERT INTO ledger(stage, key, status, zim_code, zim_message, msg_id, msg_seq, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(stage, key) DO UPDATE SET status = excluded.status, zim_code = excluded.zim_code,
         zim_message = excluded.zim_message, msg_id = excluded.msg_id, msg_seq = excluded.msg_seq, at = excluded.at,
         lease_token = NULL, lease_until = NULL`
    );
    const at = Date.now();
    this.db.transaction(() => {
      for (const r of rows)
        put.run(stage, r.key, r.status, r.zimCode ?? null, r.zimMessage ?? null, r.msgId ?? null, r.msgSeq ?? null, at);
    })();
  }

  async ledgerClaim(stage: LedgerStage, key: string, token: string, leaseMs: number): Promise<Claim> {
    this.writable();
    const read = this.sql(`SELECT * FROM ledger WHERE stage = ? AND key = ?`);
    const take = this.sql(
      `INSERT INTO ledger(stage, key, status, at, lease_token, lease_until) VALUES (?, ?, 'pending', ?, ?, ?)
       ON CONFLICT(stage, key) DO UPDATE SET status = 'pending', at = excluded.at, lease_token = excluded.lease_token,
         lease_until = excluded.lease_until`
    );
    // IMMEDIATE: the read and the write are one step, so two attempts never both claim.
    return this.db
      .transaction((): Claim => {
        const now = Date.now();
        const r = read.get(stage, key) as Row | undefined;
        if (!r) {
          take.run(stage, key, now, token, now + leaseMs);
          return { claimed: true, previous: null };
        }
        const { status, msgSeq, zimCode } = entryOf(r);
        const entry: LedgerEntry = {
          status,
          ...(msgSeq !== undefined && { msgSeq }),
          ...(zimCode !== undefined && { zimCode }),
        };
        if (entry.status !== 'pending') return { claimed: false, current: entry };
        if (r.lease_token !== token && r.lease_until != null && (r.lease_until as number) > now)
          return { claimed: false, current: entry };
        take.run(stage, key, now, token, now + leaseMs);
        return { claimed: true, previous: entry };
      })
      .immediate();
  }

  async ledgerRenew(stage: LedgerStage, key: string, token: string, leaseMs: number): Promise<boolean> {
    this.writable();
    return (
      this.sql(
        `UPDATE ledger SET lease_until = ? WHERE stage = ? AND key = ? AND status = 'pending' AND lease_token = ?`
      ).run(Date.now() + leaseMs, stage, key, token).changes === 1
    );
  }

  async ledgerRelease(stage: LedgerStage, key: string, token: string): Promise<void> {
    this.writable();
    this.sql(
      `UPDATE ledger SET lease_until = NULL WHERE stage = ? AND key = ? AND status = 'pending' AND lease_token = ?`
    ).run(stage, key, token);
  }

  async ledgerCounts(): Promise<LedgerCounts> {
    // A read-only open of a file no worker has readied yet counts the ledger itself.
    const rows = this.hasTable('zm_ledger_counts')
      ? this.sql(`SELECT stage, status, n FROM zm_ledger_counts WHERE n > 0`).all()
      : this.sql(`SELECT stage, status, count(*) AS n FROM ledger GROUP BY stage, status`).all();
    const counts: LedgerCounts = {};
    for (const r of rows as { stage: Stage; status: LedgerStatus; n: number }[])
      (counts[r.stage] ??= { pending: 0, done: 0, failed: 0, skipped: 0 })[r.status] = r.n;
    return counts;
  }

  async readLedger(stage: LedgerStage, afterKey: string | null, limit: number): Promise<LedgerRecord[]> {
    const rows = this.sql(`SELECT * FROM ledger WHERE stage = ? AND key > ? ORDER BY key LIMIT ?`).all(
      stage,
      afterKey ?? '',
      limit
    );
    return (rows as Row[]).map((r) => ({
      stage: r.stage as Stage,
      key: str(r.key),
      ...entryOf(r),
      at: r.at as number,
    }));
  }

  // The call gate.

  async callGateOpen(): Promise<boolean> {
    if (!this.hasTable('zm_meta')) return true;
    return (this.sql(`SELECT value FROM zm_meta WHERE key = 'call_gate'`).get() as Row | undefined)?.value !== 'closed';
  }

  async setCallGate(open: boolean): Promise<void> {
    this.writable();
    this.sql(`INSERT OR REPLACE INTO zm_meta(key, value) VALUES ('call_gate', ?)`).run(open ? 'open' : 'closed');
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function notStaging(file: string, version: unknown): Error {
  const found = typeof version === 'string' ? `format ${version}` : 'no staging format';
  return new Error(
    `${file} is not a staging file of format ${STAGING_FORMAT_VERSION} (${found}); build it with zim-migrate plan`
  );
}
