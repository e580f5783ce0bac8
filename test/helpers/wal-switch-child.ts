/**
 * A separate process that opens `count` new SQLite files in `dir`, each at the same instant as its sibling
 * processes (one every 25 ms from `startAt`), switches each to WAL and reports how many switches failed.
 * `plain` switches without switchToWal's retry, to show the race the retry covers.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { switchToWal } from '../../src/shared/sqlite-wal';

const [dir, startAt, count, mode] = process.argv.slice(2);
const failures: string[] = [];
for (let i = 0; i < Number(count); i++) {
  const at = Number(startAt) + i * 25;
  while (Date.now() < at); // spin, not sleep: the point is to arrive together
  const db = new Database(path.join(dir!, `${i}.sqlite`));
  try {
    db.pragma('busy_timeout = 5000');
    if (mode === 'plain') db.pragma('journal_mode = WAL');
    else switchToWal(db, 5000);
    db.exec('CREATE TABLE IF NOT EXISTS t (a)');
  } catch (error) {
    failures.push(String(error));
  } finally {
    db.close();
  }
}
process.send!(failures, () => process.exit(0));
