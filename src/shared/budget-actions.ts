/**
 * Every ZIM Action whose budget an operator may set: the migration's and those only a catch-up round calls
 * (DeleteFriends, DismissGroup, ...). One list for `start --budget`, `catch-up --budget`, `budget`, the config
 * file's "budgets" and the workflows' setBudget validator, so a round's Action is settable exactly as a migration's.
 * Free of Node APIs: workflow code imports it.
 */
import { ROUND_OP_ACTION, ROUND_OPS } from './rounds';
import { MIGRATION_ACTIONS } from './stages';

export const BUDGET_ACTIONS: readonly [string, ...string[]] = [
  ...new Set<string>([...MIGRATION_ACTIONS, ...ROUND_OPS.map((o) => ROUND_OP_ACTION[o].action)]),
] as [string, ...string[]];

export const isBudgetAction = (action: string): boolean => BUDGET_ACTIONS.includes(action);

/** Why a setBudget change is refused (null: valid); the workflows' update validator and the CLI say the same. */
export function budgetChangeError(action: string, rate: number): string | null {
  if (!isBudgetAction(action)) return `Unknown ZIM Action "${action}"; one of: ${BUDGET_ACTIONS.join(', ')}`;
  if (!(rate > 0 && rate <= 10_000)) return `A budget is calls per second in (0, 10000]; got ${rate}`;
  return null;
}
