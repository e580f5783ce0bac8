/** StagingStore over the embedded SQLite staging file (engine choice and measurements: docs/staging.md). */
import type { ZimMessageBody } from '../../import-format/message-body';
import type {
  BlockKey,
  FriendKey,
  LedgerCount,
  MessageOwner,
  OpenStagingOptions,
  Outcome,
  StagedBlock,
  StagedFriend,
  StagedGroup,
  StagedGroupMember,
  StagedGroupMessage,
  StagedPeerMessage,
  StagedUser,
  StagingMeta,
  StagingStore,
} from '../store';
import { openDatabase, type Db } from './database';
import { MIGRATION_META_KEY, STAGING_FORMAT_VERSION } from './schema';

type Row = Record<string, unknown>;
const str = (v: unknown) => v as string;
const optStr = (v: unknown) => (v ?? null) as string | null;
const optNum = (v: unknown) => (v ?? null) as number | null;
const optJson = <T>(v: unknown) => (v == null ? null : (JSON.parse(v as string) as T));

export class SqliteStagingStore implements StagingStore {
  private readonly q;

  constructor(
    private readonly db: Db,
    private readonly readonly: boolean
  ) {
    const version = (db.prepare(`SELECT value FROM meta WHERE key = 'formatVersion'`).get() as Row | undefined)?.value;
    if (version !== String(STAGING_FORMAT_VERSION))
      throw new Error(
        `not a staging file of format ${STAGING_FORMAT_VERSION} (found ${String(version)}); rebuild it with zim-migrate plan`
      );
    this.q = {
      meta: db.prepare(`SELECT value FROM meta WHERE key = 'meta'`),
      users: db.prepare(`SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?`),
      friends: db.prepare(`SELECT * FROM friends WHERE (user, friend) > (?, ?) ORDER BY user, friend LIMIT ?`),
      blocks: db.prepare(`SELECT * FROM blocks WHERE (user, blocked) > (?, ?) ORDER BY user, blocked LIMIT ?`),
      groups: db.prepare(`SELECT * FROM groups WHERE id > ? ORDER BY id LIMIT ?`),
      members: db.prepare(`SELECT * FROM group_members WHERE grp = ? AND user > ? ORDER BY user LIMIT ?`),
      owners: db.prepare(`SELECT * FROM owners WHERE user > ? ORDER BY user LIMIT ?`),
      owner: db.prepare(`SELECT first, n FROM owners WHERE user = ?`),
      ownerMessages: db.prepare(
        `SELECT c.id AS cid, m.src, m.f, m.t, m.sent, m.type, m.sub_type, m.body, m.searched
         FROM peer_copies c JOIN peer_messages m ON m.id = c.msg WHERE c.id >= ? AND c.id < ? ORDER BY c.id LIMIT ?`
      ),
      group: db.prepare(`SELECT first_msg, message_count FROM groups WHERE id = ?`),
      groupMessages: db.prepare(
        `SELECT s.id AS sid, m.src, m.grp, m.f, m.sent, m.type, m.sub_type, m.body, m.searched
         FROM group_seq s JOIN group_messages m ON m.id = s.msg WHERE s.id >= ? AND s.id < ? ORDER BY s.id LIMIT ?`
      ),
      upsert: readonly
        ? null
        : db.prepare(
            `INSERT INTO ledger(stage, key, status, zim_code, zim_message, msg_id, msg_seq, at)
             VALUES (@stage, @key, @status, @zimCode, @zimMessage, @msgId, @msgSeq, @at)
             ON CONFLICT(stage, key) DO UPDATE SET status = excluded.status, zim_code = excluded.zim_code,
               zim_message = excluded.zim_message, msg_id = excluded.msg_id, msg_seq = excluded.msg_seq, at = excluded.at`
          ),
      ledger: db.prepare(`SELECT * FROM ledger WHERE stage = ? AND key > ? ORDER BY key LIMIT ?`),
      ledgerSummary: db.prepare(
        `SELECT stage, status, count(*) AS count FROM ledger GROUP BY stage, status ORDER BY stage, status`
      ),
    };
  }

  static open(file: string, options: OpenStagingOptions = {}): SqliteStagingStore {
    const readonly = options.readonly ?? false;
    let db: Db | undefined;
    try {
      db = openDatabase(file, readonly);
      return new SqliteStagingStore(db, readonly);
    } catch (err) {
      db?.close();
      if ((err as { code?: string }).code === 'SQLITE_NOTADB') throw notStaging(file, undefined);
      throw err;
    }
  }

  lastMigration(): Promise<string | null> {
    // zm_meta exists once a worker has opened the file (src/staging/sqlite/migration-data.ts).
    const table = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'zm_meta'`).get();
    const row = table
      ? (this.db.prepare(`SELECT value FROM zm_meta WHERE key = ?`).get(MIGRATION_META_KEY) as Row | undefined)
      : undefined;
    return Promise.resolve(row ? str(row.value) : null);
  }

  meta(): Promise<StagingMeta> {
    const row = this.q.meta.get() as Row;
    return Promise.resolve(JSON.parse(str(row.value)) as StagingMeta);
  }

  readUsers(afterUserId: string | null, limit: number): Promise<StagedUser[]> {
    const rows = this.q.users.all(afterUserId ?? '', limit) as Row[];
    return Promise.resolve(
      rows.map((r) => ({
        id: str(r.id),
        nickname: optStr(r.nickname),
        avatarUrl: optStr(r.avatar_url),
        extendedData: optStr(r.extended_data),
        createdAt: optNum(r.created_at),
        deactivated: r.deactivated === 1,
        apps: JSON.parse(str(r.apps)) as string[],
      }))
    );
  }

  readFriends(after: FriendKey | null, limit: number): Promise<StagedFriend[]> {
    const rows = this.q.friends.all(after?.user ?? '', after?.friend ?? '', limit) as Row[];
    return Promise.resolve(
      rows.map((r) => ({
        user: str(r.user),
        friend: str(r.friend),
        alias: optStr(r.alias),
        wording: optStr(r.wording),
        attributes: optJson<Record<string, string>>(r.attributes),
        since: optNum(r.since),
      }))
    );
  }

  readBlocks(after: BlockKey | null, limit: number): Promise<StagedBlock[]> {
    const rows = this.q.blocks.all(after?.user ?? '', after?.blocked ?? '', limit) as Row[];
    return Promise.resolve(rows.map((r) => ({ user: str(r.user), blocked: str(r.blocked), since: optNum(r.since) })));
  }

  readGroups(afterGroupId: string | null, limit: number): Promise<StagedGroup[]> {
    const rows = this.q.groups.all(afterGroupId ?? '', limit) as Row[];
    return Promise.resolve(
      rows.map((r) => ({
        id: str(r.id),
        sourceId: str(r.source_id),
        app: str(r.app),
        name: optStr(r.name),
        owner: str(r.owner),
        avatarUrl: optStr(r.avatar_url),
        notice: optStr(r.notice),
        attributes: optJson<Record<string, string>>(r.attributes),
        createdAt: optNum(r.created_at),
        memberCount: r.member_count as number,
        messageCount: r.message_count as number,
      }))
    );
  }

  readGroupMembers(groupId: string, afterUserId: string | null, limit: number): Promise<StagedGroupMember[]> {
    const rows = this.q.members.all(groupId, afterUserId ?? '', limit) as Row[];
    return Promise.resolve(
      rows.map((r) => ({
        groupId: str(r.grp),
        user: str(r.user),
        role: r.role as StagedGroupMember['role'],
        nickname: optStr(r.nickname),
        joinedAt: optNum(r.joined_at),
      }))
    );
  }

  readOwners(afterUserId: string | null, limit: number): Promise<MessageOwner[]> {
    const rows = this.q.owners.all(afterUserId ?? '', limit) as Row[];
    return Promise.resolve(
      rows.map((r) => ({ user: str(r.user), messageCount: r.n as number, peerCount: r.peers as number }))
    );
  }

  readOwnerMessages(owner: string, afterSeq: number | null, limit: number): Promise<StagedPeerMessage[]> {
    const range = this.q.owner.get(owner) as { first: number; n: number } | undefined;
    if (!range) return Promise.resolve([]);
    const from = range.first + (afterSeq === null ? 0 : afterSeq + 1);
    const rows = this.q.ownerMessages.all(from, range.first + range.n, limit) as Row[];
    return Promise.resolve(
      rows.map((r) => {
        const m: StagedPeerMessage = {
          seq: (r.cid as number) - range.first,
          peer: r.f === owner ? str(r.t) : str(r.f),
          ...messageFields(r),
          to: str(r.t),
        };
        return m;
      })
    );
  }

  countOwnerMessages(owner: string): Promise<number> {
    const range = this.q.owner.get(owner) as { n: number } | undefined;
    return Promise.resolve(range?.n ?? 0);
  }

  readGroupMessages(groupId: string, afterSeq: number | null, limit: number): Promise<StagedGroupMessage[]> {
    const g = this.q.group.get(groupId) as { first_msg: number | null; message_count: number } | undefined;
    if (!g || g.first_msg === null) return Promise.resolve([]);
    const first = g.first_msg;
    const from = first + (afterSeq === null ? 0 : afterSeq + 1);
    const rows = this.q.groupMessages.all(from, first + g.message_count, limit) as Row[];
    return Promise.resolve(
      rows.map((r) => ({ seq: (r.sid as number) - first, groupId: str(r.grp), ...messageFields(r) }))
    );
  }

  recordOutcomes(rows: readonly Outcome[]): Promise<void> {
    const upsert = this.q.upsert;
    if (!upsert) return Promise.reject(new Error('the staging store was opened read-only'));
    this.db.transaction(() => {
      for (const o of rows)
        upsert.run({
          stage: o.stage,
          key: o.key,
          status: o.status,
          zimCode: o.zimCode ?? null,
          zimMessage: o.zimMessage ?? null,
          msgId: o.msgId ?? null,
          msgSeq: o.msgSeq ?? null,
          at: o.at,
        });
    })();
    return Promise.resolve();
  }

  readLedger(stage: string, afterKey: string | null, limit: number): Promise<Outcome[]> {
    const rows = this.q.ledger.all(stage, afterKey ?? '', limit) as Row[];
    return Promise.resolve(
      rows.map((r) => {
        const o: Outcome = {
          stage: str(r.stage),
          key: str(r.key),
          status: r.status as Outcome['status'],
          at: r.at as number,
        };
        if (r.zim_code != null) o.zimCode = r.zim_code as number;
        if (r.zim_message != null) o.zimMessage = str(r.zim_message);
        if (r.msg_id != null) o.msgId = str(r.msg_id);
        if (r.msg_seq != null) o.msgSeq = r.msg_seq as number;
        return o;
      })
    );
  }

  ledgerSummary(): Promise<LedgerCount[]> {
    return Promise.resolve(this.q.ledgerSummary.all() as LedgerCount[]);
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}

function notStaging(file: string, version: unknown): Error {
  const found = typeof version === 'string' ? `format ${version}` : 'no staging format';
  return new Error(
    `${file} is not a staging file of format ${STAGING_FORMAT_VERSION} (${found}); build it with zim-migrate plan`
  );
}

function messageFields(r: Row) {
  const m = {
    sourceId: str(r.src),
    from: str(r.f),
    sentTime: r.sent as number,
    type: r.type as number,
    subType: r.sub_type as number,
    body: JSON.parse(str(r.body)) as ZimMessageBody,
  };
  return r.searched == null ? m : { ...m, searchedContent: str(r.searched) };
}
