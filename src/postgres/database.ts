/**
 * A connection pool to the shared PostgreSQL database, and the one place that turns driver errors into messages:
 * every message names the database by its URL without the password, and any password text is removed from it.
 */
import pg from 'pg';
import type { DatabaseSettings } from './database-settings';
import { redactSecrets } from './database-settings';

export interface Database {
  readonly pool: pg.Pool;
  /** The URL without its password. */
  readonly safeUrl: string;
  /** An error's message fit for logs: the password removed, the database named safely. */
  describe(err: unknown): string;
  close(): Promise<void>;
}

export function openDatabase(settings: DatabaseSettings): Database {
  const pool = new pg.Pool(settings.pool);
  const secret = typeof settings.pool.password === 'string' ? settings.pool.password : undefined;
  const describe = (err: unknown) =>
    `${settings.safeUrl}: ${redactSecrets(err instanceof Error ? err.message : String(err), [secret])}`;
  // An idle connection that breaks (the server restarted) is dropped by the pool; without a listener the error
  // would end the process. The next query opens a new connection.
  let closed = false;
  pool.on('error', (err) => {
    // After close(), a connection still saying goodbye may hear the server shut down: nothing to report.
    if (!closed) console.warn(`PostgreSQL connection lost (${describe(err)}); reconnecting on demand`);
  });
  return {
    pool,
    safeUrl: settings.safeUrl,
    describe,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
