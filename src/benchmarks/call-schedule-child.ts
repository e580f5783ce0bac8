/**
 * A separate worker-like process for the call schedule's multi-process test and benchmark: `callers` concurrent
 * callers make `count` calls of one Action in all through a shared schedule (SQLite file, or PostgreSQL with the
 * connection from the environment), each call a POST to a recorder on loopback saying when it left, then it exits.
 * It says 'ready' (IPC) once loaded and connected, and starts on the parent's 'go'. CLOCK_SKEW_MS shifts this
 * process's wall clock, as on a machine whose clock is off: the schedule must not care.
 *
 *   call-schedule-child.ts <recorder-url> <sqlite-file|postgres> <appId> <action> <count> <callers> [maxLease]
 */
import { openDatabase } from '../postgres/database';
import { resolveDatabaseSettings } from '../postgres/database-settings';
import { SqliteCallScheduler, type CallScheduler } from '../rate-limit/call-scheduler';
import { PgCallScheduler } from '../rate-limit/pg-call-scheduler';

const [recorder, schedule, appId, action, count, callers, maxLease] = process.argv.slice(2);
const skew = Number(process.env.CLOCK_SKEW_MS ?? 0);
if (skew) {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + skew;
}

void (async () => {
  const db = schedule === 'postgres' ? openDatabase(resolveDatabaseSettings(process.env)) : undefined;
  const scheduler: CallScheduler = db
    ? await PgCallScheduler.open(db, { appId: Number(appId), maxLease: Number(maxLease ?? 8) })
    : new SqliteCallScheduler(schedule!, { appId: Number(appId) });
  // The first request loads the HTTP client (tens of ms): not a call, or it would reach the recorder late.
  await (await fetch(recorder!)).arrayBuffer();
  // Start together: a process still loading would slow the others' calls on a small machine.
  process.send!('ready');
  await new Promise((r) => process.once('message', r));
  let left = Number(count);
  const caller = async () => {
    while (left > 0) {
      left--;
      // When the schedule recorded the send, on its clock (the database's for PostgreSQL)...
      const recordedAt = await scheduler.acquire(action!);
      // ...and when the call left, on the real clock (performance's origin ignores the skewed Date.now).
      const sentAt = performance.timeOrigin + performance.now();
      const res = await fetch(recorder!, {
        method: 'POST',
        body: JSON.stringify({ pid: process.pid, recordedAt, sentAt }),
      });
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: Number(callers) }, caller));
  await scheduler.close();
  await db?.close();
  process.disconnect();
})().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
