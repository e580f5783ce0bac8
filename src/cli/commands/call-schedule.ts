/**
 * `zim-migrate call-schedule`: this machine's shared call schedule for one ZIM app, read-only. It answers "are we
 * at the budget?" and "how often does ZIM say too frequent?" without Temporal and without the ServerSecret.
 */
import type { Command } from 'commander';
import { ConfigError } from '../../config/config-error';
import { resolveSetting, resolveWithDefault } from '../../config/layered-settings';
import { defaultBudgetDbPath, ZIM_SETTING_SPECS } from '../../config/zim-config';
import { readCallSchedule } from '../../rate-limit/read-call-schedule';
import { UsageError } from '../../shared/usage-error';
import { settingLayers } from '../setting-layers';

export function registerCallScheduleCommand(program: Command): void {
  program
    .command('call-schedule')
    .description('Show this machine\'s call schedule: per ZIM Action its budget, calls made, "too frequent" answers')
    .option('--app-id <id>', 'ZIM AppID (env ZIM_APP_ID, config "appId")')
    .option('--budget-db <file>', 'the schedule file (env ZIM_MIGRATE_BUDGET_DB, config "budgetDb")')
    .option('--json', 'print the rows as JSON')
    .addHelpText(
      'after',
      `
Every worker on this machine reserves each ZIM call's slot in this file, so the budgets hold across worker
processes. Counts are since the file was created (all migrations into this app). "Too frequent" answers are
ZIM's rate-limit refusals: a few in a million calls is jitter; more means something else spends the same
budget (the live app's own server calls, a worker on another machine, a budget above ZIM's).

Examples:
  $ zim-migrate call-schedule
  $ ZIM_MIGRATE_BUDGET_DB=/var/lib/zim-migrate/call-budgets.sqlite zim-migrate call-schedule --app-id 1234567890
  $ zim-migrate call-schedule --json | jq '.[] | select(.refusals > 0)'

Exit codes: 0 printed, 1 failure, 2 bad usage or configuration (no AppID, no schedule file at that path).`
    )
    .action((opts: { json?: boolean }, command: Command) => {
      const layers = settingLayers(command);
      const appId = resolveSetting(layers, ZIM_SETTING_SPECS.appId);
      if (!appId)
        throw new ConfigError('ZIM_APP_ID is not set: the schedule is kept per app; pass --app-id or set it.');
      const file = resolveWithDefault(layers, ZIM_SETTING_SPECS.budgetDb, defaultBudgetDbPath()).value;
      let rows: ReturnType<typeof readCallSchedule>;
      try {
        rows = readCallSchedule(file, appId.value);
      } catch (err) {
        throw new UsageError(
          `Cannot read a call schedule at ${file} (${(err as Error).message}). Workers create it on their first ZIM ` +
            'call; point --budget-db or ZIM_MIGRATE_BUDGET_DB at the file the workers use.'
        );
      }
      if (opts.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      console.log(`Call schedule ${file}, app ${appId.value}`);
      if (rows.length === 0) {
        console.log('No call made for this app yet.');
        return;
      }
      const now = Date.now();
      console.log('Action                  budget            calls   "too frequent"   queued until');
      for (const r of rows) {
        const share = r.calls > 0 ? ` (${((r.refusals / r.calls) * 100).toFixed(2)}%)` : '';
        const queued =
          r.nextFreeAt !== undefined && r.nextFreeAt > now ? `+${((r.nextFreeAt - now) / 1000).toFixed(1)} s` : '-';
        console.log(
          `${r.action.padEnd(22)}  ${`${r.rate}/s${r.perKey ? ` per group (${r.keys})` : ''}`.padEnd(16)}` +
            `${r.calls.toLocaleString('en-US').padStart(7)}   ${`${r.refusals}${share}`.padEnd(16)} ${queued}`
        );
      }
    });
}
