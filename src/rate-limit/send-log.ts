/**
 * The call schedule's log of an Action's (or a group's) last N sends (SQLite): a send is allowed when the N-th last
 * send is at least the window's length ago. One row per send, so a send costs the same at any N.
 * A schedule file written by an older version keeps its JSON log (table recent_sends) unused: upgrading forgets at
 * most one window of sends, which the GCRA slots (table slot, unchanged) still spaced. Workers of both versions on
 * one file would each check only their own log: upgrade every worker sharing a file together.
 */
import type Database from 'better-sqlite3';

export interface SendWindowSpec {
  calls: number;
  ms: number;
}

export interface SendLog {
  /** Inside a write transaction: records a send at `now` and returns undefined, or returns how long to wait. */
  tryRecord(appId: number, action: string, key: string, now: number, window: SendWindowSpec): number | undefined;
}

export function rowSendLog(db: Database.Database): SendLog {
  db.exec(`
    CREATE TABLE IF NOT EXISTS send_log (
      app_id INTEGER NOT NULL, action TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL, at REAL NOT NULL,
      PRIMARY KEY (app_id, action, key, n)) WITHOUT ROWID;`);
  const getLast = db.prepare<[number, string, string], { n: number }>(
    'SELECT n FROM send_log WHERE app_id = ? AND action = ? AND key = ? ORDER BY n DESC LIMIT 1'
  );
  const getAt = db.prepare<[number, string, string, number], { at: number }>(
    'SELECT at FROM send_log WHERE app_id = ? AND action = ? AND key = ? AND n = ?'
  );
  const add = db.prepare('INSERT INTO send_log (app_id, action, key, n, at) VALUES (?, ?, ?, ?, ?)');
  const forget = db.prepare('DELETE FROM send_log WHERE app_id = ? AND action = ? AND key = ? AND n <= ?');
  return {
    tryRecord(appId, action, key, now, window) {
      const last = getLast.get(appId, action, key)?.n ?? 0;
      // The N-th last send; after a budget change the log may hold more or fewer.
      const nth = last - window.calls + 1 >= 1 ? getAt.get(appId, action, key, last - window.calls + 1) : undefined;
      if (nth !== undefined && now - nth.at < window.ms) return nth.at + window.ms - now;
      add.run(appId, action, key, last + 1, now);
      forget.run(appId, action, key, last + 1 - window.calls);
      return undefined;
    },
  };
}

/**
 * The log before issue #17, for the benchmark's same-run comparison only (ZIM_BENCH_OLD_CPU_PATH): a JSON array of
 * the last N times, parsed and written whole on every send (O(N); N = 100,000 with budgets lifted).
 */
export function jsonSendLog(db: Database.Database): SendLog {
  db.exec(`
    CREATE TABLE IF NOT EXISTS recent_sends (
      app_id INTEGER NOT NULL, action TEXT NOT NULL, key TEXT NOT NULL, times TEXT NOT NULL,
      PRIMARY KEY (app_id, action, key));`);
  const get = db.prepare<[number, string, string], { times: string }>(
    'SELECT times FROM recent_sends WHERE app_id = ? AND action = ? AND key = ?'
  );
  const set = db.prepare(
    `INSERT INTO recent_sends (app_id, action, key, times) VALUES (?, ?, ?, ?)
     ON CONFLICT (app_id, action, key) DO UPDATE SET times = excluded.times`
  );
  return {
    tryRecord(appId, action, key, now, window) {
      const times = JSON.parse(get.get(appId, action, key)?.times ?? '[]') as number[];
      const nth = times.length >= window.calls ? times[times.length - window.calls]! : undefined;
      if (nth !== undefined && now - nth < window.ms) return nth + window.ms - now;
      times.push(now);
      set.run(appId, action, key, JSON.stringify(times.slice(-window.calls)));
      return undefined;
    },
  };
}
