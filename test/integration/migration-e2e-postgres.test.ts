/**
 * A whole migration whose staging and ledger live in PostgreSQL: staged by plan into SQLite, moved with
 * `staging copy`, then run by the real worker and activities (a real dev server, the emulator over HTTP) from the
 * postgres:// URL alone. The emulator must end holding exactly what staging says, and the ledger must say so too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStaging } from '../../src/staging';
import { copyStaging } from '../../src/staging/copy/copy-staging';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import { buildStaging, FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import { assertExactAndSettled } from '../helpers/exact-migration';
import { useLocalPostgres } from '../helpers/local-postgres';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

describe('end-to-end migration with staging on PostgreSQL', () => {
  const pg = useLocalPostgres();
  let t: TemporalTestEnv;
  let staging: Awaited<ReturnType<typeof buildStaging>>;
  const saved = process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
  before(async () => {
    [t, staging] = await Promise.all([startTemporalTestEnv(), buildStaging(24, 11, { gen: ['--groups', '3'] })]);
  });
  after(async () => {
    await t?.teardown();
    if (saved === undefined) delete process.env.ZIM_MIGRATE_DATABASE_PASSWORD;
    else process.env.ZIM_MIGRATE_DATABASE_PASSWORD = saved;
  });

  it('lands every record exactly once and verifies it, from the URL alone', async () => {
    // The worker (in this process) takes the password from its environment; the workflow carries only the URL.
    process.env.ZIM_MIGRATE_DATABASE_PASSWORD = pg.server().password;
    const url = `${pg.server().url}?schema=e2e`;
    await copyStaging(staging.fresh(), url);
    const emulator = await startFastEmulator({});
    try {
      const result = await migrateIntoEmulator({
        connection: t.server.env.nativeConnection,
        client: t.client,
        emulator,
        stagingPath: url,
        migrationId: 'pg-clean',
        budgets: FAST_BUDGETS,
      });
      assert.equal(result.status, 'completed');
      const store = await openStaging(url);
      try {
        await assertExactAndSettled(store, emulator, result.stages);
        assert.equal(await store.lastMigration(), 'pg-clean');
      } finally {
        await store.close();
      }
      assert.equal(emulator.counters().refusals['660300005'] ?? 0, 0, 'the call schedule let calls exceed the budget');
    } finally {
      await emulator.stop();
    }
  });
});
