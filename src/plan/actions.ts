/**
 * The plan's view of the stage graph (src/shared/stages.ts, the one source of stages, their order and their Actions)
 * with ZIM's default budgets (src/zim-client/limits.ts).
 */
import { defaultBudget } from '../zim-client/limits';
import { MIGRATION_ACTIONS, type MigrationAction } from '../shared/stages';

/** Actions whose limit is per group (1/s each), not per app. */
export const PER_GROUP_ACTIONS: ReadonlySet<MigrationAction> = new Set(
  MIGRATION_ACTIONS.filter((a) => defaultBudget(a).perKey === true)
);

export const DEFAULT_RATES: Record<MigrationAction, number> = Object.fromEntries(
  MIGRATION_ACTIONS.map((a) => [a, defaultBudget(a).rate])
) as Record<MigrationAction, number>;
