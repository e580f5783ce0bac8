/**
 * Stages a catch-up round in a migration's SQLite staging (issue #13): the later export, staged beside it by
 * plan-round.ts, is compared with what the migration staged (itself brought forward by every earlier round), and
 * in ONE transaction
 *   - the round's changes are written as work: pages of ops (zm_round_ops, one ZIM call a page, with the values the
 *     call needs), the fan-out items of the stages it reuses (new groups; owners and groups with new messages), and
 *     the late messages it will not import (zm_round_late);
 *   - the staged records are brought to the later export's state (accounts, relations, groups and members replaced;
 *     new messages appended, history read tables and page indexes rebuilt), so the next round compares with it and
 *     verify checks the final state;
 *   - the round's row is written, with what it adds to each stage's plan (round-planned.ts) in its `changes`.
 * A crash before the commit leaves nothing behind, so staging again is safe; a staged round is never staged twice.
 */
import { ROUND_OP_ACTION, type RoundOp } from '../../shared/rounds';
import type { RoundRecord, StageRoundInput, StagingMeta } from '../migration-store';
import { roundPlannedOf, roundPlannedSql, type RoundPlanned } from '../round-planned';
import { rebuildCallBatches } from './call-batches';
import type { Db } from './database';
import { buildHistoryTables, countAll } from './finalize';
import { RowStatus } from './schema';

const OK = RowStatus.ok;

export const ROUND_SCHEMA = `
CREATE TABLE IF NOT EXISTS zm_rounds(round INTEGER PRIMARY KEY, export_dir TEXT NOT NULL, kind TEXT NOT NULL,
  since_ms INTEGER, until_ms INTEGER, state TEXT NOT NULL, staged_at INTEGER NOT NULL, started_at INTEGER,
  finished_at INTEGER, changes TEXT NOT NULL, eta_seconds INTEGER NOT NULL,
  first_peer_msg INTEGER NOT NULL, first_group_msg INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS zm_round_ops(round INTEGER NOT NULL, op TEXT NOT NULL, page INTEGER NOT NULL,
  target TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY(round, op, page, target, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zm_round_items(round INTEGER NOT NULL, stage TEXT NOT NULL, id TEXT NOT NULL,
  planned INTEGER NOT NULL, start INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(round, stage, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zm_round_late(round INTEGER NOT NULL, src TEXT NOT NULL, conversation TEXT NOT NULL,
  sent INTEGER NOT NULL, newest INTEGER NOT NULL, PRIMARY KEY(round, src)) WITHOUT ROWID;`;

/** A JSON object of the changed fields only: `field` when `n.col IS NOT o.col` (null becomes ''). */
const changed = (pairs: [string, string][]) =>
  `json_object(${pairs.map(([f, c]) => `'${f}', CASE WHEN n.${c} IS NOT o.${c} THEN coalesce(n.${c}, '') END`).join(', ')})`;
const anyChanged = (cols: string[]) => cols.map((c) => `n.${c} IS NOT o.${c}`).join(' OR ');

/** Each op's items: target (the batch's user or group), key, data; `new` is the later staging, `main` the migration's. */
const OP_SOURCES: Record<RoundOp, string> = {
  register: `SELECT '' AS target, n.id AS key, json_object('UserName', n.nickname, 'UserAvatar', n.avatar_url) AS data
    FROM new.users n WHERE n.id NOT IN (SELECT id FROM main.users)`,
  // Changed fields of known accounts; a new account's extended data (UserRegister does not take it).
  profile: `SELECT '' AS target, n.id AS key,
      ${changed([
        ['UserName', 'nickname'],
        ['UserAvatar', 'avatar_url'],
        ['Extra', 'extended_data'],
      ])} AS data
    FROM new.users n JOIN main.users o ON o.id = n.id WHERE ${anyChanged(['nickname', 'avatar_url', 'extended_data'])}
    UNION ALL SELECT '', n.id, json_object('Extra', n.extended_data) FROM new.users n
    WHERE n.extended_data IS NOT NULL AND n.id NOT IN (SELECT id FROM main.users)`,
  // One-way when the other side's record stays (ZIM would otherwise end both). A friendship ended on both sides is
  // one two-way call, from the smaller id: the other side's record goes with it.
  unfriend: `WITH removed AS (SELECT user, friend FROM main.friends EXCEPT SELECT user, friend FROM new.friends)
    SELECT user AS target, friend AS key,
      json_object('oneWay', json((friend, user) IN (SELECT user, friend FROM new.friends))) AS data
    FROM removed WHERE NOT (user > friend AND (friend, user) IN (SELECT user, friend FROM removed))`,
  unblock: `SELECT user AS target, blocked AS key, '{}' AS data FROM
    (SELECT user, blocked FROM main.blocks EXCEPT SELECT user, blocked FROM new.blocks)`,
  friend: `SELECT n.user AS target, n.friend AS key,
      json_object('alias', n.alias, 'since', n.since, 'attributes', json(n.attributes)) AS data
    FROM new.friends n WHERE (n.user, n.friend) NOT IN (SELECT user, friend FROM main.friends)`,
  block: `SELECT n.user AS target, n.blocked AS key, '{}' AS data
    FROM new.blocks n WHERE (n.user, n.blocked) NOT IN (SELECT user, blocked FROM main.blocks)`,
  'group-data': `SELECT n.id AS target, n.id AS key,
      json_object('actor', o.owner, 'fields', ${changed([
        ['GroupName', 'name'],
        ['GroupAvatar', 'avatar_url'],
        ['GroupNotice', 'notice'],
      ])}) AS data
    FROM new.groups n JOIN main.groups o ON o.id = n.id WHERE ${anyChanged(['name', 'avatar_url', 'notice'])}`,
  'group-attributes': `SELECT n.id AS target, n.id AS key,
      json_object('actor', o.owner, 'before', json(coalesce(o.attributes, '{}')),
        'after', json(coalesce(n.attributes, '{}'))) AS data
    FROM new.groups n JOIN main.groups o ON o.id = n.id WHERE n.attributes IS NOT o.attributes`,
  // Joiners of groups both hold, invited by the owner ZIM knows before the transfer.
  invite: `SELECT n.grp AS target, n.user AS key, json_object('actor', o.owner, 'joinedAt', n.joined_at) AS data
    FROM new.group_members n JOIN main.groups o ON o.id = n.grp
    WHERE (n.grp, n.user) NOT IN (SELECT grp, user FROM main.group_members)`,
  transfer: `SELECT n.id AS target, n.owner AS key, json_object('actor', o.owner) AS data
    FROM new.groups n JOIN main.groups o ON o.id = n.id WHERE n.owner IS NOT o.owner`,
  kick: `SELECT o.grp AS target, o.user AS key, json_object('actor', g.owner) AS data
    FROM main.group_members o JOIN new.groups g ON g.id = o.grp
    WHERE (o.grp, o.user) NOT IN (SELECT grp, user FROM new.group_members)`,
  // Admin ↔ member of members who stay, a former owner's new role, joiners made admin (a transfer moves the owner).
  role: `SELECT n.grp AS target, n.user AS key, json_object('actor', g.owner, 'role', n.role) AS data
    FROM new.group_members n JOIN new.groups g ON g.id = n.grp
    LEFT JOIN main.group_members o ON o.grp = n.grp AND o.user = n.user
    WHERE n.grp IN (SELECT id FROM main.groups) AND n.role <> 'owner'
      AND (CASE WHEN o.user IS NULL THEN n.role = 'admin'
           WHEN o.role = 'owner' THEN n.role = 'admin' ELSE n.role <> o.role END)`,
  nickname: `SELECT n.grp AS target, n.user AS key,
      json_object('actor', g.owner, 'nickname', coalesce(n.nickname, '')) AS data
    FROM new.group_members n JOIN new.groups g ON g.id = n.grp
    LEFT JOIN main.group_members o ON o.grp = n.grp AND o.user = n.user
    WHERE n.grp IN (SELECT id FROM main.groups)
      AND (CASE WHEN o.user IS NULL THEN coalesce(n.nickname, '') <> '' ELSE n.nickname IS NOT o.nickname END)`,
  dismiss: `SELECT o.id AS target, o.id AS key, json_object('actor', o.owner) AS data
    FROM main.groups o WHERE o.id NOT IN (SELECT id FROM new.groups)`,
};

/**
 * What items of one page must share besides their target, because they go in one call: DeleteFriends takes one
 * DeleteType a call, so two-way and one-way removals are paged apart (and planned so: difference.ts).
 */
const PAGE_PART: Partial<Record<RoundOp, string>> = { unfriend: `json_extract(data, '$.oneWay')` };

/** Pages: up to `per` items of one target (and part) each, numbered from 0 in (target, part, key) order. */
function insertOps(db: Db, round: number, op: RoundOp): void {
  const per = ROUND_OP_ACTION[op].per;
  const part = PAGE_PART[op] ?? `''`;
  db.prepare(
    `INSERT INTO zm_round_ops(round, op, page, target, key, data)
     SELECT ?, ?, dense_rank() OVER (ORDER BY target, part, (rn - 1) / ${per}) - 1, target, key, data
     FROM (SELECT target, key, data, part, row_number() OVER (PARTITION BY target, part ORDER BY key) AS rn
       FROM (SELECT target, key, data, ${part} AS part FROM (${OP_SOURCES[op]})))`
  ).run(round, op);
}

/**
 * `countPlanned: false` on a copy without the ledger (pg-stage-round.ts), which counts the round's plan against
 * its own ledger instead.
 */
export function stageRoundSqlite(db: Db, input: StageRoundInput, opts = { countPlanned: true }): RoundRecord {
  db.exec(ROUND_SCHEMA);
  const existing = db.prepare(`SELECT round FROM zm_rounds WHERE round = ?`).get(input.round);
  if (existing) throw new Error(`round ${input.round} is already staged`);
  db.prepare('ATTACH DATABASE ? AS new').run(input.laterFile);
  try {
    db.transaction(() => applyRound(db, input, opts.countPlanned)).immediate();
  } finally {
    db.exec('DETACH DATABASE new');
  }
  return readRounds(db).find((r) => r.round === input.round)!;
}

function applyRound(db: Db, input: StageRoundInput, countPlanned: boolean): void {
  const { round } = input;
  for (const op of Object.keys(OP_SOURCES) as RoundOp[]) insertOps(db, round, op);
  const num = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0;
  const firstPeer = num(`SELECT max(id) FROM main.peer_messages`) + 1;
  const firstGroup = num(`SELECT max(id) FROM main.group_messages`) + 1;
  const app = num(`SELECT min(idx) FROM main.apps`);

  // New messages: by source id, not older than their conversation's newest (those are conflicts, reported).
  db.exec(`
    CREATE TEMP TABLE round_peer AS
      SELECT m.*, (SELECT max(sent) FROM main.peer_messages o WHERE o.status = ${OK}
        AND min(o.f, o.t) = min(m.f, m.t) AND max(o.f, o.t) = max(m.f, m.t)) AS newest
      FROM new.peer_messages m WHERE m.status = ${OK} AND m.src NOT IN (SELECT src FROM main.peer_messages);
    CREATE TEMP TABLE round_group AS
      SELECT m.*, (SELECT max(sent) FROM main.group_messages o WHERE o.status = ${OK} AND o.grp = m.grp) AS newest
      FROM new.group_messages m WHERE m.status = ${OK} AND m.src NOT IN (SELECT src FROM main.group_messages)
        AND m.grp IN (SELECT id FROM new.groups);`);
  db.prepare(
    `INSERT INTO zm_round_late(round, src, conversation, sent, newest)
     SELECT ?, src, 'peer:' || min(f, t) || '|' || max(f, t), sent, newest FROM round_peer WHERE sent < newest
     UNION ALL SELECT ?, src, 'group:' || grp, sent, newest FROM round_group WHERE sent < newest`
  ).run(round, round);
  // One file entry per round and entity: new messages sort after the older ones they tie with.
  const fileOf = (entity: string) =>
    Number(
      db
        .prepare(`INSERT INTO main.files(app, entity, path, lines, records) VALUES (?, ?, ?, NULL, NULL)`)
        .run(app, entity, `round ${round}: ${input.exportDir}`).lastInsertRowid
    );
  db.prepare(
    `INSERT INTO main.peer_messages(app, src, f, t, sent, type, sub_type, body, searched, del_f, del_t, file, line,
       status, content)
     SELECT ?, src, f, t, sent, type, sub_type, body, searched, del_f, del_t, ?, row_number() OVER (ORDER BY file, line),
       ${OK}, NULL FROM round_peer WHERE newest IS NULL OR sent >= newest ORDER BY file, line`
  ).run(app, fileOf('peer_messages'));
  db.prepare(
    `INSERT INTO main.group_messages(app, src, grp, f, sent, type, sub_type, body, searched, file, line, status)
     SELECT ?, src, grp, f, sent, type, sub_type, body, searched, ?, row_number() OVER (ORDER BY file, line), ${OK}
     FROM round_group WHERE newest IS NULL OR sent >= newest ORDER BY file, line`
  ).run(app, fileOf('group_messages'));
  db.exec(`DROP TABLE round_peer; DROP TABLE round_group;`);

  db.exec(
    `CREATE TEMP TABLE round_new_groups AS SELECT id FROM new.groups WHERE id NOT IN (SELECT id FROM main.groups)`
  );
  // The staged records become the later export's (accounts are never unregistered: one missing stays).
  const appName = db.prepare(`SELECT name FROM main.apps WHERE idx = ?`).pluck().get(app) as string;
  db.prepare(
    `INSERT OR REPLACE INTO main.users(id, nickname, avatar_url, extended_data, created_at, deactivated, apps)
     SELECT n.id, n.nickname, n.avatar_url, n.extended_data, n.created_at, n.deactivated,
       coalesce((SELECT apps FROM main.users o WHERE o.id = n.id), json_array(?)) FROM new.users n`
  ).run(appName);
  db.exec(`
    DELETE FROM main.friends; INSERT INTO main.friends SELECT * FROM new.friends;
    DELETE FROM main.blocks; INSERT INTO main.blocks SELECT * FROM new.blocks;
    DELETE FROM main.group_members; INSERT INTO main.group_members SELECT * FROM new.group_members;
    DELETE FROM main.groups WHERE id NOT IN (SELECT id FROM new.groups);`);
  db.prepare(
    `INSERT INTO main.groups(id, source_id, app, name, owner, avatar_url, notice, attributes, created_at, member_count,
       message_count, first_msg, muted)
     SELECT n.id, n.source_id, ?, n.name, n.owner, n.avatar_url, n.notice, n.attributes, n.created_at, n.member_count,
       0, NULL, n.muted FROM new.groups n WHERE true
     ON CONFLICT(id) DO UPDATE SET name = excluded.name, owner = excluded.owner, avatar_url = excluded.avatar_url,
       notice = excluded.notice, attributes = excluded.attributes, member_count = excluded.member_count,
       muted = excluded.muted, message_count = 0, first_msg = NULL`
  ).run(appName);
  db.exec(
    `DELETE FROM main.peer_copies; DELETE FROM main.owners; DELETE FROM main.group_seq; DELETE FROM main.read_states;`
  );
  const conversations = buildHistoryTables(db);
  rebuildCallBatches(db);

  // The fan-out items: new groups (set up as the groups stage does), owners and groups with new messages.
  db.prepare(
    `INSERT INTO zm_round_items(round, stage, id, planned)
     SELECT ?, 'groups', g.id, g.member_count + (SELECT count(*) FILTER (WHERE role = 'admin')
       + count(*) FILTER (WHERE nickname IS NOT NULL AND nickname <> '') FROM main.group_members m WHERE m.grp = g.id)
     FROM main.groups g WHERE g.id IN (SELECT id FROM round_new_groups)`
  ).run(round);
  db.exec(`DROP TABLE round_new_groups`);
  db.prepare(
    `INSERT INTO zm_round_items(round, stage, id, planned)
     SELECT ?, 'peer-messages', c.owner, count(*) FROM main.peer_copies c WHERE c.msg >= ? GROUP BY c.owner`
  ).run(round, firstPeer);
  db.prepare(
    `INSERT INTO zm_round_items(round, stage, id, planned, start)
     SELECT ?, 'group-messages', s.grp, count(*), min(s.id) - g.first_msg
     FROM main.group_seq s JOIN main.groups g ON g.id = s.grp WHERE s.msg >= ? GROUP BY s.grp`
  ).run(round, firstGroup);

  // Counts as staged now: what stageWork plans verify with. The migration's own stay its plan (report); rounds are
  // numbered from 1 with none before it.
  const meta = JSON.parse(
    db.prepare(`SELECT value FROM meta WHERE key = 'meta'`).pluck().get() as string
  ) as StagingMeta;
  if (round === 1) meta.migrationCounts ??= meta.counts;
  meta.counts = countAll(db, conversations.count);
  db.prepare(`UPDATE meta SET value = ? WHERE key = 'meta'`).run(JSON.stringify(meta));
  const planned = countPlanned
    ? roundPlannedOf(db.prepare(roundPlannedSql('sqlite', round)).all() as Record<string, unknown>[])
    : undefined;

  db.prepare(
    `INSERT INTO zm_rounds(round, export_dir, kind, since_ms, until_ms, state, staged_at, changes, eta_seconds,
       first_peer_msg, first_group_msg) VALUES (?, ?, ?, ?, ?, 'staged', ?, ?, ?, ?, ?)`
  ).run(
    round,
    input.exportDir,
    input.kind,
    input.sinceMs,
    input.untilMs,
    Date.now(),
    roundChanges(input.changes, planned),
    input.etaSeconds,
    firstPeer,
    firstGroup
  );
}

export function readRounds(db: Db): RoundRecord[] {
  db.exec(ROUND_SCHEMA);
  return (db.prepare(`SELECT * FROM zm_rounds ORDER BY round`).all() as Record<string, unknown>[]).map(roundOf);
}

/**
 * A round's `changes` column: records per change kind, and under `planned` what the round adds to each stage's plan
 * (absent in rounds staged before it was counted).
 */
export const roundChanges = (changes: Record<string, number>, planned: RoundPlanned | undefined) =>
  JSON.stringify(planned ? { ...changes, planned } : changes);

export function roundOf(r: Record<string, unknown>): RoundRecord {
  const { planned, ...changes } = JSON.parse(r.changes as string) as Record<string, number> & {
    planned?: RoundPlanned;
  };
  return {
    round: Number(r.round),
    exportDir: r.export_dir as string,
    kind: r.kind as RoundRecord['kind'],
    sinceMs: r.since_ms == null ? null : Number(r.since_ms),
    untilMs: r.until_ms == null ? null : Number(r.until_ms),
    state: r.state as RoundRecord['state'],
    stagedAt: Number(r.staged_at),
    startedAt: r.started_at == null ? null : Number(r.started_at),
    finishedAt: r.finished_at == null ? null : Number(r.finished_at),
    changes,
    ...(planned && { planned }),
    etaSeconds: Number(r.eta_seconds),
  };
}
