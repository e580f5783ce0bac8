/**
 * What the call schedule costs and how well separate processes share it, SQLite and PostgreSQL in one run (a local
 * throwaway PostgreSQL on loopback):
 *   - one slot reservation, ms per slot: one slot per transaction, and (PostgreSQL) leases of k slots;
 *   - the send check every call makes just before it leaves, ms (a per-group Action, a new group each time, so no
 *     check waits), and (PostgreSQL) with a full log of N sends, for each N of --log-sizes, in the array log of
 *     schema step 3 and in today's (send-check-cost.ts);
 *   - 1 and 3 worker processes on one Action at its budget: use of the budget, and the most calls in any sliding
 *     1-s window as the schedule recorded them, as the processes sent them, and as a loopback recorder received them.
 *
 *   npm run bench:call-schedule -- [--rate 20] [--seconds 8] [--reservations 2000] [--log-sizes 50,100000] [--log-checks 300]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../postgres/database';
import { resolveDatabaseSettings } from '../postgres/database-settings';
import { startLocalPostgres } from '../postgres/local-postgres';
import { SqliteCallScheduler } from '../rate-limit/call-scheduler';
import { PgCallScheduler } from '../rate-limit/pg-call-scheduler';
import { budgetUse, maxInWindow, recordCalls } from './call-recorder';
import { msPer, pgReservationMs, unboundedPgSchedule, unboundedSqliteSchedule } from './reservation-cost';
import { pgSendCheckCost } from './send-check-cost';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '8' },
    reservations: { type: 'string', default: '2000' },
    'log-sizes': { type: 'string', default: '50,100000' },
    // Fewer than reservations: the array log's check at N = 100,000 took 144 ms (load average 12).
    'log-checks': { type: 'string', default: '300' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const reservations = Number(values.reservations);
const logSizes = values['log-sizes'].split(',').map(Number);
const logChecks = Number(values['log-checks']);

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-schedule-'));
  const server = await startLocalPostgres();
  const env = { ZIM_MIGRATE_DATABASE_URL: server.url, ZIM_MIGRATE_DATABASE_PASSWORD: server.password };
  const settings = resolveDatabaseSettings(env);
  const db = openDatabase(settings);
  try {
    console.log(`PostgreSQL from ${server.binaries.source}; ${reservations} reservations per row, one caller\n`);
    const rows: [string, string, string][] = [];
    // A budget no test reaches, so nothing waits: only the reservation's own cost is timed.
    const { schedule: sqlite, inner } = await unboundedSqliteSchedule(path.join(dir, 'schedule.sqlite'));
    rows.push([
      'SQLite',
      'reservation, 1 slot/transaction',
      (await msPer(reservations, 1, () => inner.reserveTx('AddFriends', ''))).toFixed(3),
    ]);
    // The send check of a per-group Action, each call for a new group, so that no check has to wait.
    rows.push([
      'SQLite',
      'send check',
      (await msPer(reservations, 1, (i) => inner.sendTx('InviteUsersIntoGroup', `g${i}`))).toFixed(3),
    ]);
    await sqlite.close();

    const pg = await unboundedPgSchedule(db);
    for (const k of [1, 4, 8, 16])
      rows.push([
        'PostgreSQL',
        k === 1 ? 'reservation, 1 slot/transaction' : `reservation, leases of ${k} slots`,
        (await pgReservationMs(pg, reservations, k)).toFixed(3),
      ]);
    rows.push([
      'PostgreSQL',
      'send check',
      (await msPer(reservations, 1, (i) => pg.trySend('InviteUsersIntoGroup', `g${i}`))).toFixed(3),
    ]);
    console.log('engine      what                               ms/slot');
    for (const [e, w, ms] of rows) console.log(`${e.padEnd(11)} ${w.padEnd(34)} ${ms}`);

    console.log(`\nPostgreSQL send check with a full log of N sends (budget N/s), ${logChecks} checks each:`);
    console.log('send log          N        ms/check');
    for (const r of await pgSendCheckCost(settings, logSizes, logChecks))
      console.log(`${r.schema.padEnd(17)} ${String(r.n).padEnd(8)} ${r.ms.toFixed(3)}`);

    console.log(`\n${rate}/s budget, ${seconds} s of work, 6 concurrent callers per process:`);
    console.log('engine      processes  calls  budget use  most in any 1 s: recorded  sent  arrived');
    let appId = 5000;
    for (const engine of ['sqlite', 'postgres'] as const)
      for (const processes of [1, 3]) {
        appId++;
        const location = engine === 'postgres' ? 'postgres' : path.join(dir, 'shared.sqlite');
        if (engine === 'sqlite') {
          const s = new SqliteCallScheduler(location, { appId });
          await s.setRate('ImportPeerMsg', rate);
          await s.close();
        }
        if (engine === 'postgres') {
          const s = await PgCallScheduler.open(db, { appId });
          await s.setRate('ImportPeerMsg', rate);
        }
        const perProcess = Math.ceil((rate * seconds) / processes);
        const calls = await recordCalls(
          Array.from({ length: processes }, () => ({
            env,
            args: [location, String(appId), 'ImportPeerMsg', String(perProcess), '6'],
          }))
        );
        const most = (times: number[]) => String(maxInWindow(times, 1000));
        const recorded = calls.map((c) => c.recordedAt);
        console.log(
          `${(engine === 'sqlite' ? 'SQLite' : 'PostgreSQL').padEnd(11)} ${String(processes).padEnd(10)} ` +
            `${String(calls.length).padEnd(6)} ${(budgetUse(recorded, rate) * 100).toFixed(1).padStart(9)}%  ` +
            `${most(recorded).padStart(25)}  ${most(calls.map((c) => c.sentAt)).padStart(4)}  ` +
            most(calls.map((c) => c.arrivedAt)).padStart(7)
        );
      }
  } finally {
    await db.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
