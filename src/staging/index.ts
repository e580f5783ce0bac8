/** Opening a migration's store: import from here, not from an engine's module. */
import path from 'node:path';
import { isDatabaseUrl } from '../postgres/database-settings';
import type { MigrationStore, OpenStagingOptions } from './migration-store';
import { SqliteMigrationStore } from './sqlite/sqlite-migration-store';

export { isDatabaseUrl };

/** What a command hands the workers: a database URL as given, a file path made absolute. */
export function stagingLocation(given: string): string {
  return isDatabaseUrl(given) ? given : path.resolve(given);
}

/** The URL is left out: it may carry a password. */
export const POSTGRES_NOT_YET =
  'PostgreSQL staging is not available yet: stage into a SQLite file (a path, e.g. --out acme.sqlite) for now';

/** Opens the staging data at `location` (a path or a database URL, see isDatabaseUrl). */
export function openStaging(location: string, options: OpenStagingOptions = {}): Promise<MigrationStore> {
  if (isDatabaseUrl(location)) return Promise.reject(new Error(POSTGRES_NOT_YET));
  return Promise.resolve().then(() => SqliteMigrationStore.open(location, options));
}
