/**
 * A catch-up round's difference (issue #13): what changed between the migration's staging and a later export of
 * the same app, staged the same way (validated, merged, read tables built). Both are SQLite files; the comparison
 * runs in SQL over the attached earlier file, keyed as the export keys its records, so memory stays flat whatever
 * the size. Records compare by the fields ZIM holds (a content hash would say the same, at the price of hashing).
 *
 * The rules, so that the round makes exactly the calls the changes need:
 * - Accounts: new ids are added; changed nickname, avatar or extended data is a profile change; `deactivated`
 *   turning on closes an account (its relations and memberships then drop out of the later staging and show as
 *   removed, which is what a closed account means here).
 * - A group missing from the later staging was dismissed: DismissGroup takes its members with it, so they are not
 *   also counted as leaving. An owner transfer is one change, not two role changes.
 * - Messages are added by source id; one older than its conversation's newest already staged is a conflict
 *   (`messages.late`): ZIM keeps history in order, so it is reported, never imported out of order.
 */
import Database from 'better-sqlite3';
import { itemsPerCall } from '../zim-client/limits';
import { noChanges, type ChangeKind } from './change-kinds';

/** The Actions a round calls, with ZIM's batch limits (zim-api.md §1, §6.16; one place: src/zim-client/limits.ts). */
export const ROUND_ACTIONS = {
  UserRegister: { per: itemsPerCall('UserRegister') },
  ModifyUserInfo: { per: itemsPerCall('ModifyUserInfo') },
  AddFriends: { per: itemsPerCall('AddFriends') },
  DeleteFriends: { per: itemsPerCall('DeleteFriends') },
  AddUsersToBlacklist: { per: itemsPerCall('AddUsersToBlacklist') },
  RemoveUsersFromBlacklist: { per: itemsPerCall('RemoveUsersFromBlacklist') },
  // One group a call (its batch limit is on initial members).
  CreateGroup: { per: 1 },
  DismissGroup: { per: 1, perGroup: true },
  UpdateGroupData: { per: 1 },
  ModifyGroupAttribute: { per: 1 },
  TransferGroupOwner: { per: 1, perGroup: true },
  InviteUsersIntoGroup: { per: itemsPerCall('InviteUsersIntoGroup'), perGroup: true },
  KickoutGroupUser: { per: itemsPerCall('KickoutGroupUser') },
  SetGroupMemberRole: { per: 1 },
  SetGroupMembersNickname: { per: itemsPerCall('SetGroupMembersNickname'), perGroup: true },
  ImportPeerMsg: { per: 1 },
  ImportGroupMsg: { per: 1 },
} as const;
export type RoundAction = keyof typeof ROUND_ACTIONS;

export interface LateMessage {
  sourceId: string;
  /** `peer:<a>|<b>` or `group:<id>`. */
  conversation: string;
  sentAt: number;
  newestAt: number;
}

export interface Difference {
  changes: Record<ChangeKind, number>;
  calls: Record<RoundAction, number>;
  /** The busiest group's calls, for the Actions limited per group (1/s each). */
  maxCallsPerGroup: Partial<Record<RoundAction, number>>;
  /** The first conflicts, in time order (all are counted in changes['messages.late']). */
  late: LateMessage[];
  /**
   * Messages the earlier export had and a full later one lacks: ZIM keeps them (a round never deletes history).
   * Always 0 for an incremental export, which holds only new messages.
   */
  messagesGone: number;
}

const LATE_SHOWN = 20;

type Db = Database.Database;
const num = (db: Db, sql: string): number => (db.prepare(sql).pluck().get() as number | null) ?? 0;

/** Calls of a batched Action: per key (user or group), ceil(n / per); the busiest key too. */
function batched(db: Db, sql: string, per: number): { calls: number; max: number } {
  const r = db
    .prepare(`SELECT sum((n + ${per - 1}) / ${per}) AS calls, max((n + ${per - 1}) / ${per}) AS max FROM (${sql})`)
    .get() as {
    calls: number | null;
    max: number | null;
  };
  return { calls: r.calls ?? 0, max: r.max ?? 0 };
}

/** Compares `laterFile` (the later export, staged) with `earlierFile` (the migration's staging). */
export function computeDifference(earlierFile: string, laterFile: string, opts: { incremental: boolean }): Difference {
  const db = new Database(laterFile, { readonly: true });
  try {
    db.prepare('ATTACH DATABASE ? AS old').run(earlierFile);
    return differenceIn(db, opts.incremental);
  } finally {
    db.close();
  }
}

function differenceIn(db: Db, incremental: boolean): Difference {
  const changes = noChanges();
  const calls = Object.fromEntries(Object.keys(ROUND_ACTIONS).map((a) => [a, 0])) as Record<RoundAction, number>;
  const maxCallsPerGroup: Partial<Record<RoundAction, number>> = {};
  const add = (action: RoundAction, r: { calls: number; max: number }) => {
    calls[action] += r.calls;
    if ('perGroup' in ROUND_ACTIONS[action]) maxCallsPerGroup[action] = Math.max(maxCallsPerGroup[action] ?? 0, r.max);
  };
  db.exec(`
    CREATE TEMP TABLE gone_groups AS SELECT id FROM old.groups WHERE id NOT IN (SELECT id FROM main.groups);
    CREATE TEMP TABLE new_groups AS SELECT id FROM main.groups WHERE id NOT IN (SELECT id FROM old.groups);
  `);

  // Accounts.
  changes['users.added'] = num(db, `SELECT count(*) FROM main.users WHERE id NOT IN (SELECT id FROM old.users)`);
  changes['users.profile'] = num(
    db,
    `SELECT count(*) FROM main.users n JOIN old.users o ON o.id = n.id
     WHERE n.nickname IS NOT o.nickname OR n.avatar_url IS NOT o.avatar_url OR n.extended_data IS NOT o.extended_data`
  );
  changes['users.deactivated'] = num(
    db,
    `SELECT count(*) FROM main.users n JOIN old.users o ON o.id = n.id WHERE n.deactivated = 1 AND o.deactivated = 0`
  );
  add('UserRegister', { calls: Math.ceil(changes['users.added'] / ROUND_ACTIONS.UserRegister.per), max: 0 });
  add('ModifyUserInfo', { calls: Math.ceil(changes['users.profile'] / ROUND_ACTIONS.ModifyUserInfo.per), max: 0 });

  // Friendships and blocks: per user, batched.
  const relation = (table: 'friends' | 'blocks', other: 'friend' | 'blocked') => {
    const added = `SELECT user, ${other} FROM main.${table} EXCEPT SELECT user, ${other} FROM old.${table}`;
    const removed = `SELECT user, ${other} FROM old.${table} EXCEPT SELECT user, ${other} FROM main.${table}`;
    return {
      added: num(db, `SELECT count(*) FROM (${added})`),
      removed: num(db, `SELECT count(*) FROM (${removed})`),
      addCalls: (per: number) => batched(db, `SELECT count(*) AS n FROM (${added}) GROUP BY user`, per),
      removeCalls: (per: number) => batched(db, `SELECT count(*) AS n FROM (${removed}) GROUP BY user`, per),
    };
  };
  const friends = relation('friends', 'friend');
  changes['friends.added'] = friends.added;
  changes['friends.removed'] = friends.removed;
  add('AddFriends', friends.addCalls(ROUND_ACTIONS.AddFriends.per));
  // As the round pages them (stage-round.ts): one DeleteType a call, and a friendship ended on both sides is one
  // two-way call from the smaller id.
  const removedFriends = `SELECT user, friend FROM old.friends EXCEPT SELECT user, friend FROM main.friends`;
  add(
    'DeleteFriends',
    batched(
      db,
      `WITH removed AS (${removedFriends}) SELECT count(*) AS n FROM removed
       WHERE NOT (user > friend AND (friend, user) IN (SELECT user, friend FROM removed))
       GROUP BY user, (friend, user) IN (SELECT user, friend FROM main.friends)`,
      ROUND_ACTIONS.DeleteFriends.per
    )
  );
  const blocks = relation('blocks', 'blocked');
  changes['blocks.added'] = blocks.added;
  changes['blocks.removed'] = blocks.removed;
  add('AddUsersToBlacklist', blocks.addCalls(ROUND_ACTIONS.AddUsersToBlacklist.per));
  add('RemoveUsersFromBlacklist', blocks.removeCalls(ROUND_ACTIONS.RemoveUsersFromBlacklist.per));

  // Groups.
  changes['groups.created'] = num(db, `SELECT count(*) FROM new_groups`);
  changes['groups.dismissed'] = num(db, `SELECT count(*) FROM gone_groups`);
  add('CreateGroup', { calls: changes['groups.created'], max: 0 });
  // CreateGroup takes the owner and 100 initial members (member_count counts the owner); the rest are invited, 100
  // per call, as the plan counts them (finalize.ts).
  add(
    'InviteUsersIntoGroup',
    batched(
      db,
      `SELECT max(member_count - 1 - ${itemsPerCall('CreateGroup')}, 0) AS n FROM main.groups
       WHERE id IN (SELECT id FROM new_groups)`,
      ROUND_ACTIONS.InviteUsersIntoGroup.per
    )
  );
  add('DismissGroup', { calls: changes['groups.dismissed'], max: changes['groups.dismissed'] ? 1 : 0 });
  const both = `main.groups n JOIN old.groups o ON o.id = n.id`;
  const dataChanged = `n.name IS NOT o.name OR n.avatar_url IS NOT o.avatar_url OR n.notice IS NOT o.notice`;
  const attributesChanged = `n.attributes IS NOT o.attributes`;
  changes['groups.changed'] = num(db, `SELECT count(*) FROM ${both} WHERE ${dataChanged} OR ${attributesChanged}`);
  add('UpdateGroupData', { calls: num(db, `SELECT count(*) FROM ${both} WHERE ${dataChanged}`), max: 0 });
  add('ModifyGroupAttribute', { calls: num(db, `SELECT count(*) FROM ${both} WHERE ${attributesChanged}`), max: 0 });
  changes['groups.owner'] = num(db, `SELECT count(*) FROM ${both} WHERE n.owner IS NOT o.owner`);
  add('TransferGroupOwner', { calls: changes['groups.owner'], max: changes['groups.owner'] ? 1 : 0 });

  // Members of groups both stagings hold (a new group's come with it, a dismissed one's go with it).
  const kept = `grp NOT IN (SELECT id FROM new_groups) AND grp IN (SELECT id FROM main.groups)`;
  const joined = `SELECT grp, user FROM main.group_members WHERE ${kept} EXCEPT SELECT grp, user FROM old.group_members`;
  const left = `SELECT grp, user FROM old.group_members WHERE grp NOT IN (SELECT id FROM gone_groups)
                EXCEPT SELECT grp, user FROM main.group_members`;
  changes['members.joined'] = num(db, `SELECT count(*) FROM (${joined})`);
  changes['members.left'] = num(db, `SELECT count(*) FROM (${left})`);
  add(
    'InviteUsersIntoGroup',
    batched(db, `SELECT count(*) AS n FROM (${joined}) GROUP BY grp`, ROUND_ACTIONS.InviteUsersIntoGroup.per)
  );
  add(
    'KickoutGroupUser',
    batched(db, `SELECT count(*) AS n FROM (${left}) GROUP BY grp`, ROUND_ACTIONS.KickoutGroupUser.per)
  );
  const stayed = `main.group_members n JOIN old.group_members o ON o.grp = n.grp AND o.user = n.user`;
  // A transfer moves the owner role itself: only admin ↔ member changes are role calls.
  changes['members.role'] = num(
    db,
    `SELECT count(*) FROM ${stayed} WHERE n.role IS NOT o.role AND n.role != 'owner' AND o.role != 'owner'`
  );
  // New groups' admins and joiners made admin are set after they join, one call each.
  const newAdmins = num(
    db,
    `SELECT count(*) FROM main.group_members WHERE role = 'admin'
     AND (grp IN (SELECT id FROM new_groups) OR (grp, user) IN (${joined}))`
  );
  add('SetGroupMemberRole', { calls: changes['members.role'] + newAdmins, max: 0 });
  const renamed = `SELECT n.grp FROM ${stayed} WHERE n.nickname IS NOT o.nickname
                   UNION ALL SELECT grp FROM (${joined}) j JOIN main.group_members m USING (grp, user)
                   WHERE m.nickname IS NOT NULL
                   UNION ALL SELECT grp FROM main.group_members
                   WHERE grp IN (SELECT id FROM new_groups) AND nickname IS NOT NULL`;
  changes['members.nickname'] = num(db, `SELECT count(*) FROM ${stayed} WHERE n.nickname IS NOT o.nickname`);
  add(
    'SetGroupMembersNickname',
    batched(db, `SELECT count(*) AS n FROM (${renamed}) GROUP BY grp`, ROUND_ACTIONS.SetGroupMembersNickname.per)
  );

  // Messages: new source ids; conflicts where a conversation already holds a newer one.
  db.exec(`
    CREATE TEMP TABLE old_peer_newest AS
      SELECT min(f, t) AS a, max(f, t) AS b, max(sent) AS newest FROM old.peer_messages WHERE status = 0 GROUP BY 1, 2;
    CREATE TEMP TABLE new_peer AS
      SELECT m.id, m.src, min(m.f, m.t) AS a, max(m.f, m.t) AS b, m.sent, o.newest
      FROM main.peer_messages m LEFT JOIN old_peer_newest o ON o.a = min(m.f, m.t) AND o.b = max(m.f, m.t)
      WHERE m.status = 0 AND m.src NOT IN (SELECT src FROM old.peer_messages);
    CREATE TEMP TABLE old_group_newest AS
      SELECT grp, max(sent) AS newest FROM old.group_messages WHERE status = 0 GROUP BY grp;
    CREATE TEMP TABLE new_group AS
      SELECT m.id, m.src, m.grp, m.sent, o.newest FROM main.group_messages m LEFT JOIN old_group_newest o USING (grp)
      WHERE m.status = 0 AND m.src NOT IN (SELECT src FROM old.group_messages);
  `);
  const latePeer = `SELECT src, 'peer:' || a || '|' || b AS conversation, sent, newest FROM new_peer WHERE sent < newest`;
  const lateGroup = `SELECT src, 'group:' || grp AS conversation, sent, newest FROM new_group WHERE sent < newest`;
  changes['messages.late'] = num(db, `SELECT count(*) FROM (${latePeer} UNION ALL ${lateGroup})`);
  changes['peer_messages.added'] = num(db, `SELECT count(*) FROM new_peer WHERE newest IS NULL OR sent >= newest`);
  changes['group_messages.added'] = num(db, `SELECT count(*) FROM new_group WHERE newest IS NULL OR sent >= newest`);
  // Each owner's copy is one import (a side that deleted it, or a closed account, has none).
  add('ImportPeerMsg', {
    calls: num(
      db,
      `SELECT count(*) FROM main.peer_copies c JOIN new_peer p ON p.id = c.msg WHERE p.newest IS NULL OR p.sent >= p.newest`
    ),
    max: 0,
  });
  add('ImportGroupMsg', { calls: changes['group_messages.added'], max: 0 });
  const late = (
    db.prepare(`${latePeer} UNION ALL ${lateGroup} ORDER BY sent LIMIT ${LATE_SHOWN}`).all() as {
      src: string;
      conversation: string;
      sent: number;
      newest: number;
    }[]
  ).map((r) => ({ sourceId: r.src, conversation: r.conversation, sentAt: r.sent, newestAt: r.newest }));
  const messagesGone = incremental
    ? 0
    : num(
        db,
        `SELECT count(*) FROM old.peer_messages WHERE status = 0 AND src NOT IN (SELECT src FROM main.peer_messages)`
      ) +
      num(
        db,
        `SELECT count(*) FROM old.group_messages WHERE status = 0 AND grp NOT IN (SELECT id FROM gone_groups)
       AND src NOT IN (SELECT src FROM main.group_messages)`
      );
  return { changes, calls, maxCallsPerGroup, late, messagesGone };
}
