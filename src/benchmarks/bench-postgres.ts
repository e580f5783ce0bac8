import { DATABASE_ENV } from '../postgres/database-settings';
import { startLocalPostgres } from '../postgres/local-postgres';

/**
 * Runs `run` against a throwaway local PostgreSQL (loopback): its URL carries no password, which is given the way
 * users give it, in the environment, for the run only; the server is stopped and its cluster deleted afterwards.
 */
export async function withLocalPostgres<T>(run: (url: string) => Promise<T>): Promise<T> {
  const pg = await startLocalPostgres();
  const saved = process.env[DATABASE_ENV.password];
  process.env[DATABASE_ENV.password] = pg.password;
  try {
    return await run(pg.url);
  } finally {
    if (saved === undefined) delete process.env[DATABASE_ENV.password];
    else process.env[DATABASE_ENV.password] = saved;
    await pg.stop();
  }
}
