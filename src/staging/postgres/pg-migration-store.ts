/**
 * MigrationStore over PostgreSQL, shared by workers on several machines (docs/staging.md). The same tables, orders
 * and page index as the SQLite engine, so a workflow cannot tell them apart; what differs is how the ledger stays
 * exactly-once across machines: a claim is one INSERT … ON CONFLICT … DO UPDATE … WHERE statement (the row lock
 * decides between racing attempts, never a read followed by a write), and leases end by the database's clock.
 */
import { plannedRecords, stageActions, stageCalls } from '../../shared/migration-plan';
import { ROUND_OPS, type RoundOp, type RoundState } from '../../shared/rounds';
import { STAGES, type Stage } from '../../shared/stages';
import type { Database } from '../../postgres/database';
import { applySchema } from '../../postgres/schema-migrations';
import { PgCallGate } from '../../rate-limit/pg-call-gate';
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
  LedgerStatus,
  RoundLateMessage,
  RoundOpItem,
  RoundRecord,
  RoundWork,
  StageRoundInput,
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
import { VerifyOrderMemo } from '../verify-page-order';
import { MIGRATION_META_KEY, STAGING_FORMAT_VERSION } from '../sqlite/schema';
import { roundOf } from '../sqlite/stage-round';
import { stageRoundPg } from './pg-stage-round';
import { STAGING_COMPONENT, STAGING_SCHEMA } from './schema';
import { ensureSchema, openStagingDatabase } from './staging-database';

const str = (v: unknown) => v as string;
/** The database's clock in epoch ms: ledger times come from one clock whatever machine writes them. */
const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;

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

export class PgMigrationStore implements MigrationStore {
  private constructor(
    private readonly db: Database,
    private readonly schema: string,
    private readonly gate: PgCallGate | null,
    private readonly readonly: boolean,
    /** Where it is: staging a round snapshots it over a connection of its own. */
    private readonly url: string,
    private readonly env: NodeJS.ProcessEnv
  ) {}

  /**
   * Opens the staged migration at `url`; a writable open applies the schema steps first (idempotent, safe when
   * several workers start at once). The URL may name a schema (`?schema=`); the password comes from the environment.
   */
  static async open(url: string, options: OpenStagingOptions = {}, env = process.env): Promise<PgMigrationStore> {
    const { db, schema } = openStagingDatabase(url, env);
    const readonly = options.readonly ?? false;
    try {
      if (!readonly) {
        await ensureSchema(db, schema);
        await applySchema(db.pool, STAGING_COMPONENT, STAGING_SCHEMA);
      }
      const store = new PgMigrationStore(db, schema, readonly ? null : await PgCallGate.open(db), readonly, url, env);
      const version = await store.formatVersion();
      if (version !== String(STAGING_FORMAT_VERSION)) {
        const found = version === null ? 'nothing staged' : `format ${version}`;
        throw new Error(
          `${db.safeUrl} (schema ${schema}) holds no staged migration of format ${STAGING_FORMAT_VERSION} ` +
            `(${found}); copy one in with zim-migrate staging copy <file.sqlite> <url>`
        );
      }
      return store;
    } catch (err) {
      await db.close();
      if (err instanceof Error && err.message.startsWith(db.safeUrl)) throw err;
      // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
      throw new Error(`staging: ${db.describe(err)}`);
    }
  }

  /** The staging format recorded in meta; null when the schema holds no staging. */
  private async formatVersion(): Promise<string | null> {
    const { rows } = await this.db.pool.query<{ t: string | null }>(`SELECT to_regclass('meta')::text AS t`);
    if (rows[0]?.t == null) return null;
    const meta = await this.db.pool.query<Row>(`SELECT value FROM meta WHERE key = 'formatVersion'`);
    return meta.rows[0] ? str(meta.rows[0].value) : null;
  }

  private async rows(text: string, values: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.db.pool.query<Row>(text, values)).rows;
    } catch (err) {
      // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
      throw new Error(`staging: ${this.db.describe(err)}`);
    }
  }

  private writable(): void {
    if (this.readonly) throw new Error('the staging store was opened read-only');
  }

  // The staging data and the migration running from it.

  async meta(): Promise<StagingMeta> {
    return JSON.parse(str((await this.rows(`SELECT value FROM meta WHERE key = 'meta'`))[0]!.value)) as StagingMeta;
  }

  private async pageCounts(): Promise<Map<string, number>> {
    const rows = await this.rows(`SELECT kind, count(*) AS n FROM zm_call_batches GROUP BY kind`);
    return new Map(rows.map((r) => [str(r.kind), r.n as number]));
  }

  async stageWork(): Promise<Record<Stage, StageWork>> {
    const { counts, plan } = await this.meta();
    const pages = await this.pageCounts();
    const page = (kind: string) => pages.get(kind) ?? 0;
    const [lists] = (await this.rows(
      `SELECT (SELECT count(*) FROM (SELECT "user" FROM friends UNION SELECT friend FROM friends) u)
           AS "friendListUsers",
         (SELECT count(DISTINCT "user") FROM blocks) AS "blockListUsers"`
    )) as [{ friendListUsers: number; blockListUsers: number }];
    const planned = plannedRecords({ ...lists, ...counts });
    const pagesOf: Partial<Record<Stage, number>> = {
      accounts: page('users'),
      profiles: page('profiles'),
      friends: page('friends'),
      blocks: page('blocks'),
      'read-state': Math.ceil(
        Number((await this.rows(`SELECT count(*) AS n FROM read_states`))[0]?.n ?? 0) / PAGE_SIZE.readStates
      ),
      verify: page('verify-owners') + page('verify-groups') + page('users'),
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
    await this.rows(
      `INSERT INTO zm_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [MIGRATION_META_KEY, migrationId]
    );
  }

  async lastMigration(): Promise<string | null> {
    const [row] = await this.rows(`SELECT value FROM zm_meta WHERE key = $1`, [MIGRATION_META_KEY]);
    return row ? str(row.value) : null;
  }

  // Staged data by cursor.

  async readUsers(afterUserId: string | null, limit: number): Promise<StagedUser[]> {
    return (await this.rows(`SELECT * FROM users WHERE id > $1 ORDER BY id LIMIT $2`, [afterUserId ?? '', limit])).map(
      userOf
    );
  }

  async readFriends(after: FriendKey | null, limit: number): Promise<StagedFriend[]> {
    const rows = await this.rows(
      `SELECT * FROM friends WHERE ("user", friend) > ($1, $2) ORDER BY "user", friend LIMIT $3`,
      [after?.user ?? '', after?.friend ?? '', limit]
    );
    return rows.map(friendOf);
  }

  async readBlocks(after: BlockKey | null, limit: number): Promise<StagedBlock[]> {
    const rows = await this.rows(
      `SELECT * FROM blocks WHERE ("user", blocked) > ($1, $2) ORDER BY "user", blocked LIMIT $3`,
      [after?.user ?? '', after?.blocked ?? '', limit]
    );
    return rows.map(blockOf);
  }

  async readGroups(afterGroupId: string | null, limit: number): Promise<StagedGroup[]> {
    return (await this.rows(`${GROUP_SELECT} WHERE g.id > $1 ORDER BY g.id LIMIT $2`, [afterGroupId ?? '', limit])).map(
      groupOf
    );
  }

  async readGroupMembers(groupId: string, afterUserId: string | null, limit: number): Promise<StagedGroupMember[]> {
    const rows = await this.rows(
      `SELECT * FROM group_members WHERE grp = $1 AND "user" > $2 ORDER BY "user" LIMIT $3`,
      [groupId, afterUserId ?? '', limit]
    );
    return rows.map(memberOf);
  }

  async readOwners(afterUserId: string | null, limit: number): Promise<MessageOwner[]> {
    const rows = await this.rows(`SELECT * FROM owners WHERE "user" > $1 ORDER BY "user" LIMIT $2`, [
      afterUserId ?? '',
      limit,
    ]);
    return rows.map((r) => ({ user: str(r.user), messageCount: r.n as number, peerCount: r.peers as number }));
  }

  async readOwnerMessages(owner: string, afterSeq: number | null, limit: number): Promise<StagedPeerMessage[]> {
    const { first, n } = await this.ownerRange(owner);
    const from = first + (afterSeq === null ? 0 : afterSeq + 1);
    return this.peerMessages(first, from, first + n, limit);
  }

  async readGroupMessages(groupId: string, afterSeq: number | null, limit: number): Promise<StagedGroupMessage[]> {
    const { first, n } = await this.groupRange(groupId);
    const from = first + (afterSeq === null ? 0 : afterSeq + 1);
    return this.groupMessagesIn(first, from, first + n, limit);
  }

  // Staged data by address.

  private async pageStart(
    kind: string,
    page: number
  ): Promise<{ owner: string | null; first_key: string } | undefined> {
    const [row] = await this.rows(`SELECT owner, first_key FROM zm_call_batches WHERE kind = $1 AND batch = $2`, [
      kind,
      page,
    ]);
    return row as { owner: string | null; first_key: string } | undefined;
  }

  async accountsPage(page: number): Promise<StagedUser[]> {
    const start = await this.pageStart('users', page);
    if (!start) return [];
    const rows = await this.rows(`SELECT * FROM users WHERE id >= $1 ORDER BY id LIMIT $2`, [
      start.first_key,
      PAGE_SIZE.accounts,
    ]);
    return rows.map(userOf);
  }

  async profilesPage(page: number): Promise<StagedUser[]> {
    const start = await this.pageStart('profiles', page);
    if (!start) return [];
    const rows = await this.rows(
      `SELECT * FROM users WHERE id >= $1 AND extended_data IS NOT NULL ORDER BY id LIMIT $2`,
      [start.first_key, PAGE_SIZE.profiles]
    );
    return rows.map(userOf);
  }

  async friendsPage(page: number): Promise<StagedFriend[]> {
    const start = await this.pageStart('friends', page);
    if (!start?.owner) return [];
    const rows = await this.rows(`SELECT * FROM friends WHERE "user" = $1 AND friend >= $2 ORDER BY friend LIMIT $3`, [
      start.owner,
      start.first_key,
      PAGE_SIZE.friends,
    ]);
    return rows.map(friendOf);
  }

  async blocksPage(page: number): Promise<StagedBlock[]> {
    const start = await this.pageStart('blocks', page);
    if (!start?.owner) return [];
    const rows = await this.rows(`SELECT * FROM blocks WHERE "user" = $1 AND blocked >= $2 ORDER BY blocked LIMIT $3`, [
      start.owner,
      start.first_key,
      PAGE_SIZE.blocks,
    ]);
    return rows.map(blockOf);
  }

  async readStatePage(page: number): Promise<StagedReadState[]> {
    const [after, last] = readStatePageRange(page, PAGE_SIZE.readStates);
    const rows = await this.rows(
      `SELECT "user", kind, conv, msg FROM read_states WHERE id > $1 AND id <= $2 ORDER BY id`,
      [after, last]
    );
    return rows.map(readStateOf);
  }

  /** Verify's pages in stage order (verify-page-order.ts), as the SQLite engine orders them, as the pages are now. */
  private readonly verifyOrder = new VerifyOrderMemo();

  async verifyPage(page: number): Promise<VerifyPage> {
    const counted = await this.rows(
      `SELECT kind, count(*) AS n FROM zm_call_batches WHERE kind = ANY($1) GROUP BY kind`,
      [VerifyOrderMemo.pageKinds]
    );
    const counts = new Map(counted.map((r) => [str(r.kind), Number(r.n)] as const));
    const ref = this.verifyOrder.get((await this.meta()).plan.actions, counts)[page];
    const none: VerifyPage = { owners: [], groups: [], users: [] };
    if (!ref) return none;
    const ids = async (kind: string, sql: string) => {
      const start = (await this.pageStart(kind, ref.index))!;
      return (await this.rows(sql, [start.first_key, PAGE_SIZE.verify])).map((r) => str(r.id));
    };
    if (ref.kind === 'owners')
      return {
        ...none,
        owners: await ids(
          'verify-owners',
          `SELECT "user" AS id FROM owners WHERE "user" >= $1 ORDER BY "user" LIMIT $2`
        ),
      };
    if (ref.kind === 'groups')
      return {
        ...none,
        groups: await ids('verify-groups', `SELECT id FROM groups WHERE id >= $1 ORDER BY id LIMIT $2`),
      };
    return { ...none, users: await this.accountsPage(ref.index) };
  }

  async userRelations(userIds: string[]): Promise<Map<string, StagedUserRelations>> {
    const column = async (sql: string, user: string) => (await this.rows(sql, [user])).map((r) => str(r.id));
    const result = new Map<string, StagedUserRelations>();
    for (const u of userIds)
      result.set(u, {
        friends: await column(`SELECT friend AS id FROM friends WHERE "user" = $1 ORDER BY friend`, u),
        friendOf: await column(`SELECT "user" AS id FROM friends WHERE friend = $1 ORDER BY "user"`, u),
        blocked: await column(`SELECT blocked AS id FROM blocks WHERE "user" = $1 ORDER BY blocked`, u),
      });
    return result;
  }

  async fanoutItems(stage: FanoutStage, after: string | null, limit: number): Promise<FanoutItem[]> {
    const query = {
      'peer-messages': `SELECT "user" AS id, n AS planned FROM owners WHERE "user" > $1 ORDER BY "user" LIMIT $2`,
      // A group child lands its memberships, admin roles and nicknames.
      groups: `SELECT id, member_count + (SELECT count(*) FILTER (WHERE role = 'admin')
             + count(*) FILTER (WHERE ${NICKNAMED}) FROM group_members WHERE grp = g.id) AS planned
         FROM groups g WHERE id > $1 ORDER BY id LIMIT $2`,
      // A muted group's child ends with one more step: MuteGroup.
      'group-messages': `SELECT id, message_count + muted AS planned FROM groups WHERE id > $1
         AND (message_count > 0 OR muted = 1)
         ORDER BY id LIMIT $2`,
    }[stage];
    return (await this.rows(query, [after ?? '', limit])).map((r) => ({ id: str(r.id), planned: r.planned as number }));
  }

  private async ownerRange(owner: string): Promise<{ first: number; n: number }> {
    const [row] = await this.rows(`SELECT first, n FROM owners WHERE "user" = $1`, [owner]);
    return row ? { first: row.first as number, n: row.n as number } : { first: 0, n: 0 };
  }

  /** Copies [from, to) of an owner's run that starts at `first`. */
  private async peerMessages(first: number, from: number, to: number, limit: number): Promise<StagedPeerMessage[]> {
    const rows = await this.rows(`${PEER_MESSAGE} WHERE c.id >= $1 AND c.id < $2 ORDER BY c.id LIMIT $3`, [
      from,
      to,
      limit,
    ]);
    return rows.map((r) => ({ seq: (r.cid as number) - first, peer: str(r.peer), ...messageFields(r), to: str(r.t) }));
  }

  async countOwnerMessages(owner: string): Promise<number> {
    return (await this.ownerRange(owner)).n;
  }

  async ownerConversationRanges(owner: string): Promise<ConversationRange[]> {
    const { first, n } = await this.ownerRange(owner);
    const rows = await this.rows(
      `SELECT peer, min(id) AS first_id, count(*) AS n FROM peer_copies WHERE id >= $1 AND id < $2
       GROUP BY peer ORDER BY first_id`,
      [first, first + n]
    );
    return rows.map((r) => ({ peer: str(r.peer), start: (r.first_id as number) - first, count: r.n as number }));
  }

  async ownerMessage(owner: string, seq: number): Promise<StagedPeerMessage | null> {
    const { first, n } = await this.ownerRange(owner);
    if (seq < 0 || seq >= n) return null;
    return (await this.peerMessages(first, first + seq, first + seq + 1, 1))[0] ?? null;
  }

  async ownerConversations(owner: string): Promise<Map<string, StagedPeerMessage[]>> {
    const { first, n } = await this.ownerRange(owner);
    const byPeer = new Map<string, StagedPeerMessage[]>();
    for (const m of await this.peerMessages(first, first, first + n, n)) {
      const list = byPeer.get(m.peer) ?? [];
      list.push(m);
      byPeer.set(m.peer, list);
    }
    return byPeer;
  }

  async group(groupId: string): Promise<StagedGroup | null> {
    const [row] = await this.rows(`${GROUP_SELECT} WHERE g.id = $1`, [groupId]);
    return row ? groupOf(row) : null;
  }

  async groupMembers(groupId: string, offset: number, limit: number): Promise<StagedGroupMember[]> {
    const rows = await this.rows(
      `SELECT m.* FROM group_members m JOIN groups g ON g.id = m.grp WHERE m.grp = $1 AND m."user" <> g.owner
       ORDER BY m."user" LIMIT $2 OFFSET $3`,
      [groupId, limit, offset]
    );
    return rows.map(memberOf);
  }

  async groupAdmins(groupId: string, offset: number, limit: number): Promise<StagedGroupMember[]> {
    const rows = await this.rows(
      `SELECT * FROM group_members WHERE grp = $1 AND role = 'admin' ORDER BY "user" LIMIT $2 OFFSET $3`,
      [groupId, limit, offset]
    );
    return rows.map(memberOf);
  }

  async groupNicknames(groupId: string, offset: number, limit: number): Promise<StagedGroupMember[]> {
    const rows = await this.rows(
      `SELECT * FROM group_members WHERE grp = $1 AND ${NICKNAMED} ORDER BY "user" LIMIT $2 OFFSET $3`,
      [groupId, limit, offset]
    );
    return rows.map(memberOf);
  }

  private async groupRange(groupId: string): Promise<{ first: number; n: number }> {
    const [g] = await this.rows(`SELECT first_msg, message_count FROM groups WHERE id = $1`, [groupId]);
    return g && g.first_msg != null
      ? { first: g.first_msg as number, n: g.message_count as number }
      : { first: 0, n: 0 };
  }

  /** Messages [from, to) of the group's run that starts at `first`. */
  private async groupMessagesIn(first: number, from: number, to: number, limit: number): Promise<StagedGroupMessage[]> {
    const rows = await this.rows(`${GROUP_MESSAGE} WHERE s.id >= $1 AND s.id < $2 ORDER BY s.id LIMIT $3`, [
      from,
      to,
      limit,
    ]);
    return rows.map((r) => ({ seq: (r.sid as number) - first, groupId: str(r.grp), ...messageFields(r) }));
  }

  async countGroupMessages(groupId: string): Promise<number> {
    return (await this.groupRange(groupId)).n;
  }

  async groupMuted(groupId: string): Promise<boolean> {
    const [g] = await this.rows(`SELECT muted FROM groups WHERE id = $1`, [groupId]);
    return Number(g?.muted ?? 0) === 1;
  }

  async groupMessage(groupId: string, seq: number): Promise<StagedGroupMessage | null> {
    const { first, n } = await this.groupRange(groupId);
    if (seq < 0 || seq >= n) return null;
    return (await this.groupMessagesIn(first, first + seq, first + seq + 1, 1))[0] ?? null;
  }

  async groupMessages(groupId: string): Promise<StagedGroupMessage[]> {
    const { first, n } = await this.groupRange(groupId);
    return this.groupMessagesIn(first, first, first + n, n);
  }

  // Catch-up rounds: staged by the SQLite engine's round on a snapshot (pg-stage-round.ts), read here.

  async rounds(): Promise<RoundRecord[]> {
    // A read-only open applies no schema: a staging from before rounds has none.
    const [present] = await this.rows(`SELECT to_regclass('zm_rounds') IS NOT NULL AS p`);
    if (present?.p !== true) return [];
    return (await this.rows(`SELECT * FROM zm_rounds ORDER BY round`)).map(roundOf);
  }

  async stageRound(input: StageRoundInput): Promise<RoundRecord> {
    this.writable();
    return stageRoundPg({ db: this.db, url: this.url, env: this.env, schema: this.schema }, input);
  }

  async setRoundState(round: number, state: RoundState): Promise<void> {
    this.writable();
    await this.rows(
      `UPDATE zm_rounds SET state = $1,
         started_at = CASE WHEN $1 = 'running' THEN coalesce(started_at, ${NOW_MS}) ELSE started_at END,
         finished_at = CASE WHEN $1 IN ('done', 'cancelled') THEN ${NOW_MS} ELSE NULL END WHERE round = $2`,
      [state, round]
    );
  }

  async roundWork(round: number): Promise<RoundWork> {
    const counts = new Map(
      (
        await this.rows(
          `SELECT op, count(DISTINCT page) AS pages, count(*) AS items FROM zm_round_ops WHERE round = $1 GROUP BY op`,
          [round]
        )
      ).map((r) => [str(r.op), { pages: Number(r.pages), items: Number(r.items) }])
    );
    const fanout = async (stage: FanoutStage) => {
      const [r] = await this.rows(
        `SELECT count(*) AS items, coalesce(sum(planned), 0) AS planned FROM zm_round_items
         WHERE round = $1 AND stage = $2`,
        [round, stage]
      );
      return { items: Number(r?.items ?? 0), planned: Number(r?.planned ?? 0) };
    };
    return {
      ops: ROUND_OPS.map((op) => ({ op, ...(counts.get(op) ?? { pages: 0, items: 0 }) })),
      fanout: {
        'peer-messages': await fanout('peer-messages'),
        groups: await fanout('groups'),
        'group-messages': await fanout('group-messages'),
      },
    };
  }

  async roundOpPage(round: number, op: RoundOp, page: number): Promise<RoundOpItem[]> {
    const rows = await this.rows(
      `SELECT target, key, data FROM zm_round_ops WHERE round = $1 AND op = $2 AND page = $3 ORDER BY target, key`,
      [round, op, page]
    );
    return rows.map((r) => ({
      target: str(r.target),
      key: str(r.key),
      data: JSON.parse(str(r.data)) as Record<string, unknown>,
    }));
  }

  async roundFanoutItems(
    round: number,
    stage: FanoutStage,
    after: string | null,
    limit: number
  ): Promise<FanoutItem[]> {
    const rows = await this.rows(
      `SELECT id, planned, start FROM zm_round_items WHERE round = $1 AND stage = $2 AND id > $3 ORDER BY id LIMIT $4`,
      [round, stage, after ?? '', limit]
    );
    return rows.map((r) => ({ id: str(r.id), planned: r.planned as number, start: r.start as number }));
  }

  async roundConversationRanges(round: number, owner: string): Promise<ConversationRange[]> {
    const { first, n } = await this.ownerRange(owner);
    const rows = await this.rows(
      `SELECT peer, min(id) AS first_id, count(*) AS n FROM peer_copies WHERE id >= $1 AND id < $2
         AND msg >= (SELECT first_peer_msg FROM zm_rounds WHERE round = $3)
       GROUP BY peer ORDER BY first_id`,
      [first, first + n, round]
    );
    return rows.map((r) => ({ peer: str(r.peer), start: (r.first_id as number) - first, count: r.n as number }));
  }

  async roundLate(round: number, limit: number): Promise<RoundLateMessage[]> {
    const rows = await this.rows(
      `SELECT src, conversation, sent, newest FROM zm_round_late WHERE round = $1 ORDER BY sent, src LIMIT $2`,
      [round, limit]
    );
    return rows.map((r) => ({
      sourceId: str(r.src),
      conversation: str(r.conversation),
      sentAt: r.sent as number,
      newestAt: r.newest as number,
    }));
  }

  // The ledger.

  async ledgerGet(stage: LedgerStage, keys: string[]): Promise<Map<string, LedgerEntry>> {
    const rows = await this.rows(`SELECT * FROM ledger WHERE stage = $1 AND key = ANY($2::text[])`, [stage, keys]);
    return new Map(rows.map((r) => [str(r.key), entryOf(r)]));
  }

  async ledgerPut(stage: LedgerStage, rows: readonly LedgerWrite[]): Promise<void> {
    this.writable();
    if (rows.length === 0) return;
    // One statement, one transaction; a key written twice keeps its last write, as the SQLite loop does.
    const last = [...new Map(rows.map((r) => [r.key, r])).values()];
    await this.rows(
      `INSERT INTO ledger (stage, key, status, zim_code, zim_message, msg_id, msg_seq, at)
       SELECT $1, k, s, c, m, i, q, ${NOW_MS}
       FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[]) AS u(k, s, c, m, i, q)
       ON CONFLICT (stage, key) DO UPDATE SET status = excluded.status, zim_code = excluded.zim_code,
         zim_message = excluded.zim_message, msg_id = excluded.msg_id, msg_seq = excluded.msg_seq, at = excluded.at,
         lease_token = NULL, lease_until = NULL`,
      [
        stage,
        last.map((r) => r.key),
        last.map((r) => r.status),
        last.map((r) => r.zimCode ?? null),
        last.map((r) => r.zimMessage ?? null),
        last.map((r) => r.msgId ?? null),
        last.map((r) => r.msgSeq ?? null),
      ]
    );
  }

  async ledgerClaim(stage: LedgerStage, key: string, token: string, leaseMs: number): Promise<Claim> {
    this.writable();
    // One statement: the insert, or the update of an entry that is pending and unleased, lease-expired or ours.
    // A racing attempt waits for the row lock, then re-checks the WHERE against the winner's row and updates nothing.
    // `xmax = 0` tells an inserted row from an updated one.
    const [taken] = await this.rows(
      `INSERT INTO ledger (stage, key, status, at, lease_token, lease_until)
       VALUES ($1, $2, 'pending', ${NOW_MS}, $3, clock_timestamp() + $4 * interval '1 millisecond')
       ON CONFLICT (stage, key) DO UPDATE SET status = 'pending', at = excluded.at,
         lease_token = excluded.lease_token, lease_until = excluded.lease_until
       WHERE ledger.status = 'pending' AND (ledger.lease_token = excluded.lease_token
         OR ledger.lease_until IS NULL OR ledger.lease_until <= clock_timestamp())
       RETURNING (xmax = 0) AS inserted, status, zim_code, msg_seq`,
      [stage, key, token, leaseMs]
    );
    if (taken) return { claimed: true, previous: taken.inserted ? null : claimEntry(taken) };
    const [current] = await this.rows(`SELECT status, zim_code, msg_seq FROM ledger WHERE stage = $1 AND key = $2`, [
      stage,
      key,
    ]);
    return { claimed: false, current: claimEntry(current!) };
  }

  async ledgerRenew(stage: LedgerStage, key: string, token: string, leaseMs: number): Promise<boolean> {
    this.writable();
    const rows = await this.rows(
      `UPDATE ledger SET lease_until = clock_timestamp() + $4 * interval '1 millisecond'
       WHERE stage = $1 AND key = $2 AND status = 'pending' AND lease_token = $3 RETURNING 1`,
      [stage, key, token, leaseMs]
    );
    return rows.length === 1;
  }

  async ledgerRelease(stage: LedgerStage, key: string, token: string): Promise<void> {
    this.writable();
    await this.rows(
      `UPDATE ledger SET lease_until = NULL WHERE stage = $1 AND key = $2 AND status = 'pending' AND lease_token = $3`,
      [stage, key, token]
    );
  }

  async ledgerCounts(): Promise<LedgerCounts> {
    const counts: LedgerCounts = {};
    for (const r of (await this.rows(`SELECT stage, status, n FROM zm_ledger_counts WHERE n > 0`)) as {
      stage: Stage;
      status: LedgerStatus;
      n: number;
    }[])
      (counts[r.stage] ??= { pending: 0, done: 0, failed: 0, skipped: 0 })[r.status] = r.n;
    return counts;
  }

  async readLedger(stage: LedgerStage, afterKey: string | null, limit: number): Promise<LedgerRecord[]> {
    const rows = await this.rows(`SELECT * FROM ledger WHERE stage = $1 AND key > $2 ORDER BY key LIMIT $3`, [
      stage,
      afterKey ?? '',
      limit,
    ]);
    return rows.map((r) => ({ stage: r.stage as Stage, key: str(r.key), ...entryOf(r), at: r.at as number }));
  }

  // The call gate: PgCallGate's table, keyed by this staging's schema.

  private gateKey(): string {
    return `staging:${this.schema}`;
  }

  async callGateOpen(): Promise<boolean> {
    if (this.gate) return this.gate.isOpen(this.gateKey());
    // A read-only open applies no schema, so the gate's table may not exist yet: open.
    const [row] = await this.rows(`SELECT to_regclass('zm_call_gate') IS NOT NULL AS present`);
    if (!row?.present) return true;
    const [gate] = await this.rows(`SELECT open FROM zm_call_gate WHERE migration = $1`, [this.gateKey()]);
    return gate?.open !== false;
  }

  async setCallGate(open: boolean): Promise<void> {
    this.writable();
    await this.gate!.set(this.gateKey(), open);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** What a claim reports of an entry: its status and what a retry needs (SQLite's claim reports the same). */
function claimEntry(r: Row): LedgerEntry {
  const { status, msgSeq, zimCode } = entryOf(r);
  return { status, ...(msgSeq !== undefined && { msgSeq }), ...(zimCode !== undefined && { zimCode }) };
}
