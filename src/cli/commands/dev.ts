/**
 * `zim-migrate dev`: a full local rehearsal in one command. An embedded Temporal dev server (with its UI and a
 * database file), the ZIM emulator, a worker, and a generated sample export unless one is given; then plan, start
 * and watch the migration, and stop everything cleanly at the end or on Ctrl-C.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { startDevServer } from '../../dev-server/start-dev-server';
import { MIGRATION_ACTIONS, STAGES } from '../../shared/stages';
import { migrationStartMetadata } from '../../shared/ui-metadata';
import { UsageError } from '../../shared/usage-error';
import { progressQuery, workflowIds, type MigrationProgress } from '../../shared/workflow-api';
import { SqliteMigrationData } from '../../staging/sqlite/migration-data';
import { createMigrationWorker } from '../../worker/migration-worker';
import { startZimEmulator } from '../../zim-emulator';
import { ProgressPrinter, watchOutputFor } from '../progress-watch';
import { installWorkerLogger } from '../../worker/worker-logger';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../../bin/zim-migrate.js');
const MIGRATION = 'rehearsal';
const APP_ID = 1_000_001;
/** Where output is a log, one progress line per this many ms while no stage changes (stage changes print at once). */
const DEV_PRINT_EVERY_MS = 10_000;

const optionsSchema = z.object({
  dir: z.string(),
  export: z.string().optional(),
  users: z.coerce.number().int().min(2).max(100_000),
  seed: z.coerce.number().int(),
  rate: z.coerce.number().positive().max(10_000),
  port: z.coerce.number().int().min(1).max(65_535),
  uiPort: z.coerce.number().int().min(1).max(65_535),
  keepOpen: z.boolean().optional(),
});

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('Rehearse a whole migration locally: Temporal dev server + UI, ZIM emulator, worker, sample data')
    .option('--dir <dir>', 'where the rehearsal keeps its files (Temporal database, export, staging)', '.rehearsal')
    .option('--export <dir>', 'your own export directory instead of a generated sample')
    .option('--users <n>', 'users in the generated sample', '30')
    .option('--seed <n>', 'seed of the generated sample', '1')
    .option('--rate <n>', "calls per second per Action, in the emulator and the budgets (ZIM's is 20)", '20')
    .option('--port <n>', 'Temporal gRPC port', '7233')
    .option('--ui-port <n>', 'Temporal UI port', '8233')
    .option('--keep-open', 'keep the servers (and the UI) running after the migration ends, until Ctrl-C')
    .addHelpText(
      'after',
      `
While it runs, in another terminal (same Temporal address):
  $ zim-migrate status ${MIGRATION} --watch
  $ zim-migrate pause ${MIGRATION} --reason "trying pause"     then: zim-migrate resume ${MIGRATION}
  $ temporal workflow list --query 'ZimMigrationId="${MIGRATION}"'

Run it again and it resumes the Temporal side from <dir>/temporal.db. The emulator keeps its data in memory, so
delete <dir> to rehearse from scratch after stopping one halfway. It runs its own Temporal and ZIM: the config
file and the ZIM_* / TEMPORAL_* settings do not apply. On a terminal progress is a live table; in a log (CI,
| tee) one line per stage change, and every 10 s while counts move.

Examples:
  $ zim-migrate dev                                   30 generated users at ZIM's real 20 calls/s
  $ zim-migrate dev --users 200 --rate 200 --keep-open
  $ zim-migrate dev --export ./my-export --dir ./rehearsal-acme
  $ zim-migrate dev --dir "$(mktemp -d)" 2>&1 | tee rehearsal.log              a fresh rehearsal, logged

Exit codes: 0 the rehearsal completed with no failed record, 1 failure or failed records (see the table),
2 bad usage, 130 stopped with Ctrl-C.`
    )
    .action(async (raw: Record<string, unknown>) => {
      const parsed = optionsSchema.safeParse(raw);
      if (!parsed.success)
        throw new UsageError(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
      await rehearse(parsed.data);
    });
}

async function rehearse(o: z.infer<typeof optionsSchema>): Promise<void> {
  const dir = path.resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  const say = (line: string) => console.error(`[dev] ${line}`);
  installWorkerLogger('ERROR');

  // One secret per rehearsal folder, shared by the emulator and the worker; never printed.
  const secretFile = path.join(dir, 'zim_server_secret');
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(16).toString('hex'), { mode: 0o600 });
  const serverSecret = readFileSync(secretFile, 'utf8').trim();

  say(`starting the Temporal dev server (database ${path.join(dir, 'temporal.db')})`);
  const server = await startDevServer({
    dbFilename: path.join(dir, 'temporal.db'),
    port: o.port,
    ui: true,
    uiPort: o.uiPort,
    log: say,
  });
  const limits = Object.fromEntries(MIGRATION_ACTIONS.map((a) => [a, Math.round(o.rate)]));
  const emulator = await startZimEmulator({
    appId: APP_ID,
    serverSecret,
    rateLimits: { enabled: true, perSecond: limits, perGroupPerSecond: {}, codes: {} },
  });
  say(`ZIM emulator on ${emulator.url} (app ${APP_ID}, ${o.rate} calls/s per Action)`);

  let worker: Awaited<ReturnType<typeof createMigrationWorker>> | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    worker?.worker.shutdown();
    await running?.catch(() => undefined);
    await emulator.stop();
    await server.stop();
  };
  process.once('SIGINT', () => {
    say('stopping (Ctrl-C)…');
    void stop().then(() => process.exit(130));
  });
  try {
    await run();
  } finally {
    await stop();
  }

  async function run(): Promise<void> {
    const staging = path.join(dir, 'staging.sqlite');
    if (!existsSync(staging)) {
      let exportDir = o.export && path.resolve(o.export);
      if (!exportDir) {
        exportDir = path.join(dir, 'sample');
        if (!existsSync(exportDir)) {
          say(`generating a sample export: ${o.users} users, seed ${o.seed} → ${exportDir}`);
          await exec(process.execPath, [
            BIN,
            'gen',
            '--out',
            exportDir,
            '--users',
            String(o.users),
            '--seed',
            String(o.seed),
          ]);
        }
      }
      say(`validating and staging ${exportDir}`);
      const planned = await exec(process.execPath, [BIN, 'plan', exportDir, '--out', staging], { cwd: dir }).catch(
        (err: { stdout?: string; stderr?: string }) => {
          throw new Error(`plan failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
        }
      );
      console.log(planned.stdout);
    }

    worker = await createMigrationWorker({
      connection: server.env.nativeConnection,
      taskQueue: 'zim-migrate',
      zim: { appId: APP_ID, serverSecret, baseUrl: emulator.url, budgetDbPath: path.join(dir, 'call-budgets.sqlite') },
      openData: async (p) => new SqliteMigrationData(p),
    });
    running = worker.run();

    const client = server.env.client;
    const handle = client.workflow.getHandle(workflowIds.migration(MIGRATION));
    const existing = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (!existing) {
      await client.workflow.start('migrationWorkflow', {
        taskQueue: 'zim-migrate',
        workflowId: workflowIds.migration(MIGRATION),
        args: [{ migrationId: MIGRATION, stagingPath: staging, budgets: o.rate === 20 ? {} : limits }],
        ...migrationStartMetadata({ migrationId: MIGRATION, stagingPath: staging, stages: STAGES }),
      });
      say('migration started');
    } else say(`migration already ${existing.status.name.toLowerCase()}: resuming where it stopped`);

    const ui = `http://localhost:${o.uiPort}/namespaces/default/workflows/${encodeURIComponent(workflowIds.migration(MIGRATION))}`;
    say(`Temporal UI: ${ui}`);
    const footer = `\nTemporal UI: ${ui}\nCtrl-C stops the rehearsal; running it again resumes.\n`;
    const output = watchOutputFor({ json: false, isTTY: process.stdout.isTTY === true });
    const printer = new ProgressPrinter({
      output,
      everyMs: DEV_PRINT_EVERY_MS,
      write: (text) => process.stdout.write(output === 'redraw' ? text + footer : text),
    });
    for (;;) {
      const status = (await handle.describe()).status.name;
      if (status !== 'RUNNING') break;
      // A query can fail while the worker restarts a workflow task; the next poll asks again.
      const progress = await handle.query(progressQuery).catch(() => undefined);
      if (progress) printer.show(progress);
      await new Promise((r) => setTimeout(r, 2_000));
    }
    const result = (await handle.result()) as { status: string; stages: MigrationProgress['stages'] };
    printer.end({ migrationId: MIGRATION, status: result.status, stages: result.stages });
    const failed = result.stages.reduce((n, s) => n + s.failed, 0);
    console.log(`\nRehearsal ${result.status}: ${failed} record(s) failed. Temporal UI: ${ui}`);
    if (o.keepOpen) {
      say('servers stay up (--keep-open); Ctrl-C to stop');
      await new Promise(() => undefined);
    }
    if (failed > 0) process.exitCode = 1;
  }
}
