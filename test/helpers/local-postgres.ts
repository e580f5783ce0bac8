/**
 * A throwaway PostgreSQL server for a test file: started in `before`, stopped (and its directory deleted) in
 * `after`. A machine without PostgreSQL binaries fails each test with the reason, never skips it.
 */
import { after, before } from 'node:test';
import { openDatabase, type Database } from '../../src/postgres/database';
import { resolveDatabaseSettings } from '../../src/postgres/database-settings';
import { startLocalPostgres, type LocalPostgres } from '../../src/postgres/local-postgres';

export interface TestPostgres {
  server(): LocalPostgres;
  /** A new pool on the server's database; closed in `after`. */
  open(env?: NodeJS.ProcessEnv): Database;
  /** The environment a separate process needs to connect. */
  env(): NodeJS.ProcessEnv;
}

export function useLocalPostgres(): TestPostgres {
  let server: LocalPostgres | undefined;
  let failed: unknown;
  const opened: Database[] = [];
  before(async () => {
    // Kept, not thrown: each test then fails with the reason (a hook's error would only cancel them).
    server = await startLocalPostgres().catch((err: unknown) => void (failed = err));
  });
  after(async () => {
    for (const db of opened) await db.close().catch(() => undefined);
    await server?.stop();
  });
  const running = () => {
    if (!server)
      throw new Error(
        `No local PostgreSQL for this test: ${failed instanceof Error ? failed.message : String(failed)}`
      );
    return server;
  };
  const env = () => ({ ZIM_MIGRATE_DATABASE_URL: running().url, ZIM_MIGRATE_DATABASE_PASSWORD: running().password });
  return {
    server: running,
    env,
    open(extra = {}) {
      const db = openDatabase(resolveDatabaseSettings({ ...env(), ...extra }));
      opened.push(db);
      return db;
    },
  };
}
