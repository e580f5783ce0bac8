/** Builds the activity implementations the worker registers, with their dependencies injected. */
import { createMigrationActivities, type ActivityDeps } from './migration-activities';
import { preflight } from './preflight';

export type { ActivityDeps } from './migration-activities';

/** Without deps only `preflight` is available (enough to prove a worker polls); a migration worker passes deps. */
export function createActivities(deps?: ActivityDeps) {
  return { preflight, ...(deps ? createMigrationActivities(deps) : {}) };
}
