/**
 * What one PostgreSQL send check costs with a full log of N sends, for the send log of schema step 3 (an array of
 * the last N times, rewritten on every send) and today's schema, in one run: each in its own PostgreSQL schema of
 * one database (search_path), seeded alike with N sends an hour old (so every timed check records a send), today's
 * upgraded in place from step 3 as a deployed store would be. Used by bench:call-schedule.
 */
import { performance } from 'node:perf_hooks';
import { openDatabase, type Database } from '../postgres/database';
import type { DatabaseSettings } from '../postgres/database-settings';
import { applySchema } from '../postgres/schema-migrations';
import { CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA } from '../rate-limit/pg-call-schedule-schema';

/** The last schema step that kept the send log as an array. */
export const ARRAY_LOG_VERSION = 3;
const ACTION = 'InviteUsersIntoGroup'; // per group: one log per key
const TRY_SEND = 'SELECT wait_ms, sent_at FROM zm_call_try_send($1, $2, $3, $4, $5)';

export interface SendCheckCost {
  schema: 'array (step 3)' | 'current';
  n: number;
  sends: number;
  ms: number;
}

/**
 * Step 3's layout: `keys` logs ('g0', 'g1', …) of `action`, each full with `n` sends 1 ms apart, the last `ageMs`
 * ago; the Action's budget n/s. Also the upgrade test's store of the previous version.
 */
export async function seedArrayLog(
  db: Database,
  {
    appId,
    n,
    keys,
    ageMs = 3_600_000,
    action = ACTION,
  }: { appId: number; n: number; keys: number; ageMs?: number; action?: string }
): Promise<void> {
  await db.pool.query('INSERT INTO zm_call_budget (app_id, action, rate) VALUES ($1, $2, $3)', [appId, action, n]);
  await db.pool.query(
    `INSERT INTO zm_call_recent_sends (app_id, action, key, times)
     SELECT $1, $2, 'g' || k, (SELECT array_agg(clock_timestamp() - make_interval(secs => ($3 - i + $5) / 1000.0)
       ORDER BY i) FROM generate_series(1, $3) i)
     FROM generate_series(0, $4 - 1) k`,
    [appId, action, n, keys, ageMs]
  );
}

/**
 * ms per send check at each log size in `sizes`, `sends` checks each (one caller, sequential, after a warm-up of a
 * few checks): each key's log takes at most n timed sends, so that the N-th last send is always an hour old.
 */
export async function pgSendCheckCost(
  settings: DatabaseSettings,
  sizes: readonly number[],
  sends: number
): Promise<SendCheckCost[]> {
  const admin = openDatabase(settings);
  const results: SendCheckCost[] = [];
  try {
    for (const schema of ['array (step 3)', 'current'] as const) {
      const name = schema === 'current' ? 'bench_send_check_current' : 'bench_send_check_array';
      await admin.pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await admin.pool.query(`CREATE SCHEMA ${name}`);
      const db = openDatabase({ ...settings, pool: { ...settings.pool, options: `-c search_path=${name}` } });
      try {
        const steps = CALL_SCHEDULE_SCHEMA.filter((s) => s.version <= ARRAY_LOG_VERSION);
        await applySchema(db.pool, CALL_SCHEDULE_COMPONENT, steps);
        const warmUp = 20;
        const plan = sizes.map((n, i) => ({ n, appId: 100 + i, keys: Math.ceil((sends + warmUp) / n) }));
        for (const { appId, n, keys } of plan) await seedArrayLog(db, { appId, n, keys });
        if (schema === 'current') await applySchema(db.pool, CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA);
        await db.pool.query('VACUUM ANALYZE');
        for (const { n, appId } of plan) {
          const check = async (i: number) => {
            const { rows } = await db.pool.query<{ sent_at: number | null }>(TRY_SEND, [
              appId,
              ACTION,
              `g${Math.floor(i / n)}`,
              n,
              0.02,
            ]);
            if (rows[0]?.sent_at == null) throw new Error(`send check ${i} at N=${n} waited: the log was not full`);
          };
          for (let i = 0; i < warmUp; i++) await check(sends + i);
          const start = performance.now();
          for (let i = 0; i < sends; i++) await check(i);
          results.push({ schema, n, sends, ms: (performance.now() - start) / sends });
        }
      } finally {
        await db.close();
        await admin.pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      }
    }
  } finally {
    await admin.close();
  }
  return results;
}
