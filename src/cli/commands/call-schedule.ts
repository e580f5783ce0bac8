/**
 * `zim-migrate call-schedule`: this machine's shared call schedule for one ZIM app, read-only. It answers "are we
 * at the budget?" and "how often does ZIM say too frequent?" without Temporal and without the ServerSecret.
 * With nothing named it finds the file (the machine default, else a rehearsal's) and the app (the only one in it).
 * A postgres:// URL reads the schedule workers on several machines share (connection settings from the environment).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { describeSource, resolveSetting } from '../../config/layered-settings';
import { defaultBudgetDbPath, ZIM_SETTING_SPECS } from '../../config/zim-config';
import { openDatabase } from '../../postgres/database';
import { isDatabaseUrl, redactIfUrl, resolveDatabaseSettings } from '../../postgres/database-settings';
import { callScheduleApps, readCallSchedule, type CallScheduleRow } from '../../rate-limit/read-call-schedule';
import { pgCallScheduleApps, readPgCallSchedule } from '../../rate-limit/read-pg-call-schedule';
import { UsageError } from '../../shared/usage-error';
import { parseOrUsage } from '../import-options';
import { settingLayers } from '../setting-layers';

/** `zim-migrate dev` keeps its files in --dir (default .rehearsal), its schedule in call-budgets.sqlite there. */
const REHEARSAL_DIR = '.rehearsal';
const SCHEDULE_FILE = 'call-budgets.sqlite';

const optionsSchema = z.object({
  dir: z.string().min(1, '--dir needs a directory').optional(),
  json: z.boolean().default(false),
});

const appList = (apps: readonly number[]) => `app${apps.length === 1 ? '' : 's'} ${apps.join(', ')}`;

/** The schedule file: a flag (--budget-db, or --dir for a rehearsal), the environment, the config file, else found. */
function scheduleFile(layers: ReturnType<typeof settingLayers>, dir: string | undefined) {
  if (dir !== undefined && layers.flags.budgetDb !== undefined)
    throw new UsageError('--dir and --budget-db both name a schedule file: pass one.');
  if (dir !== undefined) return { file: path.resolve(dir, SCHEDULE_FILE), how: `--dir ${dir}` };
  const named = resolveSetting(layers, ZIM_SETTING_SPECS.budgetDb);
  if (named) return { file: named.value, how: describeSource(named.source) };
  const machine = defaultBudgetDbPath();
  const rehearsal = path.resolve(REHEARSAL_DIR, SCHEDULE_FILE);
  if (existsSync(machine))
    return {
      file: machine,
      how: `the default${existsSync(rehearsal) ? `; a rehearsal's is at ${rehearsal}: --dir ${REHEARSAL_DIR}` : ''}`,
    };
  if (existsSync(rehearsal)) return { file: rehearsal, how: `the rehearsal's, in ./${REHEARSAL_DIR}` };
  throw new UsageError(
    `No call schedule file: looked for ${machine} and ${rehearsal}. Workers create it on their first ZIM call; ` +
      'name the file the workers use with --budget-db or ZIM_MIGRATE_BUDGET_DB, or a rehearsal folder with --dir.'
  );
}

export function registerCallScheduleCommand(program: Command): void {
  program
    .command('call-schedule')
    .description('Show this machine\'s call schedule: per ZIM Action its budget, calls made, "too frequent" answers')
    .option('--app-id <id>', 'ZIM AppID (env ZIM_APP_ID, config "appId"; default: the only app in the file)')
    .option(
      '--budget-db <file|url>',
      `the schedule file or postgres:// URL (env ZIM_MIGRATE_BUDGET_DB, config "budgetDb"; default: ~/.zim-migrate/${SCHEDULE_FILE} ` +
        `if it exists, else ./${REHEARSAL_DIR}/${SCHEDULE_FILE})`
    )
    .option('--dir <dir>', `a rehearsal's folder ("zim-migrate dev --dir"): read <dir>/${SCHEDULE_FILE}`)
    .option('--json', 'print the rows as JSON')
    .addHelpText(
      'after',
      `
Every worker on this machine reserves each ZIM call's slot in this file, so the budgets hold across worker
processes. Counts are since the file was created (all migrations into this app). "Too frequent" answers are
ZIM's rate-limit refusals. Up to 0.1% of an Action's calls over five minutes are let pass; each refusal beyond
that leaves 1% more of its budget unused, up to 10%, decaying by 1% a minute ("extra headroom"), so refusals
settle near 0.1% of the calls whatever the jitter. Many more than that mean something else spends the same
budget (the live app's own server calls, a worker on another machine, a budget above ZIM's).

Which file: --budget-db, --dir, ZIM_MIGRATE_BUDGET_DB or "budgetDb" in the config file; with none of them, the
workers' default ~/.zim-migrate/${SCHEDULE_FILE}, else the rehearsal's ./${REHEARSAL_DIR}/${SCHEDULE_FILE}
("zim-migrate dev" run from this directory). Which app: --app-id, ZIM_APP_ID or "appId"; with none, the only
app in the file. The first line says which file and app were read, and why.

Examples:
  $ zim-migrate call-schedule                           after "zim-migrate dev": the rehearsal's schedule
  $ zim-migrate call-schedule --dir ./rehearsal-acme    a rehearsal run with --dir ./rehearsal-acme
  $ ZIM_MIGRATE_BUDGET_DB=/var/lib/zim-migrate/call-budgets.sqlite zim-migrate call-schedule --app-id 1234567890
  $ zim-migrate call-schedule --json | jq '.[] | select(.refusals > 0)'

Exit codes: 0 printed, 1 failure, 2 bad usage or configuration (no schedule file found or readable there, several
apps in the file and no --app-id).`
    )
    .action(async (raw: Record<string, unknown>, command: Command) => {
      const opts = parseOrUsage(optionsSchema, { dir: raw.dir, json: raw.json === true });
      const layers = settingLayers(command);
      const { file: location, how } = scheduleFile(layers, opts.dir);
      const file = redactIfUrl(location);
      const db = isDatabaseUrl(location) ? openDatabase(resolveDatabaseSettings(process.env, location)) : undefined;
      try {
        const unreadable = (err: unknown) =>
          new UsageError(
            `Cannot read a call schedule at ${file} (${(err as Error).message}). Workers create it on their first ZIM ` +
              'call; point --budget-db or ZIM_MIGRATE_BUDGET_DB at the file the workers use, or --dir at a rehearsal.'
          );
        let apps: number[];
        try {
          apps = db ? await pgCallScheduleApps(db) : callScheduleApps(location);
        } catch (err) {
          throw unreadable(err);
        }
        const named = resolveSetting(layers, ZIM_SETTING_SPECS.appId);
        if (!named && apps.length > 1)
          throw new UsageError(
            `${file} holds the schedules of ${appList(apps)}: pass --app-id (or set ZIM_APP_ID) to choose one.`
          );
        const appId = named?.value ?? apps[0];
        let rows: CallScheduleRow[] = [];
        if (appId !== undefined) rows = db ? await readPgCallSchedule(db, appId) : readCallSchedule(location, appId);
        if (opts.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        const appLabel =
          appId === undefined
            ? 'no app yet'
            : `app ${appId} (${named ? describeSource(named.source) : 'the only app in it'})`;
        console.log(`Call schedule ${file} (${how}), ${appLabel}`);
        if (rows.length === 0) {
          const others = apps.filter((a) => a !== appId);
          console.log(
            appId === undefined
              ? 'No call made yet.'
              : `No call made for app ${appId} yet${others.length ? ` (this file holds ${appList(others)})` : ''}.`
          );
          return;
        }
        const now = Date.now();
        console.log('Action                  budget            calls   "too frequent"   queued until   extra headroom');
        for (const r of rows) {
          const share = r.calls > 0 ? ` (${((r.refusals / r.calls) * 100).toFixed(2)}%)` : '';
          const queued =
            r.nextFreeAt !== undefined && r.nextFreeAt > now ? `+${((r.nextFreeAt - now) / 1000).toFixed(1)} s` : '-';
          console.log(
            `${r.action.padEnd(22)}  ${`${r.rate}/s${r.perKey ? ` per group (${r.keys})` : ''}`.padEnd(16)}` +
              `${r.calls.toLocaleString('en-US').padStart(7)}   ${`${r.refusals}${share}`.padEnd(16)} ${queued.padEnd(14)}` +
              (r.extraHeadroom > 0 ? ` +${(r.extraHeadroom * 100).toFixed(1)}%` : ' -')
          );
        }
      } finally {
        await db?.close();
      }
    });
}
