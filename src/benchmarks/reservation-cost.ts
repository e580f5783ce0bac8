/**
 * What one call-schedule reservation costs, timed by one caller against a budget no test reaches (so nothing waits):
 * SQLite's reservation transaction and PostgreSQL's lease of k slots. Shared by bench:call-schedule and
 * bench:migration (which prints it beside the calls/s it measures).
 */
import { performance } from 'node:perf_hooks';
import type { Database } from '../postgres/database';
import { SqliteCallScheduler } from '../rate-limit/call-scheduler';
import { PgCallScheduler } from '../rate-limit/pg-call-scheduler';

/** ms per item of `items` runs of `run` (sequential, after a short warm-up). */
export async function msPer(items: number, perRun: number, run: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < 50; i++) await run(i);
  const start = performance.now();
  for (let i = 0; i < items; i++) await run(i);
  return (performance.now() - start) / (items * perRun);
}

/** SQLite's reservation and send check are private transactions; the benchmarks reach them by name. */
export interface SqliteInternals {
  reserveTx(action: string, key: string): number;
  sendTx(action: string, key: string): number;
}

/** A SQLite schedule in `file` whose AddFriends budget nothing reaches; close it after. */
export async function unboundedSqliteSchedule(file: string) {
  const schedule = new SqliteCallScheduler(file, { appId: 1 });
  await schedule.setRate('AddFriends', 1e6);
  return { schedule, inner: schedule as unknown as SqliteInternals };
}

/** ms per slot of SQLite's reservation, one slot per transaction. */
export async function sqliteReservationMs(file: string, reservations: number): Promise<number> {
  const { schedule, inner } = await unboundedSqliteSchedule(file);
  try {
    return await msPer(reservations, 1, () => inner.reserveTx('AddFriends', ''));
  } finally {
    await schedule.close();
  }
}

/** A PostgreSQL schedule on `db` whose AddFriends budget nothing reaches. */
export async function unboundedPgSchedule(db: Database) {
  const schedule = await PgCallScheduler.open(db, { appId: 1 });
  await schedule.setRate('AddFriends', 1e6);
  return schedule;
}

/** ms per slot of PostgreSQL's reservation, in leases of `slots` slots (1: one slot per transaction). */
export async function pgReservationMs(schedule: PgCallScheduler, reservations: number, slots = 1) {
  return msPer(Math.ceil(reservations / slots), slots, () => schedule.reserveLease('AddFriends', '', slots));
}
