/**
 * The defaults `zim-migrate start` (and `catch-up`) gives a migration (a round): its error budget and its per-Action call budgets. A team can
 * keep them in the config file; flags override them (budgets Action by Action).
 */
import { resolveWithDefault, type Resolved, type SettingLayers } from './layered-settings';
import { settingSchemas } from './setting-schemas';

export const DEFAULT_ERROR_BUDGET_PERCENT = 1;

export interface StartSettings {
  errorBudgetPercent: Resolved<number>;
  /** Calls per second per Action that differ from ZIM's defaults. */
  budgets: Record<string, number>;
}

export function resolveStartSettings(layers: SettingLayers, budgetFlags: Record<string, number>): StartSettings {
  const errorBudgetPercent = resolveWithDefault(
    layers,
    { flag: '--error-budget', fileKey: 'errorBudgetPercent', schema: settingSchemas.errorBudgetPercent },
    DEFAULT_ERROR_BUDGET_PERCENT
  );
  const fromFile = Object.entries(layers.file?.values.budgets ?? {}).filter(
    (e): e is [string, number] => e[1] !== undefined
  );
  return { errorBudgetPercent, budgets: { ...Object.fromEntries(fromFile), ...budgetFlags } };
}
