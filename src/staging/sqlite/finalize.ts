/**
 * Builds the read tables from the rows that passed validation: merged relations, groups with their
 * members (owner included), every owner's copy of their one-to-one history and every group's history,
 * each in read order with a dense seq; then counts, the ZIM workload and the meta row.
 */
import type { StagingCounts, Workload } from '../../shared/migration-plan';
import type { StagingMeta } from '../migration-store';
import { ownerChainSteps } from '../../shared/chains';
import { tracePhase } from '../../diagnostics/trace';
import { ZIM_BATCH_LIMITS, ZIM_PAGE_LIMITS } from '../../zim-client/limits';
import { sealBuildDatabase, type Db } from './database';
import { insertMergedBlocks, insertMergedFriends } from './merged-records';
import { READ_SCHEMA, RowStatus } from './schema';

const OK = RowStatus.ok;
const ceilDiv = (sql: string, per: number) => `((${sql}) + ${per - 1}) / ${per}`;

export interface FinalizeResult {
  counts: StagingCounts;
  workload: Workload;
}

export function buildReadTables(db: Db): FinalizeResult {
  db.exec(READ_SCHEMA);
  db.exec('BEGIN');
  insertMergedFriends(db);
  insertMergedBlocks(db);
  db.exec(`
    INSERT INTO groups(id, source_id, app, name, owner, avatar_url, notice, attributes, created_at, muted)
    SELECT g.id, g.source_id, a.name, g.name, g.owner, g.avatar_url, g.notice, g.attributes, g.created_at, g.muted
    FROM raw_groups g JOIN apps a ON a.idx = g.app WHERE g.status = ${OK};
    INSERT INTO group_members(grp, user, role, nickname, joined_at)
    SELECT m.grp, m.user, CASE WHEN m.user = g.owner THEN 'owner' ELSE m.role END, m.nickname, m.joined_at
    FROM raw_group_members m JOIN groups g ON g.id = m.grp WHERE m.status = ${OK};
    INSERT OR IGNORE INTO group_members(grp, user, role, nickname, joined_at)
    SELECT id, owner, 'owner', NULL, created_at FROM groups;
    UPDATE groups SET member_count = (SELECT count(*) FROM group_members m WHERE m.grp = groups.id);
  `);
  const conversations = buildHistoryTables(db);
  db.exec('COMMIT');
  tracePhase('owners');
  return {
    counts: countAll(db, conversations.count),
    workload: workload(db, conversations.queryPages, conversations.longestOwnerChain),
  };
}

/**
 * Every owner's copy of their one-to-one history and every group's history in read order, with their indexes:
 * built once when staged, and again when a catch-up round adds messages (src/staging/sqlite/stage-round.ts).
 * Expects empty peer_copies, owners and group_seq.
 */
export function buildHistoryTables(db: Db): { count: number; queryPages: number; longestOwnerChain: number } {
  db.exec(`
    -- Each side's copy, minus what that side deleted; deactivated users own no copies. Messages sent at the same
    -- time keep the export's order (file, then line; files are numbered in reading order), never their ids' order.
    INSERT INTO peer_copies(owner, peer, msg)
    SELECT owner, peer, id FROM (
      SELECT f AS owner, t AS peer, sent, file, line, id FROM peer_messages WHERE status = ${OK} AND del_f = 0
      UNION ALL
      SELECT t, f, sent, file, line, id FROM peer_messages WHERE status = ${OK} AND del_t = 0)
    WHERE owner NOT IN (SELECT id FROM users WHERE deactivated = 1)
    ORDER BY owner, peer, sent, file, line;

    INSERT INTO group_seq(grp, msg)
    SELECT grp, id FROM group_messages WHERE status = ${OK} ORDER BY grp, sent, file, line;

    -- Validation left only read states at their conversation's newest message (referential-checks.ts).
    INSERT INTO read_states(user, kind, conv, msg)
    SELECT user, kind, conv, msg FROM raw_read_states WHERE status = ${OK} ORDER BY user, kind, conv;
  `);
  tracePhase('read tables');
  const conversations = indexOwners(db);
  indexGroupHistories(db);
  return conversations;
}

export function writeMeta(db: Db, meta: StagingMeta): void {
  db.prepare(`INSERT INTO meta(key, value) VALUES ('meta', ?)`).run(JSON.stringify(meta));
  sealBuildDatabase(db);
  tracePhase('sealed');
}

/**
 * owners: where each owner's run of peer_copies starts and how long it is (the copies were inserted in
 * owner order, so a run is contiguous), via the per-conversation counts that verification needs too.
 */
function indexOwners(db: Db): { count: number; queryPages: number; longestOwnerChain: number } {
  db.exec(`
    CREATE TEMP TABLE conversations AS
      SELECT owner, peer, count(*) AS n, min(id) AS first FROM peer_copies GROUP BY owner, peer;
    INSERT INTO owners(user, first, n, peers) SELECT owner, min(first), sum(n), count(*) FROM conversations GROUP BY owner;`);
  const perPage = ZIM_PAGE_LIMITS.QueryPeerMsg.max;
  const totals = db
    .prepare(`SELECT count(*) AS count, sum(${ceilDiv('n', perPage)}) AS pages FROM conversations`)
    .get() as {
    count: number;
    pages: number | null;
  };
  // An owner's conversations in the order its child takes them (ownerConversationRanges: by first copy).
  let longestOwnerChain = 0;
  let owner: unknown;
  let lengths: number[] = [];
  const endOwner = () => (longestOwnerChain = Math.max(longestOwnerChain, ownerChainSteps(lengths)));
  for (const row of db.prepare('SELECT owner, n FROM conversations ORDER BY owner, first').iterate() as Iterable<{
    owner: unknown;
    n: number;
  }>) {
    if (row.owner !== owner && lengths.length) {
      endOwner();
      lengths = [];
    }
    owner = row.owner;
    lengths.push(row.n);
  }
  if (lengths.length) endOwner();
  db.exec('DROP TABLE conversations');
  return { count: totals.count, queryPages: totals.pages ?? 0, longestOwnerChain };
}

/** groups.first_msg / message_count: where each group's run of group_seq starts and how long it is. */
function indexGroupHistories(db: Db): void {
  db.exec(`
    UPDATE groups SET first_msg = r.first, message_count = r.n
    FROM (SELECT grp, min(id) AS first, count(*) AS n FROM group_seq GROUP BY grp) AS r WHERE r.grp = groups.id`);
}

export function countAll(db: Db, conversations: number): StagingCounts {
  const n = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0;
  return {
    users: n('SELECT count(*) FROM users'),
    deactivatedUsers: n('SELECT count(*) FROM users WHERE deactivated = 1'),
    usersWithExtra: n(`SELECT count(*) FROM users WHERE extended_data IS NOT NULL`),
    friends: n('SELECT count(*) FROM friends'),
    blocks: n('SELECT count(*) FROM blocks'),
    friendListUsers: n('SELECT count(*) FROM (SELECT user FROM friends UNION SELECT friend FROM friends)'),
    blockListUsers: n('SELECT count(DISTINCT user) FROM blocks'),
    groups: n('SELECT count(*) FROM groups'),
    groupMembers: n('SELECT count(*) FROM group_members'),
    groupAdmins: n(`SELECT count(*) FROM group_members WHERE role = 'admin'`),
    groupMemberNicknames: n(`SELECT count(*) FROM group_members WHERE nickname IS NOT NULL AND nickname <> ''`),
    peerMessages: n(`SELECT count(*) FROM peer_messages WHERE status = ${OK}`),
    peerCopies: n('SELECT count(*) FROM peer_copies'),
    owners: n('SELECT count(*) FROM owners'),
    conversations,
    groupMessages: n('SELECT count(*) FROM group_seq'),
    mutedGroups: n('SELECT count(*) FROM groups WHERE muted = 1'),
    readStates: n('SELECT count(*) FROM read_states'),
    expiredPeerMessages: n(`SELECT count(*) FROM peer_messages WHERE status = ${RowStatus.expired}`),
    expiredGroupMessages: n(`SELECT count(*) FROM group_messages WHERE status = ${RowStatus.expired}`),
  };
}

function workload(db: Db, peerQueryPages: number, longestOwnerChain: number): Workload {
  const n = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0;
  const perOwner = (table: string, per: number) =>
    n(`SELECT sum(${ceilDiv('n', per)}) FROM (SELECT count(*) AS n FROM ${table} GROUP BY user)`);
  const batch = (action: keyof typeof ZIM_BATCH_LIMITS) => ZIM_BATCH_LIMITS[action].max;
  const page = (action: keyof typeof ZIM_PAGE_LIMITS) => ZIM_PAGE_LIMITS[action].max;
  // Members beyond CreateGroup's initial 100 (owner not counted) are invited 100 per call.
  const invites = `SELECT ${ceilDiv(`max(0, member_count - 1 - ${batch('CreateGroup')})`, batch('InviteUsersIntoGroup'))}
    AS c FROM groups`;
  const nicknames = `SELECT ${ceilDiv('count(*)', batch('SetGroupMembersNickname'))} AS c FROM group_members
    WHERE nickname IS NOT NULL AND nickname <> '' GROUP BY grp`;
  const users = n('SELECT count(*) FROM users');
  const memberPages = n(`SELECT sum(${ceilDiv('member_count', page('QueryGroupMemberList'))}) FROM groups`);
  return {
    calls: {
      UserRegister: Math.ceil(users / batch('UserRegister')),
      ModifyUserInfo: Math.ceil(
        n('SELECT count(*) FROM users WHERE extended_data IS NOT NULL') / batch('ModifyUserInfo')
      ),
      AddFriends: perOwner('friends', batch('AddFriends')),
      AddUsersToBlacklist: perOwner('blocks', batch('AddUsersToBlacklist')),
      ImportPeerMsg: n('SELECT count(*) FROM peer_copies'),
      CreateGroup: n('SELECT count(*) FROM groups'),
      InviteUsersIntoGroup: n(`SELECT sum(c) FROM (${invites})`),
      // Only to remove members a group should not have (it existed before, or an invite landed twice): none planned.
      KickoutGroupUser: 0,
      SetGroupMemberRole: n(`SELECT count(*) FROM group_members WHERE role = 'admin'`),
      SetGroupMembersNickname: n(`SELECT sum(c) FROM (${nicknames})`),
      ImportGroupMsg: n('SELECT count(*) FROM group_seq'),
      // Once per muted group, after its history; verify reads each one's mute back.
      MuteGroup: n('SELECT count(*) FROM groups WHERE muted = 1'),
      QueryGroupInfo: n('SELECT count(*) FROM groups WHERE muted = 1'),
      ClearConversationUnread: n('SELECT count(*) FROM read_states'),
      QueryUserInfos: Math.ceil(users / batch('QueryUserInfos')),
      // Verify reads the friend list of everyone in a friendship: with mutual AddFriends it holds both directions.
      QueryFriendList: n(`SELECT sum(${ceilDiv('n', page('QueryFriendList'))}) FROM (SELECT count(*) AS n FROM
        (SELECT user, friend FROM friends UNION SELECT friend, user FROM friends) GROUP BY user)`),
      QueryBlacklist: perOwner('blocks', page('QueryBlacklist')),
      QueryPeerMsg: peerQueryPages,
      // Read twice: by the groups stage's member check and by verify.
      QueryGroupMemberList: 2 * memberPages,
      QueryGroupMsg: n(`SELECT sum(${ceilDiv('message_count', page('QueryGroupMsg'))}) FROM groups`),
    },
    sharedCalls: { groups: { QueryGroupMemberList: memberPages } },
    maxCallsPerGroup: {
      InviteUsersIntoGroup: n(`SELECT max(c) FROM (${invites})`),
      SetGroupMembersNickname: n(`SELECT max(c) FROM (${nicknames})`),
    },
    chainSteps: {
      ImportPeerMsg: longestOwnerChain,
      ImportGroupMsg: n('SELECT max(message_count) FROM groups'),
    },
  };
}
