/**
 * The merged records of several exports (the rules: src/merge/merge-apps.ts), built in SQL over the staging file's
 * load tables: one user per id with each profile field from the best-ranked app that has it, each relation once,
 * and each one-to-one message exported by two apps kept once.
 */
import type { Db } from './database';
import { RowStatus } from './schema';

export interface MergeSummary {
  apps: number;
  /** Users found in more than one app, merged into one profile. */
  usersMerged: number;
  friendsDeduplicated: number;
  blocksDeduplicated: number;
  peerMessagesDeduplicated: number;
}

const LIVE = `status IN (${RowStatus.ok}, ${RowStatus.expired})`;

/**
 * The best-ranked non-empty value of a column within a GROUP BY over the table joined with apps `a`:
 * the smallest "rank + value" string, rank stripped. One pass, no subquery per key.
 */
const preferred = (column: string) =>
  `substr(min(CASE WHEN x.${column} <> '' THEN printf('%06d', a.rank) || x.${column} END), 7)`;

export function insertMergedUsers(db: Db): void {
  db.exec(`
    INSERT INTO users(id, nickname, avatar_url, extended_data, created_at, deactivated, apps)
    SELECT x.id, ${preferred('nickname')}, ${preferred('avatar_url')}, ${preferred('extended_data')},
      min(x.created_at), min(x.deactivated), json_group_array(a.name ORDER BY a.rank)
    FROM raw_users x JOIN apps a ON a.idx = x.app WHERE x.status = ${RowStatus.ok} GROUP BY x.id`);
}

export function insertMergedFriends(db: Db): void {
  db.exec(`
    INSERT INTO friends(user, friend, alias, wording, attributes, since)
    SELECT x.user, x.friend, ${preferred('alias')}, ${preferred('wording')}, ${preferred('attributes')}, min(x.since)
    FROM raw_friends x JOIN apps a ON a.idx = x.app WHERE x.status = ${RowStatus.ok} GROUP BY x.user, x.friend`);
}

export function insertMergedBlocks(db: Db): void {
  db.exec(`
    INSERT INTO blocks(user, blocked, since)
    SELECT user, blocked, min(since) FROM raw_blocks WHERE status = ${RowStatus.ok} GROUP BY user, blocked`);
}

/**
 * Marks the copies of a message that a better-ranked app also exported as merged, after carrying their
 * deletions over to the copy that is kept. Only across apps: within one app, equal messages with different
 * ids are real repeats ("ok", "ok").
 */
export function mergeDuplicatePeerMessages(db: Db): number {
  const MARK = 8;
  db.exec(`CREATE INDEX peer_messages_content ON peer_messages(f, t, sent)`);
  const sameContent = `k.f = t.f AND k.t = t.t AND k.sent = t.sent AND k.content = t.content AND k.app <> t.app`;
  const marked = db
    .prepare(
      `UPDATE peer_messages AS t SET status = ${MARK} WHERE t.${LIVE} AND EXISTS (
         SELECT 1 FROM peer_messages k JOIN apps ka ON ka.idx = k.app
         WHERE ${sameContent} AND k.${LIVE} AND ka.rank < (SELECT rank FROM apps WHERE idx = t.app))`
    )
    .run().changes;
  if (marked > 0) {
    for (const col of ['del_f', 'del_t'])
      db.exec(`UPDATE peer_messages AS k SET ${col} = 1 WHERE k.${LIVE} AND k.${col} = 0 AND EXISTS (
        SELECT 1 FROM peer_messages t WHERE t.status = ${MARK} AND t.${col} = 1 AND ${sameContent})`);
    db.exec(`UPDATE peer_messages SET status = ${RowStatus.merged} WHERE status = ${MARK}`);
  }
  return marked;
}

export function mergeSummary(db: Db): MergeSummary {
  const count = (sql: string) => db.prepare(sql).pluck().get() as number;
  const dedup = (table: string, pair: string) =>
    count(`SELECT count(*) - (SELECT count(*) FROM (SELECT 1 FROM ${table} WHERE status = ${RowStatus.ok} GROUP BY ${pair}))
           FROM ${table} WHERE status = ${RowStatus.ok}`);
  return {
    apps: count('SELECT count(*) FROM apps'),
    usersMerged: count(`SELECT count(*) FROM users WHERE json_array_length(apps) > 1`),
    friendsDeduplicated: dedup('raw_friends', 'user, friend'),
    blocksDeduplicated: dedup('raw_blocks', 'user, blocked'),
    peerMessagesDeduplicated: count(`SELECT count(*) FROM peer_messages WHERE status = ${RowStatus.merged}`),
  };
}
