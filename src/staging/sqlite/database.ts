import Database from 'better-sqlite3';

export type Db = Database.Database;

/**
 * Opens a staging file for the migration: WAL so that one worker's small ledger writes never block the
 * CLI reading in another process, NORMAL sync (a commit survives a killed process; only a power loss can
 * lose the newest ones, and the migration reconciles against ZIM on retry), and a busy timeout for the
 * moments two writers meet.
 */
export function openDatabase(file: string, readonly: boolean): Db {
  const db = new Database(file, { readonly, fileMustExist: true });
  db.pragma('busy_timeout = 10000');
  if (!readonly) db.pragma('synchronous = NORMAL');
  return db;
}

/**
 * A new file for building staging: no journal and no fsync (a failed build is deleted and redone),
 * a 64 MB page cache for the bulk load and its sorts, temporary sort files on disk to keep memory flat,
 * and a helper thread for the large sorts.
 */
export function createBuildDatabase(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = FILE');
  db.pragma('threads = 2');
  return db;
}

/**
 * Makes the finished file ready for concurrent use: write-ahead log (a property of the file, so every
 * later connection uses it). Only `main`: the temp database cannot switch. Closing checkpoints the log.
 */
export function sealBuildDatabase(db: Db): void {
  db.pragma('main.journal_mode = WAL');
}
