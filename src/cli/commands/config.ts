/**
 * `zim-migrate config`: the settings a worker and the operator commands would use here, each with where it came
 * from (flag, environment, config file, default), after the same validation they get. The ServerSecret is read and
 * checked but only reported as set; the Temporal API key likewise.
 */
import type { Command } from 'commander';
import { ConfigError } from '../../config/config-error';
import { describeSource, type SettingSource } from '../../config/layered-settings';
import { resolveStartSettings } from '../../config/start-settings';
import { resolveZimSettings } from '../../config/zim-config';
import { redactIfUrl } from '../../postgres/database-settings';
import { resolveTemporalSettings } from '../../temporal-connection/connect';
import { settingLayers } from '../setting-layers';

interface Row {
  setting: string;
  value: string | number;
  from: string;
}

type Section = { rows: Row[] } | { error: string };

const TEMPORAL_OWN = "Temporal's own settings (TEMPORAL_* env, temporal.toml profile)";

function section(build: () => Row[]): Section {
  try {
    return { rows: build() };
  } catch (err) {
    if (err instanceof ConfigError) return { error: err.message };
    throw err;
  }
}

const row = (setting: string, value: string | number, source: SettingSource | string): Row => ({
  setting,
  value,
  from: typeof source === 'string' ? source : describeSource(source),
});

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('Show the settings workers and commands would use here, and where each comes from; check them')
    .option('--json', 'print {configFile, zim, temporal, start} as JSON')
    .addHelpText(
      'after',
      `
Precedence: flags > environment > config file > defaults. The config file is --config FILE, else
$ZIM_MIGRATE_CONFIG, else ./zim-migrate.config.json if it exists (docs/configuration.md). This command shows
environment, file and defaults; a command's own flags (e.g. "worker --app-id") override them. The ServerSecret
is read and checked (32 characters) but never printed.

Examples:
  $ zim-migrate config
  $ zim-migrate --config prod.json config
  $ ZIM_MIGRATE_CONFIG=prod.json zim-migrate config --json | jq .temporal

Exit codes: 0 every setting valid, 2 a setting is missing or invalid (each problem is printed with its fix),
1 failure.`
    )
    .action((opts: { json?: boolean }, command: Command) => {
      const layers = settingLayers(command);
      const zim = section(() => {
        const { config, sources } = resolveZimSettings(layers);
        return [
          row('appId', config.appId, sources.appId),
          row('baseUrl', config.baseUrl, sources.baseUrl),
          row('serverSecret', 'set (32 characters, not shown)', sources.serverSecret),
          row('budgetDb', redactIfUrl(config.budgetDbPath), sources.budgetDb),
          row('budgetHeadroomPercent', config.budgetHeadroomPercent, sources.budgetHeadroom),
          row('zimTimeoutMs', config.zimTimeoutMs, sources.zimTimeout),
          row('workflowHeapMb', config.workflowHeapMb, sources.workflowHeap),
        ];
      });
      const temporal = section(() => {
        const t = resolveTemporalSettings(layers);
        const tls = t.connectionOptions.tls;
        return [
          row('address', t.connectionOptions.address, TEMPORAL_OWN),
          row('namespace', t.namespace, TEMPORAL_OWN),
          row('profile', t.sources.profile?.value ?? 'default', t.sources.profile?.source ?? TEMPORAL_OWN),
          row('tls', tls ? 'on' : 'off', TEMPORAL_OWN),
          row('apiKey', t.connectionOptions.apiKey ? 'set (not shown)' : 'not set', TEMPORAL_OWN),
          row('taskQueue', t.taskQueue, t.sources.taskQueue),
          row(
            'uiUrl',
            t.uiUrl ?? 'unknown (set TEMPORAL_UI_URL or "temporalUiUrl")',
            'TEMPORAL_UI_URL / file / dev default'
          ),
        ];
      });
      const start = section(() => {
        const s = resolveStartSettings(layers, {});
        const budgets = Object.entries(s.budgets).map(([a, r]) => `${a}=${r}`);
        return [
          row('errorBudgetPercent', s.errorBudgetPercent.value, s.errorBudgetPercent.source),
          row(
            'budgets',
            budgets.join(', ') || "ZIM's defaults",
            budgets.length ? `"budgets" in ${layers.file?.path}` : 'the default'
          ),
        ];
      });
      const configFile = layers.file ? { path: layers.file.path, via: layers.file.via } : null;
      const failed = [zim, temporal, start].some((s) => 'error' in s);
      if (opts.json) console.log(JSON.stringify({ configFile, zim, temporal, start }, null, 2));
      else {
        console.log(
          `Config file: ${configFile ? `${configFile.path} (${configFile.via})` : 'none (no --config, ZIM_MIGRATE_CONFIG or ./zim-migrate.config.json)'}`
        );
        for (const [title, s] of [
          ['ZIM (workers)', zim],
          ['Temporal', temporal],
          ['start defaults', start],
        ] as const) {
          console.log(`\n${title}`);
          if ('error' in s) console.log(s.error.replace(/^/gm, '  ✗ '));
          else for (const r of s.rows) console.log(`  ${r.setting.padEnd(19)} ${String(r.value).padEnd(44)} ${r.from}`);
        }
      }
      if (failed) process.exitCode = 2;
    });
}
