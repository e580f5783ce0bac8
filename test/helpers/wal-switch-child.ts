/**
 * A separate process that switches an existing SQLite file to WAL while its parent holds a write lock on it (as a
 * sibling worker creating the schema of a file both just opened), and reports how it went. `plain` switches once,
 * with a 5-s busy timeout; `retry` through switchToWal.
 */
import Database from 'better-sqlite3';
import { switchToWal } from '../../src/shared/sqlite-wal';

const [file, mode] = process.argv.slice(2);
const db = new Database(file);
db.pragma('busy_timeout = 5000');
process.send!('trying');
const started = Date.now();
let error: string | undefined;
try {
  if (mode === 'plain') db.pragma('journal_mode = WAL');
  else switchToWal(db, 30_000);
} catch (e) {
  error = String(e);
}
const journal = error === undefined ? String(db.pragma('journal_mode', { simple: true })) : undefined;
db.close();
process.send!({ error, journal, ms: Date.now() - started }, () => process.exit(0));
