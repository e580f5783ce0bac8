/**
 * The staging file's tables (SQLite). Loaded records keep their app, file and line so that every later
 * reject names where the record came from. `status` follows RowStatus. The read tables that the
 * migration pages through (users … group_seq) are built once validation has passed (finalize.ts);
 * the ledger is written by the migration afterwards.
 */
export const STAGING_FORMAT_VERSION = 1;

/**
 * The key in `zm_meta` (the activities' own table, created by call-batches.ts when a worker first opens the file)
 * that names the migration that last loaded its plan from this file: how `zim-migrate report` finds it.
 */
export const MIGRATION_META_KEY = 'migration';

export const RowStatus = {
  ok: 0,
  /** An error: not imported. */
  rejected: 1,
  /** A duplicate of a record that is kept (same relation twice, the same message in two apps). */
  merged: 2,
  /** Older than the plan's retention: ZIM would refuse it (a warning). */
  expired: 3,
  /** Left out by policy: relations and memberships of deactivated users. */
  skipped: 4,
} as const;

export const LOAD_SCHEMA = `
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE apps(idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, dir TEXT NOT NULL, rank INTEGER NOT NULL);
CREATE TABLE files(id INTEGER PRIMARY KEY, app INTEGER NOT NULL, entity TEXT NOT NULL, path TEXT NOT NULL,
  lines INTEGER, records INTEGER);

CREATE TABLE raw_users(app INTEGER NOT NULL, id TEXT NOT NULL, nickname TEXT, avatar_url TEXT, extended_data TEXT,
  created_at INTEGER, deactivated INTEGER NOT NULL, file INTEGER NOT NULL, line INTEGER NOT NULL, status INTEGER NOT NULL);
CREATE TABLE raw_friends(app INTEGER NOT NULL, user TEXT NOT NULL, friend TEXT NOT NULL, alias TEXT, wording TEXT,
  attributes TEXT, since INTEGER, file INTEGER NOT NULL, line INTEGER NOT NULL, status INTEGER NOT NULL);
CREATE TABLE raw_blocks(app INTEGER NOT NULL, user TEXT NOT NULL, blocked TEXT NOT NULL, since INTEGER,
  file INTEGER NOT NULL, line INTEGER NOT NULL, status INTEGER NOT NULL);
CREATE TABLE raw_groups(app INTEGER NOT NULL, id TEXT NOT NULL, source_id TEXT NOT NULL, name TEXT, owner TEXT NOT NULL,
  avatar_url TEXT, notice TEXT, attributes TEXT, created_at INTEGER, muted INTEGER NOT NULL DEFAULT 0,
  file INTEGER NOT NULL, line INTEGER NOT NULL, status INTEGER NOT NULL);
CREATE TABLE raw_group_members(app INTEGER NOT NULL, grp TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,
  nickname TEXT, joined_at INTEGER, file INTEGER NOT NULL, line INTEGER NOT NULL, status INTEGER NOT NULL);
-- Messages are loaded once and never copied: the read order lives in peer_copies / group_seq.
CREATE TABLE peer_messages(id INTEGER PRIMARY KEY, app INTEGER NOT NULL, src TEXT NOT NULL, f TEXT NOT NULL,
  t TEXT NOT NULL, sent INTEGER NOT NULL, type INTEGER NOT NULL, sub_type INTEGER NOT NULL, body TEXT NOT NULL,
  searched TEXT, del_f INTEGER NOT NULL, del_t INTEGER NOT NULL, file INTEGER NOT NULL, line INTEGER NOT NULL,
  status INTEGER NOT NULL,
  -- Only when several apps merge: the source record's content without its id, to find one message exported twice.
  content TEXT);
CREATE TABLE group_messages(id INTEGER PRIMARY KEY, app INTEGER NOT NULL, src TEXT NOT NULL, grp TEXT NOT NULL,
  f TEXT NOT NULL, sent INTEGER NOT NULL, type INTEGER NOT NULL, sub_type INTEGER NOT NULL, body TEXT NOT NULL,
  searched TEXT, file INTEGER NOT NULL, line INTEGER NOT NULL, status INTEGER NOT NULL);
CREATE TABLE raw_read_states(app INTEGER NOT NULL, user TEXT NOT NULL, kind TEXT NOT NULL, conv TEXT NOT NULL,
  msg TEXT NOT NULL, file INTEGER NOT NULL, line INTEGER NOT NULL, status INTEGER NOT NULL);

CREATE TABLE users(id TEXT PRIMARY KEY, nickname TEXT, avatar_url TEXT, extended_data TEXT, created_at INTEGER,
  deactivated INTEGER NOT NULL, apps TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE groups(id TEXT PRIMARY KEY, source_id TEXT NOT NULL, app TEXT NOT NULL, name TEXT, owner TEXT NOT NULL,
  avatar_url TEXT, notice TEXT, attributes TEXT, created_at INTEGER,
  member_count INTEGER NOT NULL DEFAULT 0, message_count INTEGER NOT NULL DEFAULT 0, first_msg INTEGER,
  muted INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;

CREATE TABLE ledger(stage TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL, zim_code INTEGER, zim_message TEXT,
  msg_id TEXT, msg_seq INTEGER, at INTEGER NOT NULL, PRIMARY KEY(stage, key)) WITHOUT ROWID;
`;

/**
 * Read positions to import: only those at the newest message of the reader's copy (ZIM can only mark a whole
 * conversation read). Inserted in (user, kind, conv) order, so page p of the read-state stage is the id range
 * (p * PAGE_SIZE.readStates, (p + 1) * PAGE_SIZE.readStates]. Also created on opening older files (call-batches.ts).
 */
export const READ_STATES_TABLE = `
CREATE TABLE IF NOT EXISTS read_states(id INTEGER PRIMARY KEY, user TEXT NOT NULL, kind TEXT NOT NULL,
  conv TEXT NOT NULL, msg TEXT NOT NULL);`;

/** Built after validation from the rows that passed (finalize.ts). */
export const READ_SCHEMA = `
CREATE TABLE friends(user TEXT NOT NULL, friend TEXT NOT NULL, alias TEXT, wording TEXT, attributes TEXT,
  since INTEGER, PRIMARY KEY(user, friend)) WITHOUT ROWID;
CREATE TABLE blocks(user TEXT NOT NULL, blocked TEXT NOT NULL, since INTEGER, PRIMARY KEY(user, blocked)) WITHOUT ROWID;
CREATE TABLE group_members(grp TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL, nickname TEXT, joined_at INTEGER,
  PRIMARY KEY(grp, user)) WITHOUT ROWID;
-- One row per owner's copy, inserted in (owner, peer, sent, file, line) order: the rowid is the read order and
-- seq = id - owners.first, so paging by seq is a rowid range scan.
CREATE TABLE peer_copies(id INTEGER PRIMARY KEY, owner TEXT NOT NULL, peer TEXT NOT NULL, msg INTEGER NOT NULL);
CREATE TABLE owners(user TEXT PRIMARY KEY, first INTEGER NOT NULL, n INTEGER NOT NULL, peers INTEGER NOT NULL)
  WITHOUT ROWID;
-- Group messages in (group, sent, file, line) order; seq = id - groups.first_msg.
CREATE TABLE group_seq(id INTEGER PRIMARY KEY, grp TEXT NOT NULL, msg INTEGER NOT NULL);
${READ_STATES_TABLE}`;
