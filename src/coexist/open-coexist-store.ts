/**
 * Opening the coexistence store by location, as staging is opened (src/staging/index.ts): a `postgres://` (or
 * `postgresql://`) URL puts it in PostgreSQL, shared by receivers and workers on any machine; anything else is a
 * SQLite file, for one machine. The password and TLS come from ZIM_MIGRATE_DATABASE_* (docs/configuration.md
 * #postgresql), never from what is printed: messages name the store by `storeName`.
 */
import { isDatabaseUrl, redactIfUrl } from '../postgres/database-settings';
import { openSqliteCoexistStore, type CoexistStore } from './coexist-store';
import { openPostgresCoexistStore } from './coexist-store-postgres';

/** The store's location when neither --store nor ZIM_MIGRATE_COEXIST_STORE names one. */
export const DEFAULT_COEXIST_STORE = 'coexist.sqlite';

/** --store, else ZIM_MIGRATE_COEXIST_STORE, else the default file. */
export const coexistStoreLocation = (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string =>
  flag ?? (env.ZIM_MIGRATE_COEXIST_STORE || DEFAULT_COEXIST_STORE);

/** The location fit to print: a URL without its password. */
export const storeName = (location: string): string => redactIfUrl(location);

export const isPostgresStore = (location: string): boolean => isDatabaseUrl(location);

export function openCoexistStore(location: string, env: NodeJS.ProcessEnv = process.env): Promise<CoexistStore> {
  if (isDatabaseUrl(location)) return openPostgresCoexistStore(location.trim(), env);
  return Promise.resolve().then(() => openSqliteCoexistStore(location, env));
}
