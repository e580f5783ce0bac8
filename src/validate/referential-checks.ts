/**
 * The checks across records, in dependency order: users, then what refers to users, then what refers to
 * groups. A record rejected here drags down what refers to it (a message to a rejected user is itself
 * unimportable), and each such record gets its own reject naming the reference.
 */
import type { RejectLog } from '../import-format/rejects';
import type { ZimLimits } from '../import-format/zim-limits';
import type { Db } from '../staging/sqlite/database';
import { RowStatus } from '../staging/sqlite/schema';
import { SqlChecks, type StagedRow } from './sql-checks';

const LIVE = `status IN (${RowStatus.ok}, ${RowStatus.expired})`;
const userExists = (col: string) => `EXISTS (SELECT 1 FROM users u WHERE u.id = ${col})`;
const activeUser = (col: string) => `EXISTS (SELECT 1 FROM users u WHERE u.id = ${col} AND u.deactivated = 0)`;
const liveGroup = (app: string, grp: string) =>
  `EXISTS (SELECT 1 FROM raw_groups g WHERE g.app = ${app} AND g.id = ${grp} AND g.status = ${RowStatus.ok})`;
const s = (v: unknown) => String(v);
/** k comes before t in the export (files are numbered in reading order; large files load in parallel parts). */
const EARLIER = '(k.file, k.line) < (t.file, t.line)';
/** Where the kept record of a duplicate is: "line 12", or "path:12" when it is in another file (a part). */
const keptAt = (table: string, same: string) =>
  `(SELECT CASE WHEN k.file = t.file THEN 'line ' || k.line ELSE fl.path || ':' || k.line END
    FROM ${table} k JOIN files fl ON fl.id = k.file WHERE ${same} ORDER BY k.file, k.line LIMIT 1) AS kept_at`;

export class ReferentialChecks {
  private readonly sql: SqlChecks;

  constructor(
    db: Db,
    log: RejectLog,
    private readonly limits: ZimLimits
  ) {
    this.sql = new SqlChecks(db, log);
    db.exec(`
      CREATE INDEX raw_users_id ON raw_users(id);
      CREATE INDEX raw_groups_id ON raw_groups(id);
      CREATE INDEX raw_friends_pair ON raw_friends(user, friend);
      CREATE INDEX raw_blocks_pair ON raw_blocks(user, blocked);
      CREATE INDEX raw_members_pair ON raw_group_members(grp, user);
      CREATE INDEX peer_messages_src ON peer_messages(src);
      CREATE INDEX group_messages_src ON group_messages(src);
    `);
  }

  /**
   * Duplicate ids within one app: the first record (in file and line order) is kept, later ones are
   * errors. The keys that occur more than once are found first from the index, so the common case (none)
   * costs one index scan instead of a probe per row.
   */
  duplicateIds(table: string, key: string, what: string): void {
    const sameKey = `k.app = t.app AND k.${key} = t.${key} AND k.${LIVE}`;
    this.sql.flag({
      table,
      where: `t.${key} IN (SELECT ${key} FROM ${table} WHERE ${LIVE} GROUP BY ${key} HAVING count(*) > 1)
        AND EXISTS (SELECT 1 FROM ${table} k WHERE ${sameKey} AND ${EARLIER})`,
      rule: 'dup.id',
      extra: keptAt(table, sameKey),
      recordId: (r) => s(r[key]),
      message: (r) => `${what} ${s(r[key])} repeats ${s(r.kept_at)}, which is kept`,
    });
  }

  usersCap(userCount: number): void {
    if (this.limits.maxUsers !== null && userCount > this.limits.maxUsers)
      this.sql.exportWide(
        'cap.users',
        `${userCount} users; the ${this.limits.plan} plan allows ${this.limits.maxUsers}`
      );
  }

  groups(): void {
    this.duplicateIds('raw_groups', 'id', 'group id');
    this.unknownUsers('raw_groups', ['owner'], (r) => s(r.source_id), ['owner']);
    // Groups never merge: the same id in a second app is an error unless a prefix separates them.
    this.sql.flag({
      table: 'raw_groups',
      where: `EXISTS (SELECT 1 FROM raw_groups k JOIN apps ka ON ka.idx = k.app JOIN apps ta ON ta.idx = t.app
                      WHERE k.id = t.id AND k.app <> t.app AND k.status = ${RowStatus.ok} AND ka.rank < ta.rank)`,
      rule: 'merge.group-collision',
      extra: `(SELECT group_concat(a.name) FROM raw_groups k JOIN apps a ON a.idx = k.app
               WHERE k.id = t.id AND k.app <> t.app) AS other_apps`,
      recordId: (r) => s(r.source_id),
      message: (r) => `group id ${s(r.id)} is also a group of app ${s(r.other_apps)}`,
    });
    const groups = this.sql.count(`SELECT count(*) FROM raw_groups WHERE status = ${RowStatus.ok}`);
    if (this.limits.maxGroups !== null && groups > this.limits.maxGroups)
      this.sql.exportWide(
        'cap.groups',
        `${groups} groups; the ${this.limits.plan} plan allows ${this.limits.maxGroups}`
      );
  }

  /** Friendships and blocks: known users, one record per pair per app, deactivated users left out, caps. */
  relations(
    table: 'raw_friends' | 'raw_blocks',
    other: 'friend' | 'blocked',
    cap: number,
    capRule: 'cap.friends' | 'cap.blocks'
  ): void {
    const id = (r: StagedRow) => `${s(r.user)}→${s(r[other])}`;
    this.unknownUsers(table, ['user', other], id, ['user', other]);
    const samePair = `k.app = t.app AND k.user = t.user AND k.${other} = t.${other} AND k.status = ${RowStatus.ok}`;
    this.sql.flag({
      table,
      where: `EXISTS (SELECT 1 FROM ${table} k WHERE ${samePair} AND ${EARLIER})`,
      rule: 'dup.relation',
      status: RowStatus.merged,
      extra: keptAt(table, samePair),
      recordId: id,
      message: (r) => `${id(r)} repeats ${s(r.kept_at)}, which is kept`,
    });
    this.sql.setStatus(table, `NOT ${activeUser('t.user')} OR NOT ${activeUser(`t.${other}`)}`, RowStatus.skipped);
    // The cap counts distinct pairs across apps (what ZIM will hold); records past it are errors.
    this.sql.flag({
      table,
      where: `t.rowid IN (SELECT rid FROM (SELECT rid, dense_rank() OVER (PARTITION BY user ORDER BY ${other}) AS n
                FROM (SELECT rowid AS rid, user, ${other} FROM ${table} WHERE status = ${RowStatus.ok})) WHERE n > ?)`,
      params: [cap],
      among: [RowStatus.ok],
      rule: capRule,
      extra: `(SELECT count(DISTINCT k.${other}) FROM ${table} k WHERE k.user = t.user AND k.status IN (${RowStatus.ok}, 9)) AS total`,
      recordId: id,
      message: (r) =>
        `${s(r.user)} has ${s(r.total)} (${other === 'friend' ? 'friends' : 'blocked users'}); ZIM allows ${cap}, this one is past the limit`,
    });
  }

  members(): void {
    const id = (r: StagedRow) => `${s(r.grp)}/${s(r.user)}`;
    this.sql.flag({
      table: 'raw_group_members',
      where: `NOT ${liveGroup('t.app', 't.grp')}`,
      rule: 'ref.unknown-group',
      recordId: id,
      message: (r) => `group ${s(r.grp)} is not in this app's groups (or its record was rejected)`,
    });
    this.unknownUsers('raw_group_members', ['user'], id, ['user']);
    const samePair = `k.app = t.app AND k.grp = t.grp AND k.user = t.user AND k.status = ${RowStatus.ok}`;
    this.sql.flag({
      table: 'raw_group_members',
      where: `EXISTS (SELECT 1 FROM raw_group_members k WHERE ${samePair} AND ${EARLIER})`,
      rule: 'dup.relation',
      status: RowStatus.merged,
      extra: keptAt('raw_group_members', samePair),
      recordId: id,
      message: (r) => `membership ${id(r)} repeats ${s(r.kept_at)}, which is kept`,
    });
    const ownerOf = `(SELECT g.owner FROM raw_groups g WHERE g.app = t.app AND g.id = t.grp AND g.status = ${RowStatus.ok})`;
    this.sql.flag({
      table: 'raw_group_members',
      where: `t.role = 'owner' AND t.user <> ${ownerOf}`,
      rule: 'member.role',
      extra: `${ownerOf} AS owner`,
      recordId: id,
      message: (r) => `${s(r.user)} has role owner, but the group's owner is ${s(r.owner)}`,
    });
    this.sql.setStatus('raw_group_members', `t.user <> ${ownerOf} AND NOT ${activeUser('t.user')}`, RowStatus.skipped);
    // Cap: the owner plus distinct members. Members past the cap (latest joiners) are errors.
    const cap = this.limits.maxGroupMembers;
    this.sql.flag({
      table: 'raw_group_members',
      where: `t.rowid IN (SELECT rid FROM (
                SELECT m.rowid AS rid, row_number() OVER (PARTITION BY m.app, m.grp ORDER BY m.joined_at, m.user) AS n
                FROM raw_group_members m JOIN raw_groups g ON g.app = m.app AND g.id = m.grp AND g.status = ${RowStatus.ok}
                WHERE m.status = ${RowStatus.ok} AND m.user <> g.owner) WHERE n > ?)`,
      params: [cap - 1],
      among: [RowStatus.ok],
      rule: 'cap.group-members',
      extra: `(SELECT count(*) + 1 FROM raw_group_members k JOIN raw_groups g ON g.app = k.app AND g.id = k.grp
               WHERE k.app = t.app AND k.grp = t.grp AND k.user <> g.owner AND k.status IN (${RowStatus.ok}, 9)) AS total`,
      recordId: id,
      message: (r) =>
        `group ${s(r.grp)} has ${s(r.total)} members with its owner; the ${this.limits.plan} plan allows ${cap}, ${s(r.user)} is past the limit`,
    });
  }

  peerMessages(): void {
    this.unknownUsers('peer_messages', ['f', 't'], (r) => s(r.src), ['from', 'to']);
    this.duplicateIds('peer_messages', 'src', 'message id');
  }

  /** After the cross-app merge: the same source id on two different messages of different apps. */
  peerMessageIdCollisions(): void {
    this.sql.flag({
      table: 'peer_messages',
      where: `EXISTS (SELECT 1 FROM peer_messages k JOIN apps ka ON ka.idx = k.app JOIN apps ta ON ta.idx = t.app
                      WHERE k.src = t.src AND k.app <> t.app AND k.${LIVE} AND ka.rank < ta.rank)`,
      rule: 'merge.message-id-collision',
      extra: `(SELECT group_concat(a.name) FROM peer_messages k JOIN apps a ON a.idx = k.app
               WHERE k.src = t.src AND k.app <> t.app) AS other_apps`,
      recordId: (r) => s(r.src),
      message: (r) => `message id ${s(r.src)} is also a different message in app ${s(r.other_apps)}`,
    });
  }

  groupMessages(): void {
    this.sql.flag({
      table: 'group_messages',
      where: `NOT ${liveGroup('t.app', 't.grp')}`,
      rule: 'ref.unknown-group',
      recordId: (r) => s(r.src),
      message: (r) => `group ${s(r.grp)} is not in this app's groups (or its record was rejected)`,
    });
    this.unknownUsers('group_messages', ['f'], (r) => s(r.src), ['from']);
    this.duplicateIds('group_messages', 'src', 'message id');
  }

  /**
   * Read states: a known, active reader; a known peer or group the reader is a member of; a last-read message of that
   * conversation. Imported only at the newest message of the reader's copy (ZIM's ClearConversationUnread marks a
   * whole conversation read): earlier positions are warned about and left out, as are conversations with nothing
   * to import. A position followed only by the reader's own messages is at the newest: nothing is unread. Runs after the messages' checks, so it sees their final statuses.
   */
  readStates(): void {
    const table = 'raw_read_states';
    if (this.sql.count(`SELECT count(*) FROM ${table}`) === 0) return;
    this.sql.db.exec(`
      CREATE INDEX raw_read_states_key ON raw_read_states(user, kind, conv);
      CREATE INDEX peer_messages_pair ON peer_messages(f, t, sent);
      CREATE INDEX group_messages_grp ON group_messages(grp, sent);`);
    const id = (r: StagedRow) => `${s(r.user)}/${s(r.conv)}`;
    const peer = `t.kind = 'peer'`;
    const group = `t.kind = 'group'`;
    this.unknownUsers(table, ['user'], id, ['user']);
    // Deactivated readers own no copies and no memberships (an export may well leave theirs out): nothing to check.
    this.sql.setStatus(table, `NOT ${activeUser('t.user')}`, RowStatus.skipped);
    this.sql.flag({
      table,
      where: `${peer} AND NOT ${userExists('t.conv')}`,
      rule: 'ref.unknown-user',
      recordId: id,
      message: (r) => `peer ${s(r.conv)} is not in any users file (or its record was rejected)`,
    });
    this.sql.flag({
      table,
      where: `${group} AND NOT ${liveGroup('t.app', 't.conv')}`,
      rule: 'ref.unknown-group',
      recordId: id,
      message: (r) => `group ${s(r.conv)} is not in this app's groups (or its record was rejected)`,
    });
    const ownerOf = `(SELECT g.owner FROM raw_groups g WHERE g.app = t.app AND g.id = t.conv AND g.status = ${RowStatus.ok})`;
    this.sql.flag({
      table,
      where: `${group} AND t.user <> ${ownerOf} AND NOT EXISTS (SELECT 1 FROM raw_group_members m
                WHERE m.app = t.app AND m.grp = t.conv AND m.user = t.user AND m.status IN (${RowStatus.ok}, ${RowStatus.merged}))`,
      rule: 'ref.not-member',
      recordId: id,
      message: (r) => `${s(r.user)} is not a member of group ${s(r.conv)}`,
    });
    // The last-read message, as the conversation holds it (a duplicate merged into another app's copy counts).
    const named = `${RowStatus.ok}, ${RowStatus.expired}, ${RowStatus.merged}`;
    const peerMsg = `SELECT k.* FROM peer_messages k WHERE k.src = t.msg AND k.status IN (${named})
      AND ((k.f = t.user AND k.t = t.conv) OR (k.f = t.conv AND k.t = t.user))`;
    const groupMsg = `SELECT k.* FROM group_messages k WHERE k.src = t.msg AND k.grp = t.conv AND k.status IN (${named})`;
    this.sql.flag({
      table,
      where: `(${peer} AND NOT EXISTS (${peerMsg})) OR (${group} AND NOT EXISTS (${groupMsg}))`,
      rule: 'ref.unknown-message',
      recordId: id,
      message: (r) =>
        `message ${s(r.msg)} is not a message ${r.kind === 'peer' ? `between ${s(r.user)} and ${s(r.conv)}` : `of group ${s(r.conv)}`} (or its record was rejected)`,
    });
    const samePair = `k.app = t.app AND k.user = t.user AND k.kind = t.kind AND k.conv = t.conv AND k.status = ${RowStatus.ok}`;
    this.sql.flag({
      table,
      where: `EXISTS (SELECT 1 FROM ${table} k WHERE ${samePair} AND ${EARLIER})`,
      rule: 'dup.relation',
      status: RowStatus.merged,
      extra: keptAt(table, samePair),
      recordId: id,
      message: (r) => `read state ${id(r)} repeats ${s(r.kept_at)}, which is kept`,
    });
    // What the reader's copy will hold, in the order it is imported (finalize.ts): sent, then file and line.
    const position = (msg: string) => `(SELECT k.sent, k.file, k.line ${msg.slice(msg.indexOf('FROM'))} LIMIT 1)`;
    // The same time alone, as a range the (pair or group, sent) index can seek to.
    const sentOf = (msg: string) => `(SELECT k.sent ${msg.slice(msg.indexOf('FROM'))} LIMIT 1)`;
    // Only what others sent counts: the reader's own later messages leave nothing unread (as in ZIM's count). In a
    // one-to-one copy that is what the peer sent the reader and the reader kept.
    const peerAfter = `EXISTS (SELECT 1 FROM peer_messages m WHERE m.f = t.conv AND m.t = t.user AND m.del_t = 0
      AND m.status = ${RowStatus.ok} AND m.sent >= ${sentOf(peerMsg)} AND (m.sent, m.file, m.line) > ${position(peerMsg)})`;
    const groupAfter = `EXISTS (SELECT 1 FROM group_messages m WHERE m.grp = t.conv AND m.status = ${RowStatus.ok}
      AND m.f <> t.user AND m.sent >= ${sentOf(groupMsg)} AND (m.sent, m.file, m.line) > ${position(groupMsg)})`;
    this.sql.flag({
      table,
      where: `(${peer} AND ${peerAfter}) OR (${group} AND ${groupAfter})`,
      among: [RowStatus.ok],
      rule: 'read.partial',
      status: RowStatus.skipped,
      recordId: id,
      message: (r) =>
        `${s(r.user)} has read ${s(r.conv)} up to ${s(r.msg)}, before newer messages from others; not imported`,
    });
    // Nothing imported into the reader's copy (all expired, or deleted by the reader): no conversation to mark read.
    this.sql.setStatus(
      table,
      `(${peer} AND NOT EXISTS (SELECT 1 FROM peer_messages m WHERE m.f = t.user AND m.t = t.conv AND m.del_f = 0
         AND m.status = ${RowStatus.ok}) AND NOT EXISTS (SELECT 1 FROM peer_messages m WHERE m.f = t.conv
         AND m.t = t.user AND m.del_t = 0 AND m.status = ${RowStatus.ok}))
       OR (${group} AND NOT EXISTS (SELECT 1 FROM group_messages m WHERE m.grp = t.conv AND m.status = ${RowStatus.ok}))`,
      RowStatus.skipped
    );
  }

  /** Records naming users that are not (or no longer, after a reject) among the users: one reject each. */
  private unknownUsers(
    table: string,
    columns: readonly string[],
    recordId: (r: StagedRow) => string,
    fields: readonly string[]
  ): void {
    this.sql.flag({
      table,
      where: columns.map((c) => `NOT ${userExists(`t.${c}`)}`).join(' OR '),
      rule: 'ref.unknown-user',
      extra: columns.map((c) => `${userExists(`t.${c}`)} AS known_${c}`).join(', '),
      recordId,
      message: (r) => {
        const missing = columns.flatMap((c, i) => (r[`known_${c}`] ? [] : [`${fields[i]} ${s(r[c])}`]));
        return `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not in any users file (or its record was rejected)`;
      },
    });
  }
}
