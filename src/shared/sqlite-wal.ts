import type Database from 'better-sqlite3';

/**
 * Switches a file that several processes share to write-ahead logging. The switch takes an exclusive lock, and
 * SQLite answers "database is locked" at once, without its busy handler, when another process is switching or
 * recovering the same new file at that moment (two workers starting together): so retry until `waitMs` is over.
 */
export function switchToWal(db: Database.Database, waitMs: number): void {
  const deadline = Date.now() + waitMs;
  for (let pauseMs = 5; ; pauseMs = Math.min(pauseMs * 2, 100)) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs); // a constructor cannot await
    }
  }
}
