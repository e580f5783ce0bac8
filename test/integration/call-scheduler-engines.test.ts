/** The shared CallScheduler cases against both engines, and what only PostgreSQL has: schema steps and leases. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { openDatabase } from '../../src/postgres/database';
import { resolveDatabaseSettings } from '../../src/postgres/database-settings';
import { applySchema } from '../../src/postgres/schema-migrations';
import { extraHeadroomAt, sendWindow, SqliteCallScheduler } from '../../src/rate-limit/call-scheduler';
import { waitForOpenGate } from '../../activities/call-gate';
import { PgCallGate } from '../../src/rate-limit/pg-call-gate';
import { PgCallScheduler } from '../../src/rate-limit/pg-call-scheduler';
import { CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA } from '../../src/rate-limit/pg-call-schedule-schema';
import { readCallSchedule } from '../../src/rate-limit/read-call-schedule';
import { readPgCallSchedule } from '../../src/rate-limit/read-pg-call-schedule';
import { projectRoot } from '../../src/shared/project-root';
import { openCallScheduler } from '../../src/worker/migration-worker';
import { maxInWindow } from '../../src/benchmarks/call-recorder';
import { callSchedulerCases } from '../helpers/call-scheduler-cases';
import { useLocalPostgres } from '../helpers/local-postgres';

describe('call schedule on SQLite', () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'sched-')), 'call-budgets.sqlite');
  callSchedulerCases(() => ({
    open: async (appId) => new SqliteCallScheduler(file, { appId }),
    read: async (appId) => readCallSchedule(file, appId),
  }));
});

describe('call schedule on PostgreSQL', () => {
  const pg = useLocalPostgres();
  callSchedulerCases(() => ({
    open: (appId) => PgCallScheduler.open(pg.open(), { appId }),
    read: (appId) => readPgCallSchedule(pg.open(), appId),
  }));

  it('applies its schema once when several workers start at once', async () => {
    const pools = Array.from({ length: 4 }, () => pg.open());
    const applied = await Promise.all(
      pools.map((db) =>
        applySchema(
          db.pool,
          'test-component',
          CALL_SCHEDULE_SCHEMA.map((s) => ({ ...s, sql: `CREATE TABLE zm_test_${s.version} (x int)` }))
        )
      )
    );
    assert.deepEqual(
      applied.flat().sort(),
      CALL_SCHEDULE_SCHEMA.map((s) => s.version),
      'each version applied by exactly one starter'
    );
    const { rows } = await pools[0]!.pool.query(
      'SELECT component, version FROM zm_schema_version WHERE component = $1 ORDER BY version',
      ['test-component']
    );
    assert.deepEqual(
      rows,
      CALL_SCHEDULE_SCHEMA.map((s) => ({ component: 'test-component', version: s.version }))
    );
    await PgCallScheduler.open(pools[3]!, { appId: 1 });
    assert.deepEqual(await applySchema(pools[1]!.pool, CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA), []);
    await assert.rejects(() => applySchema(pools[2]!.pool, 'test-component', []), /newer than this zim-migrate knows/);
  });

  it('leases slots: many waiting callers take few round trips, and stay within the budget', async () => {
    const db = pg.open();
    const scheduler = await PgCallScheduler.open(db, { appId: 77 });
    let reservations = 0;
    const reserve = scheduler.reserveLease.bind(scheduler);
    scheduler.reserveLease = async (...args) => {
      reservations++;
      return reserve(...args);
    };
    await scheduler.setRate('ImportPeerMsg', 40);
    const times = await Promise.all(Array.from({ length: 40 }, () => scheduler.acquire('ImportPeerMsg')));
    assert.ok(maxInWindow(times, 1000) <= 40);
    assert.ok(reservations <= 10, `40 waiting callers took ${reservations} reservations (leases of up to 8)`);
    await scheduler.close();
  });

  it("checks sends against the same window as SQLite's: N per N/rate s, widened by half the headroom", async () => {
    const db = pg.open();
    const scheduler = await PgCallScheduler.open(db, { appId: 78 });
    const window = sendWindow(20, 0.02);
    const first = Date.now(); // the window runs from the first send
    for (let i = 0; i < window.calls; i++)
      assert.ok(
        (await scheduler.trySend('ImportPeerMsg', '')).sentAt !== undefined,
        `send ${i + 1} of ${window.calls}`
      );
    const { waitMs, sentAt } = await scheduler.trySend('ImportPeerMsg', '');
    // The (N+1)-th send waits for the window since the first: 1,010 ms at 20/s and 2% headroom, not 1,020 ms (a
    // window as long as N GCRA slots holds back every send after a late one).
    assert.equal(sentAt, undefined);
    assert.ok(waitMs <= window.ms && waitMs > window.ms - (Date.now() - first) - 200, `waits ${waitMs} ms`);
    await scheduler.close();
  });

  it("decays the adaptive headroom by SQLite's rule", async () => {
    const db = pg.open();
    const scheduler = await PgCallScheduler.open(db, { appId: 79 });
    const ago = { ImportPeerMsg: [0.05, 60], ImportGroupMsg: [0.02, 150], AddFriends: [0.01, 30] } as const;
    for (const [action, [extra, seconds]] of Object.entries(ago)) {
      await scheduler.backOff(action, undefined, 0);
      await db.pool.query(
        `UPDATE zm_call_budget SET extra = $3, extra_at = clock_timestamp() - make_interval(secs => $4)
         WHERE app_id = $1 AND action = $2`,
        [79, action, extra, seconds]
      );
    }
    const rows = await readPgCallSchedule(db, 79);
    for (const [action, [extra, seconds]] of Object.entries(ago)) {
      const got = rows.find((r) => r.action === action)?.extraHeadroom ?? NaN;
      const want = extraHeadroomAt(extra, 0, seconds * 1000);
      assert.ok(Math.abs(got - want) < 0.0002, `${action}: ${got}, not ${want}`);
    }
    await scheduler.close();
  });

  it('names the database without its password in errors', async () => {
    const db = pg.open({ ZIM_MIGRATE_DATABASE_PASSWORD: 'wrong-password-123' });
    const err = await PgCallScheduler.open(db, { appId: 1 }).then(
      () => undefined,
      (e: unknown) => e as Error
    );
    assert.ok(err, 'a wrong password fails');
    const wrongUrl = pg.server().url.replace('zim@', 'zim:wrong-password-123@');
    const db2 = openDatabase(resolveDatabaseSettings({ ZIM_MIGRATE_DATABASE_URL: wrongUrl }));
    const s = await PgCallScheduler.open(db2, { appId: 1 }).catch((e: unknown) => e as Error);
    await db2.close();
    assert.ok(s instanceof Error);
    assert.doesNotMatch(String(s.message) + String(s.stack), /wrong-password-123/);
  });

  it('a worker pointed at a postgres:// schedule uses it, and call-schedule reads it without printing the password', async () => {
    const url = pg.server().url.replace('zim@', `zim:${encodeURIComponent(pg.server().password)}@`);
    const { scheduler, close } = await openCallScheduler(
      { appId: 31337, serverSecret: 'x', baseUrl: 'http://127.0.0.1:1', budgetDbPath: url, budgetHeadroomPercent: 2 },
      {}
    );
    assert.ok(scheduler instanceof PgCallScheduler);
    await scheduler.acquire('UserRegister');
    await close();
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('ZIM_') && !k.startsWith('TEMPORAL_'))
    );
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'zim-migrate.js'), 'call-schedule', ...args], {
        env: { ...env, ZIM_MIGRATE_BUDGET_DB: pg.server().url, ZIM_MIGRATE_DATABASE_PASSWORD: pg.server().password },
        encoding: 'utf8',
      });
    const json = run('--app-id', '31337', '--json');
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(
      (JSON.parse(json.stdout) as { action: string; calls: number }[]).map((r) => [r.action, r.calls]),
      [['UserRegister', 1]]
    );
    const text = run('--budget-db', url, '--app-id', '31337');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Call schedule postgres:\/\/zim:\*\*\*@127\.0\.0\.1:\d+\/zim_migrate .*app 31337/);
    assert.doesNotMatch(text.stdout + text.stderr, new RegExp(pg.server().password));
  });

  it('a pause closes the call gate for the workers on every machine within a poll', async () => {
    const [workflowSide, workerA, workerB] = await Promise.all([1, 2, 3].map(() => PgCallGate.open(pg.open())));
    assert.equal(await workerA!.isOpen('m1'), true, 'open until closed');
    await workflowSide!.set('m1', false);
    const t0 = Date.now();
    assert.equal(await waitForOpenGate(() => workerB!.isOpen('m1'), new AbortController().signal, 300), false);
    assert.equal(await workerA!.isOpen('m2'), true, 'another migration is not paused');
    setTimeout(() => void workflowSide!.set('m1', true), 300);
    assert.equal(await waitForOpenGate(() => workerA!.isOpen('m1'), new AbortController().signal, 5_000), true);
    assert.ok(Date.now() - t0 < 1_500, 'the resume is seen within a poll');
  });

  it('goes on after PostgreSQL restarts: the failed reservation fails its attempt, the next one works', async () => {
    const db = pg.open();
    const scheduler = await PgCallScheduler.open(db, { appId: 99 });
    await scheduler.acquire('UserRegister');
    await pg.server().kill();
    await assert.rejects(() => scheduler.acquire('UserRegister'), /call schedule: postgres:\/\/zim@127\.0\.0\.1/);
    await pg.server().start();
    await scheduler.acquire('UserRegister');
    await scheduler.close();
  });
});
