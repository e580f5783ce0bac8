/**
 * A read-only look at a call schedule file (what `zim-migrate call-schedule` prints): per Action its budget, the
 * calls reserved and the "too frequent" answers reported since the file was created, and when its next slot is free.
 * Opened read-only so that looking never creates a schedule or takes the write lock the workers contend for.
 */
import Database from 'better-sqlite3';
import { extraHeadroomAt } from './call-scheduler';
import { defaultBudget } from '../zim-client/limits';

export interface CallScheduleRow {
  action: string;
  /** Calls per second: the operator's budget if one was set, else ZIM's default. */
  rate: number;
  /** The budget applies per group; `keys` groups have a slot. */
  perKey: boolean;
  keys: number;
  calls: number;
  refusals: number;
  /** Epoch ms of the latest "next free slot" among the Action's keys; in the future while calls are queued. */
  nextFreeAt?: number;
  /** The share of the budget left unused beyond the configured headroom after "too frequent" answers, now. */
  extraHeadroom: number;
}

export function readCallSchedule(file: string, appId: number, now = Date.now()): CallScheduleRow[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const budgets = db
      .prepare<[number], { action: string; rate: number; calls: number; refusals: number }>(
        'SELECT action, rate, calls, refusals FROM budget WHERE app_id = ? ORDER BY action'
      )
      .all(appId);
    const slots = new Map(
      db
        .prepare<[number], { action: string; keys: number; next_at: number }>(
          'SELECT action, count(*) AS keys, max(next_at) AS next_at FROM slot WHERE app_id = ? GROUP BY action'
        )
        .all(appId)
        .map((s) => [s.action, s])
    );
    // Schedules written before the adaptive headroom have no such table.
    const hasExtra = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'extra_headroom'`).get() !== undefined;
    const extra = new Map(
      hasExtra
        ? db
            .prepare<[number], { action: string; extra: number; at: number }>(
              'SELECT action, extra, at FROM extra_headroom WHERE app_id = ?'
            )
            .all(appId)
            .map((e) => [e.action, extraHeadroomAt(e.extra, e.at, now)])
        : []
    );
    return budgets.map((b) => {
      const slot = slots.get(b.action);
      return {
        ...b,
        perKey: defaultBudget(b.action).perKey ?? false,
        keys: slot?.keys ?? 0,
        ...(slot && { nextFreeAt: slot.next_at }),
        extraHeadroom: extra.get(b.action) ?? 0,
      };
    });
  } finally {
    db.close();
  }
}

/** The ZIM apps with a schedule in this file (workers of several apps may share one machine), in id order. */
export function callScheduleApps(file: string): number[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db
      .prepare<[], { app_id: number }>('SELECT DISTINCT app_id FROM budget ORDER BY app_id')
      .all()
      .map((r) => r.app_id);
  } finally {
    db.close();
  }
}
