/**
 * start / status / pause / resume / cancel / budget: the operator's handle on a running migration. Everything here
 * goes through Temporal (signals, the progress query, the setBudget update), so the same actions also work from the
 * plain `temporal` CLI and the Temporal UI.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { ZIM_MIGRATION_ID, ZIM_MIGRATION_STAGE } from '../../shared/search-attributes';
import { isStage, MIGRATION_ACTIONS, STAGES, type Stage } from '../../shared/stages';
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
import { connectClient, temporalSettings } from '../../temporal-connection/connect';
import { UsageError } from '../../shared/usage-error';
import { renderProgress } from '../render-progress';

const migrationName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a migration name is 1-64 letters, digits, ".", "_" or "-"');

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(`${what}: ${r.error.issues.map((i) => i.message).join('; ')}`);
  return r.data;
}

function parseBudget(spec: string): { action: string; rate: number } {
  const m = /^([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(spec);
  if (!m || !(MIGRATION_ACTIONS as readonly string[]).includes(m[1]!) || !(Number(m[2]) > 0)) {
    throw new UsageError(
      `--budget ${spec}: expected Action=callsPerSecond, e.g. ImportPeerMsg=15; Actions: ${MIGRATION_ACTIONS.join(', ')}`
    );
  }
  return { action: m[1]!, rate: Number(m[2]) };
}

function uiLink(workflowId: string): string | undefined {
  const { connectionOptions, namespace } = temporalSettings();
  const explicit = process.env.TEMPORAL_UI_URL;
  const address = connectionOptions.address;
  const base = explicit ?? (/^(localhost|127\.0\.0\.1):7233$/.test(address) ? 'http://localhost:8233' : undefined);
  return base && `${base.replace(/\/+$/, '')}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient();
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

const handleOf = (client: Client, name: string) =>
  client.workflow.getHandle(workflowIds.migration(parse(migrationName, name, 'migration name')));

export function registerMigrationControlCommands(program: Command): void {
  program
    .command('start')
    .description('Start a migration from a staging file made by "zim-migrate plan"')
    .argument('<staging>', 'the staging database file written by "zim-migrate plan --out"')
    .option('--name <name>', 'migration name (the workflow id is zim-migrate/<name>); default: the staging file name')
    .option('--stages <list>', `comma-separated stages to run (default all): ${STAGES.join(',')}`)
    .option('--sequential', 'run one stage at a time instead of every ready stage at once')
    .option('--error-budget <percent>', 'pause when more than this % of records fail', '1')
    .option('--budget <Action=rate...>', 'calls/s for an Action, e.g. ImportPeerMsg=15 (repeatable)')
    .option('--json', 'print {"migrationId","workflowId","ui"} as JSON')
    .addHelpText(
      'after',
      `
The worker (zim-migrate worker) must be able to read the staging file at the same path.

Examples:
  $ zim-migrate start ./staging/acme.sqlite
  $ zim-migrate start ./staging/acme.sqlite --name acme-2026-11 --stages accounts,profiles --budget UserRegister=10`
    )
    .action(
      async (
        staging: string,
        opts: {
          name?: string;
          stages?: string;
          sequential?: boolean;
          errorBudget: string;
          budget?: string[];
          json?: boolean;
        }
      ) => {
        const stagingPath = path.resolve(staging);
        if (!existsSync(stagingPath))
          throw new UsageError(
            `No staging file at ${stagingPath}: run "zim-migrate plan <export-dir> --out ${staging}" first.`
          );
        const name = parse(
          migrationName,
          opts.name ?? path.basename(staging).replace(/\.[^.]*$/, ''),
          'migration name (--name)'
        );
        const stages = opts.stages?.split(',').map((s) => s.trim());
        const unknown = stages?.filter((s) => !isStage(s));
        if (unknown?.length)
          throw new UsageError(`--stages: unknown stage(s) ${unknown.join(', ')}; stages: ${STAGES.join(', ')}`);
        const errorBudget =
          parse(z.coerce.number().min(0).max(100), opts.errorBudget, '--error-budget (a percentage)') / 100;
        const budgets = Object.fromEntries((opts.budget ?? []).map(parseBudget).map((b) => [b.action, b.rate]));
        const workflowId = workflowIds.migration(name);
        await withClient(async (client) => {
          try {
            await client.workflow.start('migrationWorkflow', {
              taskQueue: temporalSettings().taskQueue,
              workflowId,
              args: [
                {
                  migrationId: name,
                  stagingPath,
                  stages: stages as Stage[] | undefined,
                  sequential: opts.sequential,
                  errorBudget,
                  budgets,
                },
              ],
              typedSearchAttributes: [
                { key: ZIM_MIGRATION_ID, value: name },
                { key: ZIM_MIGRATION_STAGE, value: 'starting' },
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
            throw err;
          }
        });
        const ui = uiLink(workflowId);
        if (opts.json) console.log(JSON.stringify({ migrationId: name, workflowId, ui }));
        else {
          console.log(`Started migration ${name} (workflow ${workflowId}).`);
          if (ui) console.log(`Temporal UI: ${ui}`);
          console.log(`Watch it:    zim-migrate status ${name} --watch`);
        }
      }
    );

  program
    .command('status')
    .description("Show a migration's progress: per stage done/planned, failures, rate against budget, ETA")
    .argument('<name>', 'migration name')
    .option('--watch', 'refresh every 2 s until the migration ends')
    .option('--json', 'print the progress query result as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ zim-migrate status acme --watch\n  $ zim-migrate status acme --json | jq .stages'
    )
    .action(async (name: string, opts: { watch?: boolean; json?: boolean }) => {
      await withClient(async (client) => {
        const handle = handleOf(client, name);
        for (;;) {
          const description = await handle.describe();
          const progress: MigrationProgress | undefined =
            description.status.name === 'RUNNING' ? await handle.query(progressQuery) : undefined;
          if (opts.json)
            console.log(
              JSON.stringify(progress ?? { migrationId: name, status: description.status.name.toLowerCase() })
            );
          else if (progress) {
            if (opts.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
            console.log(renderProgress(progress));
          } else console.log(`migration ${name}: ${description.status.name.toLowerCase()} (see "zim-migrate report")`);
          if (!opts.watch || !progress) return;
          await new Promise((r) => setTimeout(r, 2_000));
        }
      });
    });

  const control = (command: 'pause' | 'resume' | 'cancel', description: string, example: string) =>
    program
      .command(command)
      .description(description)
      .argument('<name>', 'migration name')
      .addOption(new Option('--reason <text>', 'shown in status and the Temporal UI').default(undefined))
      .addHelpText(
        'after',
        `\nExample:\n  $ ${example}\nSame as: temporal workflow signal --workflow-id zim-migrate/<name> --name ${command}`
      )
      .action(async (name: string, opts: { reason?: string }) => {
        await withClient(async (client) => {
          const signal = command === 'pause' ? pauseSignal : command === 'resume' ? resumeSignal : cancelSignal;
          await handleOf(client, name).signal(signal, { reason: opts.reason });
        });
        console.log(`${command} sent to migration ${name}.`);
      });
  control(
    'pause',
    'Pause: no new ZIM call starts; calls in flight finish',
    'zim-migrate pause acme --reason "peak hours"'
  );
  control('resume', 'Resume a paused migration', 'zim-migrate resume acme');
  control('cancel', 'Cancel gracefully: start nothing new, let calls in flight finish', 'zim-migrate cancel acme');

  program
    .command('budget')
    .description("Change a ZIM Action's call budget (calls/s) while the migration runs")
    .argument('<name>', 'migration name')
    .argument('<Action=rate>', `e.g. ImportPeerMsg=15; Actions: ${MIGRATION_ACTIONS.join(', ')}`)
    .addHelpText('after', '\nExample:\n  $ zim-migrate budget acme ImportPeerMsg=10')
    .action(async (name: string, spec: string) => {
      const change = parseBudget(spec);
      const budgets = await withClient((client) =>
        handleOf(client, name).executeUpdate(setBudgetUpdate, { args: [change] })
      );
      console.log(
        `Budgets of ${name} now: ${Object.entries(budgets)
          .map(([a, r]) => `${a}=${r}/s`)
          .join(', ')} (others at ZIM's defaults).`
      );
    });
}
