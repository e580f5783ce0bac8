/**
 * The setBudget update and the start's budgets, one path for the migration and a catch-up round: a change is
 * validated (src/shared/budget-actions.ts), applied by an activity to the call schedule every worker shares, and
 * kept in the workflow's state (carried over continue-as-new) for its progress and ETA.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { budgetChangeError } from '../src/shared/budget-actions';
import { setBudgetUpdate, type BudgetChange } from '../src/shared/workflow-api';

export interface BudgetKeeper {
  /** Applies the start's budgets (a first run only); an operator's change waits for them, or they would overwrite it. */
  applyStart(given: Record<string, number> | undefined): Promise<void>;
}

export function keepBudgets(opts: {
  /** The workflow's own record of the budgets that differ from ZIM's defaults (mutated). */
  budgets: Record<string, number>;
  /** A continued run: the start's budgets were applied by an earlier run. */
  continued: boolean;
  apply: (change: BudgetChange) => Promise<void>;
  onChange: () => void;
}): BudgetKeeper {
  let ready = opts.continued;
  setHandler(
    setBudgetUpdate,
    async (change) => {
      await condition(() => ready);
      await opts.apply(change);
      opts.budgets[change.action] = change.rate;
      opts.onChange();
      return { ...opts.budgets };
    },
    {
      validator: ({ action, rate }: BudgetChange) => {
        const error = budgetChangeError(action, rate);
        if (error) throw new Error(error);
      },
    }
  );
  return {
    async applyStart(given) {
      if (!ready)
        for (const [action, rate] of Object.entries(given ?? {})) {
          await opts.apply({ action, rate });
          opts.budgets[action] = rate;
        }
      ready = true;
    },
  };
}
