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

/**
 * Opens the staging data at `location`: a SQLite file's path, or a postgres:// URL (its `?schema=` names the
 * migration's schema; password and TLS from `env`, docs/configuration.md#postgresql).
 */
export function openStaging(
  location: string,
  options: OpenStagingOptions = {},
  env: NodeJS.ProcessEnv = process.env
): Promise<MigrationStore> {
  if (isDatabaseUrl(location)) return PgMigrationStore.open(location, options, env);
  return Promise.resolve().then(() => SqliteMigrationStore.open(location, options));
}
