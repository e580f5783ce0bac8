/**
 * The PostgreSQL send check's log, one row per send (schema step 4): a store of the previous version upgrades in
 * place and keeps its budget, a send writes as many rows whatever N, and each log keeps its last N sends. Each test
 * works in a PostgreSQL schema of its own (search_path), a store as the previous version left it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../src/postgres/database';
import { resolveDatabaseSettings } from '../../src/postgres/database-settings';
import { applySchema } from '../../src/postgres/schema-migrations';
import { PgCallScheduler } from '../../src/rate-limit/pg-call-scheduler';
import { CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA } from '../../src/rate-limit/pg-call-schedule-schema';
import { ARRAY_LOG_VERSION, seedArrayLog } from '../../src/benchmarks/send-check-cost';
import { useLocalPostgres } from '../helpers/local-postgres';
import { waitFor } from '../helpers/wait-for';

describe('call schedule on PostgreSQL: the send log', () => {
  const opened: Database[] = [];
  after(async () => {
    for (const db of opened) await db.close(); // before the server stops (the hook below)
  });
  const pg = useLocalPostgres();

  /** A pool on a new PostgreSQL schema holding the call schedule as schema step 3 (the array log) left it. */
  async function previousVersionStore(name: string): Promise<Database> {
    const settings = resolveDatabaseSettings(pg.env());
    await pg.open().pool.query(`CREATE SCHEMA ${name}`);
    const db = openDatabase({ ...settings, pool: { ...settings.pool, options: `-c search_path=${name}` } });
    opened.push(db);
    const steps = CALL_SCHEDULE_SCHEMA.filter((s) => s.version <= ARRAY_LOG_VERSION);
    await applySchema(db.pool, CALL_SCHEDULE_COMPONENT, steps);
    return db;
  }

  const logRows = async (db: Database, appId: number, action: string) =>
    (
      await db.pool.query<{ n: string }>(
        'SELECT n FROM zm_call_send_log WHERE app_id = $1 AND action = $2 ORDER BY n',
        [appId, action]
      )
    ).rows.map((r) => Number(r.n));

  it("upgrades a previous version's store in place: its last N sends still hold the budget", async () => {
    const db = await previousVersionStore('upgrade_keeps_budget');
    // App 1: a full window of 20 sends at 20/s, recorded 5 s ahead of the database's clock so that no load can
    // let the window pass before the check. App 2: 20 sends a minute ago.
    await seedArrayLog(db, { appId: 1, n: 20, keys: 1, ageMs: -5_000, action: 'ImportPeerMsg' });
    await seedArrayLog(db, { appId: 2, n: 20, keys: 1, ageMs: 60_000, action: 'ImportPeerMsg' });
    const app1 = await PgCallScheduler.open(db, { appId: 1 });
    const app2 = await PgCallScheduler.open(db, { appId: 2 });
    const { rows } = await db.pool.query<{ old: string | null }>(
      "SELECT to_regclass('zm_call_recent_sends')::text AS old"
    );
    assert.equal(rows[0]?.old, null, 'the array table is dropped');
    assert.deepEqual(
      await logRows(db, 1, 'ImportPeerMsg'),
      Array.from({ length: 20 }, (_, i) => i + 1)
    );
    const { rows: order } = await db.pool.query<{ ascending: boolean }>(
      `SELECT bool_and(at > previous) AS ascending FROM (SELECT at, lag(at) OVER (ORDER BY n) AS previous
       FROM zm_call_send_log WHERE app_id = 1) t`
    );
    assert.equal(order[0]?.ascending, true, 'numbered oldest first');

    const held = await app1.trySend('ImportPeerMsg', 'g0');
    assert.equal(held.sentAt, undefined, 'the 21st send within the window waits');
    assert.ok(held.waitMs > 5_000, `it waits for the oldest of the 20 to leave the window: ${held.waitMs} ms`);
    const sent = await app2.trySend('ImportPeerMsg', 'g0');
    assert.equal(sent.waitMs, 0, 'sends older than the window hold nothing back');
    assert.deepEqual(
      await logRows(db, 2, 'ImportPeerMsg'),
      Array.from({ length: 20 }, (_, i) => i + 2)
    );
  });

  it('loses no send of workers of the previous version that check sends during the upgrade', async () => {
    const db = await previousVersionStore('upgrade_under_load');
    await db.pool.query("INSERT INTO zm_call_budget (app_id, action, rate) VALUES (1, 'ImportPeerMsg', 100000)");
    // Workers of the previous version: their send check is the database's function, called by name.
    const sentAt: number[] = [];
    let failed = 0;
    let upgraded = false;
    const worker = async () => {
      for (let after = 0; after < 20;) {
        try {
          const { rows } = await db.pool.query<{ sent_at: number | null }>(
            "SELECT sent_at FROM zm_call_try_send(1, 'ImportPeerMsg', '', 20, 0.02)"
          );
          if (rows[0]?.sent_at != null) sentAt.push(rows[0].sent_at);
        } catch {
          failed++; // a check caught by the upgrade fails (its attempt would retry)
        }
        if (upgraded) after++;
      }
    };
    const upgrade = async () => {
      await new Promise((r) => setTimeout(r, 150));
      await PgCallScheduler.open(db, { appId: 1 });
      upgraded = true;
    };
    await Promise.all([worker(), worker(), worker(), upgrade()]);
    const { rows } = await db.pool.query<{ n: string; at_ms: number }>(
      'SELECT n, (extract(epoch FROM at) * 1000)::float8 AS at_ms FROM zm_call_send_log WHERE app_id = 1 ORDER BY n'
    );
    assert.ok(sentAt.length > 40, `sends before and after the upgrade: ${sentAt.length} (${failed} failed)`);
    assert.deepEqual(
      rows.map((r) => r.at_ms),
      [...sentAt].sort((a, b) => a - b),
      'every send recorded, in its order'
    );
    assert.deepEqual(
      rows.map((r) => Number(r.n)),
      rows.map((_, i) => i + 1)
    );
  });

  it('writes as many rows for a send with a log of 100,000 sends as with one of 50', async () => {
    const db = await previousVersionStore('cost_independent_of_n');
    await seedArrayLog(db, { appId: 1, n: 50, keys: 1 });
    await seedArrayLog(db, { appId: 2, n: 100_000, keys: 1 });
    const scheduler = await PgCallScheduler.open(db, { appId: 1 });
    /**
     * Rows (tables and TOAST) one send check inserts, updates and deletes: the backend's statistics before and after
     * it in one transaction (they include earlier transactions' not yet flushed, hence the difference).
     */
    const rowsWritten = async (appId: number, n: number) => {
      const client = await db.pool.connect();
      const written = async () =>
        Number(
          (
            await client.query<{ written: string }>(
              'SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) AS written FROM pg_stat_xact_all_tables'
            )
          ).rows[0]?.written
        );
      try {
        await client.query('BEGIN');
        const before = await written();
        const { rows } = await client.query<{ sent_at: number | null }>(
          'SELECT sent_at FROM zm_call_try_send($1, $2, $3, $4, $5)',
          [appId, 'InviteUsersIntoGroup', 'g0', n, 0.02]
        );
        assert.notEqual(rows[0]?.sent_at, null, `the send at N=${n} is recorded`);
        const after = await written();
        await client.query('COMMIT');
        return after - before;
      } finally {
        client.release();
      }
    };
    await scheduler.trySend('InviteUsersIntoGroup', 'warm-up');
    const small = await rowsWritten(1, 50);
    const large = await rowsWritten(2, 100_000);
    assert.ok(small <= 10, `a send writes a few rows: ${small}`);
    assert.equal(large, small, 'as many at N = 100,000 as at N = 50');
  });

  it('keeps the last N sends of each log, N the budget now', async () => {
    const db = await previousVersionStore('keeps_last_n');
    const scheduler = await PgCallScheduler.open(db, { appId: 1 });
    const age = () => db.pool.query("UPDATE zm_call_send_log SET at = at - interval '1 hour'");
    const send = async (count: number) => {
      for (let i = 0; i < count; i++)
        assert.equal((await scheduler.trySend('ImportPeerMsg', '')).waitMs, 0, `send ${i + 1} of ${count}`);
    };
    await scheduler.setRate('ImportPeerMsg', 10);
    await send(10);
    await age();
    await send(5);
    assert.deepEqual(await logRows(db, 1, 'ImportPeerMsg'), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

    await scheduler.setRate('ImportPeerMsg', 3); // lowered: the surplus goes with the next send
    await age();
    await send(1);
    assert.deepEqual(await logRows(db, 1, 'ImportPeerMsg'), [14, 15, 16]);

    await scheduler.setRate('ImportPeerMsg', 5); // raised: fewer than N kept, none to wait for until N are
    await send(2);
    assert.deepEqual(await logRows(db, 1, 'ImportPeerMsg'), [14, 15, 16, 17, 18]);
    await send(2);
    assert.deepEqual(await logRows(db, 1, 'ImportPeerMsg'), [16, 17, 18, 19, 20]);
    assert.equal((await scheduler.trySend('ImportPeerMsg', '')).sentAt, undefined, 'the 5th last is recent');
  });

  it('forgets the logs idle for an hour, unless the budget is so low that a send that old still counts', async () => {
    const db = await previousVersionStore('forgets_idle_logs');
    const scheduler = await PgCallScheduler.open(db, { appId: 1 });
    const group = 'InviteUsersIntoGroup';
    await scheduler.setRate(group, 5);
    for (const key of ['idle', 'active'])
      for (let i = 0; i < 3; i++) assert.equal((await scheduler.trySend(group, key)).waitMs, 0);
    await scheduler.setRate('ImportPeerMsg', 0.0001); // one call per 10,000 s
    assert.equal((await scheduler.trySend('ImportPeerMsg', '')).waitMs, 0);
    await db.pool.query(
      "UPDATE zm_call_send_log SET at = at - interval '2 hours' WHERE key = 'idle' OR action = 'ImportPeerMsg'"
    );
    const keyRows = async (action: string, key: string) =>
      (
        await db.pool.query<{ n: string }>(
          'SELECT n FROM zm_call_send_log WHERE app_id = 1 AND action = $1 AND key = $2 ORDER BY n',
          [action, key]
        )
      ).rows.map((r) => Number(r.n));
    // A worker's first call does the housekeeping (then once a minute), after it.
    await (await PgCallScheduler.open(db, { appId: 1 })).acquire(group, 'another');
    await waitFor('the idle group forgotten', async () => (await keyRows(group, 'idle')).length === 0, 30_000);
    assert.deepEqual(await keyRows(group, 'active'), [1, 2, 3]);
    assert.deepEqual(await keyRows('ImportPeerMsg', ''), [1], 'a send 2 h ago still holds back a 10,000-s budget');
    assert.ok((await scheduler.trySend('ImportPeerMsg', '')).waitMs > 2_800_000, 'about 10,100 s less the 7,200');

    assert.equal((await scheduler.trySend(group, 'idle')).waitMs, 0);
    assert.deepEqual(await keyRows(group, 'idle'), [4], 'its numbering goes on');
  });
});
