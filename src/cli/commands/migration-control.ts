/**
 * start / status / pause / resume / cancel / budget: the operator's handle on a running migration. Everything here
 * goes through Temporal (signals, the progress query, the setBudget update), so the same actions also work from the
 * plain `temporal` CLI and the Temporal UI.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { resolveStartSettings } from '../../config/start-settings';
import { settingSchemas } from '../../config/setting-schemas';
import { ZIM_MIGRATION_ID, ZIM_MIGRATION_STAGE, ZIM_MIGRATION_STATUS } from '../../shared/search-attributes';
import { isStage, STAGES, type Stage } from '../../shared/stages';
import { BUDGET_ACTIONS, isBudgetAction } from '../../shared/budget-actions';
import { migrationStartMetadata } from '../../shared/ui-metadata';
import {
  cancelSignal,
  pauseSignal,
  progressQuery,
  resumeSignal,
  setBudgetUpdate,
  workflowIds,
  type MigrationProgress,
} from '../../shared/workflow-api';
import { connectClient, resolveTemporalSettings, type TemporalSettings } from '../../temporal-connection/connect';
import { UsageError } from '../../shared/usage-error';
import { redactUrl } from '../../postgres/database-settings';
import { isDatabaseUrl, stagingLocation } from '../../staging';
import { stagingSchemaOf } from '../../staging/postgres/staging-database';
import { describeError } from '../describe-error';
import { withSearchAttributeHint } from '../search-attribute-hint';
import { ProgressPrinter, renderFinal, watchOutputFor, type FinalMigrationState } from '../progress-watch';
import { renderProgress } from '../render-progress';
import { settingLayers } from '../setting-layers';

/** How often --watch asks for progress, and the default of --every (how often a log gets an unchanged-stage line). */
const WATCH_POLL_MS = 2_000;
export const DEFAULT_WATCH_EVERY_SECONDS = 15;
/** How long --watch keeps retrying while Temporal or the workers do not answer, before it fails. */
const WATCH_GIVE_UP_MS = 60_000;

export const migrationName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a migration name is 1-64 letters, digits, ".", "_" or "-"');

const statusOptions = z.object({
  watch: z.boolean().default(false),
  json: z.boolean().default(false),
  every: z.coerce
    .number({ error: '--every must be a number of seconds' })
    .min(1, '--every must be at least 1 second')
    .max(86_400, '--every must be at most 86400 seconds'),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(`${what}: ${r.error.issues.map((i) => i.message).join('; ')}`);
  return r.data;
}

/** `Action=N`, the rate checked by the schema the config file's "budgets" uses, so both accept the same values. */
export function parseBudget(spec: string): { action: string; rate: number } {
  const m = /^([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(spec);
  if (!m || !isBudgetAction(m[1]!)) {
    throw new UsageError(
      `--budget ${spec}: expected Action=callsPerSecond, e.g. ImportPeerMsg=15; Actions: ${BUDGET_ACTIONS.join(', ')}`
    );
  }
  const checked = settingSchemas.budgets.safeParse({ [m[1]!]: m[2] });
  if (!checked.success) throw new UsageError(`--budget ${spec}: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  return { action: m[1]!, rate: Number(m[2]) };
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

export function uiLink(settings: TemporalSettings, workflowId: string): string | undefined {
  return (
    settings.uiUrl && `${settings.uiUrl}/namespaces/${settings.namespace}/workflows/${encodeURIComponent(workflowId)}`
  );
}

export async function withClient<T>(settings: TemporalSettings, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(settings);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

const handleOf = (client: Client, name: string) =>
  client.workflow.getHandle(workflowIds.migration(parse(migrationName, name, 'migration name')));

class NoSuchMigrationError extends Error {
  override name = 'NoSuchMigrationError';
}

async function describeMigration(handle: WorkflowHandle, name: string, settings: TemporalSettings) {
  return handle.describe().catch((err: unknown) => {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    throw new NoSuchMigrationError(
      `No migration "${name}" (workflow ${handle.workflowId}) in namespace ${settings.namespace} at ` +
        `${settings.connectionOptions.address}. List migrations with ` +
        `"temporal workflow list --query 'WorkflowType="migrationWorkflow"'", or check TEMPORAL_NAMESPACE.`
    );
  });
}

/** One look at a migration: its progress while it runs, else how it ended. */
async function pollMigration(
  handle: WorkflowHandle,
  name: string,
  settings: TemporalSettings
): Promise<{ progress: MigrationProgress } | { final: FinalMigrationState }> {
  const description = await describeMigration(handle, name, settings);
  if (description.status.name !== 'RUNNING') return { final: await finalState(handle, name, description.status.name) };
  const progress = await handle.query(progressQuery).catch((err: unknown) => {
    throw new Error(
      `Migration ${name} is running but its progress query failed (${firstLine(err)}). A worker answers ` +
        `queries: check one polls task queue ${settings.taskQueue} with ` +
        `"temporal task-queue describe --task-queue ${settings.taskQueue}", or start one ("zim-migrate worker").`,
      { cause: err }
    );
  });
  return { progress };
}

/** A migration that no longer runs: its result (per-stage counts) when it completed, else Temporal's status. */
async function finalState(handle: WorkflowHandle, name: string, temporalStatus: string): Promise<FinalMigrationState> {
  if (temporalStatus === 'COMPLETED') {
    const result = (await handle.result()) as { status: string; stages: MigrationProgress['stages'] };
    return { migrationId: name, status: result.status, stages: result.stages };
  }
  return { migrationId: name, status: temporalStatus.toLowerCase() };
}

/**
 * Prints a migration's (or a catch-up round's) progress once, or with `watch` follows it until it ends: the exit
 * code is 1 when it ended other than completed.
 */
export async function followMigration(
  client: Client,
  name: string,
  settings: TemporalSettings,
  opts: { watch: boolean; json: boolean; every: number }
): Promise<void> {
  const handle = handleOf(client, name);
  const printer = new ProgressPrinter({
    output: watchOutputFor({ json: opts.json, isTTY: process.stdout.isTTY === true }),
    everyMs: opts.every * 1000,
    write: (text) => process.stdout.write(text),
  });
  let troubleSince: number | undefined;
  for (;;) {
    let snapshot: Awaited<ReturnType<typeof pollMigration>>;
    try {
      snapshot = await pollMigration(handle, name, settings);
      if (troubleSince !== undefined) console.error(`zim-migrate: ${name}: answering again`);
      troubleSince = undefined;
    } catch (err) {
      // A long watch (a CI step, a night) outlives network blips and worker restarts; a wrong name does not.
      if (!opts.watch || err instanceof NoSuchMigrationError) throw err;
      const now = Date.now();
      if (troubleSince === undefined) console.error(`zim-migrate: ${describeError(err)} (retrying for a minute)`);
      troubleSince ??= now;
      if (now - troubleSince > WATCH_GIVE_UP_MS) throw err;
      await new Promise((r) => setTimeout(r, WATCH_POLL_MS));
      continue;
    }
    if ('final' in snapshot) {
      const { final } = snapshot;
      if (opts.watch) printer.end(final);
      else process.stdout.write(opts.json ? `${JSON.stringify(final)}\n` : renderFinal(final));
      if (opts.watch && final.status !== 'completed') process.exitCode = 1;
      return;
    }
    if (!opts.watch) {
      console.log(opts.json ? JSON.stringify(snapshot.progress) : renderProgress(snapshot.progress));
      return;
    }
    printer.show(snapshot.progress);
    await new Promise((r) => setTimeout(r, WATCH_POLL_MS));
  }
}

export function registerMigrationControlCommands(program: Command): void {
  program
    .command('start')
    .description('Start a migration from a staging file made by "zim-migrate plan"')
    .argument('<staging>', 'the staging database file written by "zim-migrate plan --out"')
    .option('--name <name>', 'migration name (the workflow id is zim-migrate/<name>); default: the staging file name')
    .option('--stages <list>', `comma-separated stages to run (default all): ${STAGES.join(',')}`)
    .option('--sequential', 'run one stage at a time instead of every ready stage at once')
    .option(
      '--error-budget <percent>',
      'pause when more than this % of records fail (default 1, or "errorBudgetPercent" in the config file)'
    )
    .option(
      '--budget <Action=rate...>',
      'calls/s for an Action, e.g. ImportPeerMsg=15 (repeatable; over "budgets" in the config file)'
    )
    .option('--task-queue <name>', "the workers' task queue (default zim-migrate; env ZIM_MIGRATE_TASK_QUEUE)")
    .option('--json', 'print {"migrationId","workflowId","ui"} as JSON')
    .addHelpText(
      'after',
      `
The worker (zim-migrate worker) must be able to read the staging file at the same path, and poll the same
task queue. The ServerSecret is never needed here: only workers call ZIM.

Examples:
  $ zim-migrate start ./staging/acme.sqlite
  $ zim-migrate start ./staging/acme.sqlite --name acme-2026-11 --stages accounts,profiles --budget UserRegister=10
  $ zim-migrate start ./staging/acme.sqlite --json | jq -r .ui

Exit codes: 0 started, 1 failure (Temporal unreachable, rejected by the server), 2 bad usage or configuration
(including a migration of that name already running).`
    )
    .action(
      async (
        staging: string,
        opts: {
          name?: string;
          stages?: string;
          sequential?: boolean;
          budget?: string[];
          json?: boolean;
        },
        command: Command
      ) => {
        const stagingPath = stagingLocation(staging);
        const isUrl = isDatabaseUrl(stagingPath);
        // The location goes into the workflow's input, which Temporal stores and shows: never a password.
        if (isUrl && urlHasPassword(stagingPath))
          throw new UsageError(
            `${redactUrl(stagingPath)} holds a password, which would be stored in the workflow's input: pass the URL ` +
              'without it, and give the workers the password in ZIM_MIGRATE_DATABASE_PASSWORD or ' +
              'ZIM_MIGRATE_DATABASE_PASSWORD_FILE.'
          );
        if (!isUrl && !existsSync(stagingPath))
          throw new UsageError(
            `No staging file at ${stagingPath}: run "zim-migrate plan <export-dir> --out ${staging}" first.`
          );
        const name = parse(
          migrationName,
          opts.name ?? (isUrl ? stagingSchemaOf(stagingPath) : path.basename(staging).replace(/\.[^.]*$/, '')),
          'migration name (--name)'
        );
        const stages = opts.stages?.split(',').map((s) => s.trim());
        const unknown = stages?.filter((s) => !isStage(s));
        if (unknown?.length)
          throw new UsageError(`--stages: unknown stage(s) ${unknown.join(', ')}; stages: ${STAGES.join(', ')}`);
        const layers = settingLayers(command);
        const budgetFlags = Object.fromEntries((opts.budget ?? []).map(parseBudget).map((b) => [b.action, b.rate]));
        const { errorBudgetPercent, budgets } = resolveStartSettings(layers, budgetFlags);
        const settings = resolveTemporalSettings(layers);
        const workflowId = workflowIds.migration(name);
        await withClient(settings, async (client) => {
          try {
            await client.workflow.start('migrationWorkflow', {
              taskQueue: settings.taskQueue,
              workflowId,
              args: [
                {
                  migrationId: name,
                  stagingPath,
                  stages: stages as Stage[] | undefined,
                  sequential: opts.sequential,
                  errorBudget: errorBudgetPercent.value / 100,
                  budgets,
                },
              ],
              typedSearchAttributes: [
                { key: ZIM_MIGRATION_ID, value: name },
                { key: ZIM_MIGRATION_STAGE, value: 'starting' },
                { key: ZIM_MIGRATION_STATUS, value: 'running' },
              ],
              ...migrationStartMetadata({
                migrationId: name,
                stagingPath,
                stages: (stages as Stage[] | undefined) ?? STAGES,
              }),
            });
          } catch (err) {
            if (err instanceof WorkflowExecutionAlreadyStartedError)
              throw new UsageError(
                `Migration "${name}" is already running. Watch it with "zim-migrate status ${name} --watch".`
              );
            throw withSearchAttributeHint(err, settings.namespace);
          }
        });
        const ui = uiLink(settings, workflowId);
        if (opts.json) console.log(JSON.stringify({ migrationId: name, workflowId, ui }));
        else {
          console.log(`Started migration ${name} (workflow ${workflowId}, task queue ${settings.taskQueue}).`);
          if (ui) console.log(`Temporal UI: ${ui}`);
          console.log(`Watch it:    zim-migrate status ${name} --watch`);
        }
      }
    );

  program
    .command('status')
    .description("Show a migration's progress: per stage done/planned, failures, rate against budget, ETA")
    .argument('<name>', 'migration name')
    .option('--watch', 'follow it until the migration ends (polls every 2 s)')
    .option(
      '--every <seconds>',
      'with --watch when output is not a terminal, or with --json: print at most this often while no stage changes',
      String(DEFAULT_WATCH_EVERY_SECONDS)
    )
    .option('--json', 'print the progress query result as JSON (with --watch: one object per line, NDJSON)')
    .addHelpText(
      'after',
      `
On a terminal --watch redraws a table. When output is not a terminal (CI logs, | tee, a file) it prints one
line when a stage starts or ends or the migration pauses, resumes or ends, and otherwise at most one line per
--every seconds, only when counts moved. A migration that ended prints its outcome (the stages with counts,
when it completed or was cancelled). While watching, Temporal or the workers not answering is retried for a
minute (a note goes to stderr) before the command fails.

Examples:
  $ zim-migrate status acme --watch
  $ zim-migrate status acme --watch --every 60 | tee acme-progress.log
  $ zim-migrate status acme --json | jq '.stages[] | {stage, status, done, failed}'
  $ zim-migrate status acme --watch --json | jq -c '{status, eta: .etaSeconds}'      NDJSON

Exit codes: 0 progress printed (with --watch: the migration completed), 1 failure (Temporal unreachable, no such
migration, no worker answered; with --watch: the migration ended cancelled, failed or terminated), 2 bad usage.`
    )
    .action(async (name: string, raw: Record<string, unknown>, command: Command) => {
      const opts = parse(statusOptions, raw, 'status options');
      const settings = resolveTemporalSettings(settingLayers(command));
      await withClient(settings, (client) => followMigration(client, name, settings, opts));
    });

  const control = (command: 'pause' | 'resume' | 'cancel', description: string, examples: string, more: string) =>
    program
      .command(command)
      .description(description)
      .argument('<name>', 'migration name')
      .addOption(new Option('--reason <text>', 'shown in status and the Temporal UI').default(undefined))
      .addHelpText(
        'after',
        `
${more}
Examples:
${examples}
Same as: temporal workflow signal --workflow-id zim-migrate/<name> --name ${command} --input '{"reason":"..."}'

Exit codes: 0 signal delivered, 1 failure (Temporal unreachable, no such migration, migration already ended),
2 bad usage.`
      )
      .action(async (name: string, opts: { reason?: string }, cmd: Command) => {
        const settings = resolveTemporalSettings(settingLayers(cmd));
        await withClient(settings, async (client) => {
          const signal = command === 'pause' ? pauseSignal : command === 'resume' ? resumeSignal : cancelSignal;
          const handle = handleOf(client, name);
          await describeMigration(handle, name, settings);
          await handle.signal(signal, { reason: opts.reason });
        });
        console.log(`${command} sent to migration ${name}.`);
      });
  control(
    'pause',
    'Pause: no new ZIM call starts; calls in flight finish',
    '  $ zim-migrate pause acme --reason "peak hours"\n  $ zim-migrate status acme          shows PAUSED and the reason',
    'The pause reaches every stage and child workflow; it holds across worker restarts until "zim-migrate resume".\n'
  );
  control(
    'resume',
    'Resume a paused migration (also one paused by its error budget)',
    '  $ zim-migrate resume acme\n  $ zim-migrate resume acme --reason "night window"',
    'After an error-budget pause, read the failures first ("zim-migrate report <staging>") and fix their cause.\n'
  );
  control(
    'cancel',
    'Cancel gracefully: start nothing new, let calls in flight finish',
    '  $ zim-migrate cancel acme --reason "wrong export"',
    'What landed in ZIM stays there and in the ledger; a new migration over the same staging file skips it.\n'
  );

  program
    .command('budget')
    .description("Change a ZIM Action's call budget (calls/s) while the migration or a catch-up round of it runs")
    .argument('<name>', 'migration name (or <migration>-round-<n> for that round only)')
    .argument('<Action=rate>', `e.g. ImportPeerMsg=15; Actions: ${BUDGET_ACTIONS.join(', ')}`)
    .option('--json', 'print the budgets that differ from ZIM\'s defaults as JSON {"Action": rate}')
    .addHelpText(
      'after',
      `
The change goes to every workflow of the migration that runs: the migration itself and its running catch-up
round (zim-migrate catch-up), so DeleteFriends, DismissGroup and the other Actions only a round calls take a
budget as the migration's do. The workflow applies it to the call schedule (ZIM_MIGRATE_BUDGET_DB) of the worker
machine that runs it, at the next call; every worker process on that machine shares that schedule, and the
budget stays there for later runs. See docs/operations.md for several machines.

Examples:
  $ zim-migrate budget acme ImportPeerMsg=10          leave room for the live app's own calls
  $ zim-migrate budget acme InviteUsersIntoGroup=0.5  per group
  $ zim-migrate budget acme DeleteFriends=5           a running catch-up round's friendships ended
  $ zim-migrate budget acme ImportPeerMsg=20 --json

Exit codes: 0 applied, 1 failure (Temporal unreachable, no such migration, nothing of it running, no worker ran
the update), 2 bad usage.`
    )
    .action(async (name: string, spec: string, opts: { json?: boolean }, cmd: Command) => {
      const change = parseBudget(spec);
      const settings = resolveTemporalSettings(settingLayers(cmd));
      const applied = await withClient(settings, async (client) => {
        const targets = await budgetTargets(client, name, spec, settings);
        const out: { workflowId: string; budgets: Record<string, number> }[] = [];
        for (const handle of targets)
          out.push({
            workflowId: handle.workflowId,
            budgets: await handle.executeUpdate(setBudgetUpdate, { args: [change] }),
          });
        return out;
      });
      if (opts.json) console.log(JSON.stringify(Object.assign({}, ...applied.map((a) => a.budgets))));
      else
        for (const a of applied)
          console.log(
            `Budgets of ${a.workflowId.replace(/^zim-migrate\//, '')} now: ${Object.entries(a.budgets)
              .map(([action, r]) => `${action}=${r}/s`)
              .join(', ')} (others at ZIM's defaults).`
          );
    });
}

/** The running workflows a budget change goes to: the migration (or the round named) and its running rounds. */
async function budgetTargets(
  client: Client,
  name: string,
  spec: string,
  settings: TemporalSettings
): Promise<WorkflowHandle[]> {
  const handle = handleOf(client, name);
  const own = await handle.describe().catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  });
  const targets = own?.status.name === 'RUNNING' ? [handle] : [];
  // The name passed migrationName's check above: letters, digits, ".", "_" and "-" only.
  const query = `WorkflowType = 'roundWorkflow' AND ExecutionStatus = 'Running' AND ${ZIM_MIGRATION_ID.name} = '${name}'`;
  for await (const w of client.workflow.list({ query })) targets.push(client.workflow.getHandle(w.workflowId));
  if (targets.length) return targets;
  if (!own) await describeMigration(handle, name, settings);
  throw new Error(
    `Migration "${name}" is ${own!.status.name.toLowerCase()} and no catch-up round of it runs: a budget change ` +
      'reaches the workers through a running workflow. Pass the budget when you start the next one: ' +
      `"zim-migrate catch-up <staging> <export-dir> --budget ${spec}" (or "start --budget").`
  );
}

/** True when a database URL carries a password (which must stay out of workflow input). */
export function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}
