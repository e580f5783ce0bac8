/**
 * `zim-migrate call-schedule` for a schedule in PostgreSQL: the same rows as readCallSchedule reads from a SQLite
 * file. Times come from the database's clock and are turned into this machine's epoch ms by their distance from the
 * database's "now", so a reader whose clock is off still shows how far ahead a slot is.
 */
import { z } from 'zod';
import type { Database } from '../postgres/database';
import type { CallScheduleRow } from './read-call-schedule';
import { defaultBudget } from '../zim-client/limits';

const rowSchema = z.object({
  action: z.string(),
  rate: z.number(),
  calls: z.coerce.number(),
  refusals: z.coerce.number(),
  keys: z.coerce.number(),
  next_in_ms: z.number().nullable(),
  extra: z.number(),
});

/** Whether the schedule's tables exist: reading never creates them. */
async function hasSchedule(db: Database): Promise<boolean> {
  const { rows } = await db.pool.query<{ t: string | null }>(`SELECT to_regclass('zm_call_budget')::text AS t`);
  return rows[0]?.t != null;
}

export async function readPgCallSchedule(db: Database, appId: number): Promise<CallScheduleRow[]> {
  try {
    if (!(await hasSchedule(db))) return [];
    const { rows } = await db.pool.query(
      `SELECT b.action, b.rate, b.calls, b.refusals, count(s.key) AS keys,
         (extract(epoch FROM max(s.next_at) - clock_timestamp()) * 1000)::float8 AS next_in_ms,
         zm_call_headroom(b.app_id, b.action, 0) AS extra
       FROM zm_call_budget b LEFT JOIN zm_call_slot s ON s.app_id = b.app_id AND s.action = b.action
       WHERE b.app_id = $1 GROUP BY b.app_id, b.action ORDER BY b.action`,
      [appId]
    );
    const now = Date.now();
    return rows.map((raw) => {
      const r = rowSchema.parse(raw);
      return {
        action: r.action,
        rate: r.rate,
        perKey: defaultBudget(r.action).perKey ?? false,
        keys: r.keys,
        calls: r.calls,
        refusals: r.refusals,
        ...(r.next_in_ms !== null && { nextFreeAt: now + r.next_in_ms }),
        extraHeadroom: r.extra,
      };
    });
  } catch (err) {
    // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
    throw new Error(`Cannot read the call schedule: ${db.describe(err)}`);
  }
}

/** The ZIM apps with a schedule in this database, in id order. */
export async function pgCallScheduleApps(db: Database): Promise<number[]> {
  try {
    if (!(await hasSchedule(db))) return [];
    const { rows } = await db.pool.query<{ app_id: string }>(
      'SELECT DISTINCT app_id FROM zm_call_budget ORDER BY app_id'
    );
    return rows.map((r) => Number(r.app_id));
  } catch (err) {
    // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
    throw new Error(`Cannot read the call schedule: ${db.describe(err)}`);
  }
}
