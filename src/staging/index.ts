/** Opening a migration's store: import from here, not from an engine's module. */
import path from 'node:path';
import { isDatabaseUrl } from '../postgres/database-settings';
import type { MigrationStore, OpenStagingOptions } from './migration-store';
import { PgMigrationStore } from './postgres/pg-migration-store';
import { SqliteMigrationStore } from './sqlite/sqlite-migration-store';

export { isDatabaseUrl };

/** What a command hands the workers: a database URL as given, a file path made absolute. */
export function stagingLocation(given: string): string {
  return isDatabaseUrl(given) ? given : path.resolve(given);
}

/** What cannot take a PostgreSQL staging yet (the URL is left out: it may carry a password). */
export const POSTGRES_NOT_YET =
  'PostgreSQL staging is not wired here yet: stage into a SQLite file (a path, e.g. --out acme.sqlite), then ' +
  'zim-migrate staging copy acme.sqlite postgres://…';

/**
 * Opens the staging data at `location`: a SQLite file's path, or a postgres:// URL (its `?schema=` names the
 * migration's schema; password and TLS from the environment, docs/configuration.md#postgresql).
 */
export function openStaging(location: string, options: OpenStagingOptions = {}): Promise<MigrationStore> {
  if (isDatabaseUrl(location)) return PgMigrationStore.open(location, options);
  return Promise.resolve().then(() => SqliteMigrationStore.open(location, options));
}
