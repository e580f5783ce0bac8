/**
 * What a worker adds to a SQLite staging file before the migration runs from it (once per file, on its first
 * writable open): the index of numbered pages (`zm_call_batches`: where each page of a page stage starts, since a
 * stage runs several pages at once and each must be addressable by its number), the ledger's lease columns and
 * per-stage counts, and the migration's own small table (`zm_meta`: the call gate, the migration's id).
 */
import { PAGE_SIZE } from '../page-sizes';
import type { Db } from './database';
import { READ_STATES_TABLE } from './schema';

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
  SELECT 'users', (rn - 1) / ${PAGE_SIZE.accounts}, NULL, id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM users) WHERE (rn - 1) % ${PAGE_SIZE.accounts} = 0;
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'friends', row_number() OVER (ORDER BY user, friend) - 1, user, friend
  FROM (SELECT user, friend, row_number() OVER (PARTITION BY user ORDER BY friend) AS rn FROM friends)
  WHERE (rn - 1) % ${PAGE_SIZE.friends} = 0;
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'blocks', row_number() OVER (ORDER BY user, blocked) - 1, user, blocked
  FROM (SELECT user, blocked, row_number() OVER (PARTITION BY user ORDER BY blocked) AS rn FROM blocks)
  WHERE (rn - 1) % ${PAGE_SIZE.blocks} = 0;
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'verify-owners', (rn - 1) / ${PAGE_SIZE.verify}, NULL, user
  FROM (SELECT user, row_number() OVER (ORDER BY user) AS rn FROM owners) WHERE (rn - 1) % ${PAGE_SIZE.verify} = 0;
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'verify-groups', (rn - 1) / ${PAGE_SIZE.verify}, NULL, id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM groups) WHERE (rn - 1) % ${PAGE_SIZE.verify} = 0;
INSERT INTO zm_meta(key, value) VALUES ('batches', 'built');`;

/** Profile pages: users with extended data (files whose pages were indexed before profiles had their own). */
const BUILD_PROFILE_BATCHES = `
INSERT INTO zm_call_batches(kind, batch, owner, first_key)
  SELECT 'profiles', (rn - 1) / ${PAGE_SIZE.profiles}, NULL, id
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM users WHERE extended_data IS NOT NULL)
  WHERE (rn - 1) % ${PAGE_SIZE.profiles} = 0;
INSERT INTO zm_meta(key, value) VALUES ('profile_batches', 'built');`;

/** Makes a staging file ready for a migration; idempotent, safe when several workers open the file at once. */
export function prepareForMigration(db: Db): void {
  db.exec(BATCH_INDEX);
  db.transaction(() => {
    // Message imports' leases (activities/message-import.ts); files staged before them lack the columns.
    const columns = (db.prepare(`PRAGMA table_info(ledger)`).all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes('lease_token'))
      db.exec(`ALTER TABLE ledger ADD COLUMN lease_token TEXT; ALTER TABLE ledger ADD COLUMN lease_until INTEGER;`);
    // Muted groups (MuteGroup after their history); files staged before them lack the column.
    const groupColumns = (db.prepare(`PRAGMA table_info(groups)`).all() as { name: string }[]).map((c) => c.name);
    if (!groupColumns.includes('muted')) db.exec(`ALTER TABLE groups ADD COLUMN muted INTEGER NOT NULL DEFAULT 0`);
    // Read states (the read-state stage); files staged before them lack the table.
    db.exec(READ_STATES_TABLE);
    const built = (key: string) => db.prepare(`SELECT 1 FROM zm_meta WHERE key = ?`).get(key) !== undefined;
    if (!built('batches')) db.exec(BUILD_BATCHES);
    if (!built('profile_batches')) db.exec(BUILD_PROFILE_BATCHES);
    if (!built('ledger_counts')) db.exec(COUNT_LEDGER);
  }).immediate();
}

/** Page indexes built again from the read tables as they are now (a catch-up round changed them). */
export function rebuildCallBatches(db: Db): void {
  db.exec(`DELETE FROM zm_call_batches; DELETE FROM zm_meta WHERE key IN ('batches', 'profile_batches');`);
  db.exec(BUILD_BATCHES);
  db.exec(BUILD_PROFILE_BATCHES);
}
