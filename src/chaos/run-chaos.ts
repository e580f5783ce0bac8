/**
 * One chaos run: a generated dataset, the ZIM emulator (optionally faulty), a Temporal dev server process on a
 * SQLite file, the production worker as a child process, and one migration. At seeded moments the worker is
 * SIGKILLed and restarted, and the server is killed and started again on the same file and port. At the end the
 * emulator is compared with staging, message by message: what was lost or duplicated is counted, not assumed.
 *
 * With `staging: 'postgres'` the staging (copied in with `staging copy`) and the call schedule live in a local
 * PostgreSQL the run starts, the workers run as several machines (src/chaos/machines.ts) that a kill loses whole,
 * and PostgreSQL itself is SIGKILLed and started again on its cluster.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { startDevServerProcess, type DevServerProcess } from '../dev-server/dev-server-process';
import { DATABASE_ENV } from '../postgres/database-settings';
import { startLocalPostgres, type LocalPostgres } from '../postgres/local-postgres';
import { workflowIds } from '../shared/workflow-api';
import { openStaging } from '../staging';
import { copyStaging } from '../staging/copy/copy-staging';
import { compareFinalState, compareWithEmulator, type ExactnessReport } from '../testing/exact-state';
import { stageRound } from '../catch-up/stage-round';
import { roundMigrationId } from '../shared/rounds';
import { evolveExport } from '../synthetic/evolve';
import { budgetsAt, buildStaging, startFastEmulator } from '../testing/migration-rig';
import type { FaultsInput, ZimEmulator } from '../zim-emulator';
import type { FaultKind } from '../zim-emulator/counters';
import type { migrationWorkflow } from '../../workflows/migration';
import { planDisruptions, type Disruption } from './disruption-plan';
import { chaosPassed, n } from './summary';
import { ProgressGaps, type Stall, type StallSpread } from './progress-gaps';
import { workerProcessEnv } from '../testing/worker-processes';
import { startMachines, type Machines } from './machines';

export interface ChaosOptions {
  /** Users in the generated dataset (about 20 one-to-one messages each, plus groups and their history). */
  users: number;
  /** Seeds the dataset, the faults and the disruption moments: a run replays with its seed. */
  seed: number;
  workerKills: number;
  serverRestarts: number;
  /**
   * Where the staging and the call schedule live: 'sqlite' (default), files of the one machine; 'postgres', a local
   * PostgreSQL the run starts, shared by `machines` machines.
   */
  staging?: 'sqlite' | 'postgres';
  /** Machines (postgres only; 1 with SQLite); `workerKills` then each lose a whole machine. Default 1. */
  machines?: number;
  /** Worker processes on each machine. Default 1. */
  processesPerMachine?: number;
  /** Times PostgreSQL is SIGKILLed and started again (postgres only). */
  postgresRestarts?: number;
  /** The emulator's faults (`chaosFaults(seed)` for the standard mix), or none. */
  faults: FaultsInput | false;
  /** Calls per second per Action, in the emulator and the migration's budgets. */
  rate: number;
  /** The run gives up (and fails) after this long. */
  timeoutMs: number;
  /**
   * The workers' ZIM request timeout (ZIM_MIGRATE_ZIM_TIMEOUT_MS; their default, 15 s, when absent). A worker killed
   * mid-import holds that conversation for 3 times this (its call lease): CI runs shorten it.
   */
  zimTimeoutMs?: number;
  /**
   * The migration then rounds-1 catch-up rounds on evolving exports (SQLite staging only), each under the same
   * disruptions; the emulator is then checked against the last export. Default 1 (the migration alone).
   */
  rounds?: number;
  /** Keep the work folder (dataset, staging, Temporal database, logs) even when the run passes. */
  keepFiles?: boolean;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Stops the run early (Ctrl-C): everything started is stopped, and the result says 'interrupted'. */
  signal?: AbortSignal;
}

export interface ChaosResult {
  seed: number;
  users: number;
  /** The migration workflow's final status, or 'timed-out' / 'interrupted'. */
  status: string;
  workerKills: number;
  serverRestarts: number;
  /** 'postgres': staging and call schedule in PostgreSQL, with `machines` machines. */
  staging: 'sqlite' | 'postgres';
  machines: number;
  postgresRestarts: number;
  /** Exits the worker had on its own (restarted each time); expected 0. */
  workerExits: number;
  faults: Record<FaultKind, number>;
  /** Records the migration counted as failed (ZIM refused them); expected 0 under transient faults. */
  failedRecords: number;
  /** The migration plus the catch-up rounds that ran (1 = the migration alone). */
  rounds: number;
  /** Compared with staging; absent when the migration did not finish. */
  exactness?: ExactnessReport;
  /** After rounds: where ZIM differs from the last export (users, relations, groups, read states); [] when exact. */
  finalState?: string[];
  /** The longest time a conversation took to move again after a disruption (sampled each second). */
  longestStall?: Stall;
  /** All the stalls disruptions caused: how many, median, 90th percentile. */
  stalls?: StallSpread;
  /** The longest gap between two steps of one conversation with no disruption inside: the baseline for scale. */
  longestQuietGap?: Stall;
  seconds: number;
  /** The work folder, when it was kept. */
  workDir?: string;
}

/** The faults of `--faults on`: a few percent of each transient kind, all survivable by retries. */
export function chaosFaults(seed: number): FaultsInput {
  return {
    seed,
    commitThenDropRate: 0.03,
    http5xxRate: 0.02,
    resetRate: 0.02,
    tooFrequentBurst: { startRate: 0.002, length: 3 },
    // Shorter than the activities' heartbeat timeout (10 s) and the client's request timeout (15 s).
    latencySpike: { rate: 0.01, ms: 1_500 },
  };
}

/**
 * WAL with synchronous=NORMAL: a commit survives the death of the server process (it is in the OS's page cache),
 * which is the crash a chaos run deals; only a power loss could take the last commits. The dev server's default
 * (a rollback journal, synced at every commit) made whole runs four times slower here (243 s against 58 s for
 * 1,749 messages), the server's fsyncs being the bottleneck.
 */
const SQLITE_PRAGMAS = { journal_mode: 'wal', synchronous: 'normal' };

const MIGRATION_ID = 'chaos';
const TASK_QUEUE = 'zim-migrate-chaos';
/** Requests the new worker must make between two disruptions, so each one lands on a worker that is working. */
const MIN_PROGRESS_REQUESTS = 20;
/** Share of records each catch-up round's export changes (gen --evolve --change). */
const ROUND_CHANGE = 0.3;
/** A round's disruptions fall within this share of the migration's requests (a round makes far fewer calls). */
const ROUND_SHARE = 0.1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The run ends before the migration: out of time, or stopped. */
class RunStopped extends Error {
  constructor(readonly status: 'timed-out' | 'interrupted') {
    super(status);
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  if (o.staging !== 'postgres' && ((o.machines ?? 1) > 1 || (o.postgresRestarts ?? 0) > 0))
    throw new Error('chaos: several machines and PostgreSQL restarts need the staging in PostgreSQL');
  const rounds = o.rounds ?? 1;
  if (rounds > 1 && o.staging === 'postgres') throw new Error('chaos: catch-up rounds need the staging in SQLite');
  const started = Date.now();
  const log = (line: string) => o.log?.(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  const deadline = started + o.timeoutMs;
  const workDir = mkdtempSync(path.join(tmpdir(), 'zim-chaos-'));
  const result: ChaosResult = {
    seed: o.seed,
    users: o.users,
    status: 'not-started',
    workerKills: 0,
    serverRestarts: 0,
    staging: o.staging ?? 'sqlite',
    machines: o.machines ?? 1,
    postgresRestarts: 0,
    workerExits: 0,
    faults: {} as Record<FaultKind, number>,
    failedRecords: 0,
    rounds: 0,
    seconds: 0,
  };
  let emulator: ZimEmulator | undefined;
  let server: DevServerProcess | undefined;
  let workers: Machines | undefined;
  let postgres: LocalPostgres | undefined;
  let connection: Connection | undefined;
  let finished = false;
  try {
    log(`work folder ${workDir}`);
    mkdirSync(path.join(workDir, 'dataset'));
    const staging = await buildStaging(o.users, o.seed, { dir: path.join(workDir, 'dataset') });
    const stagingFile = staging.fresh();
    const expectedRequests = await plannedCalls(stagingFile, process.env);
    log(`dataset: ${o.users} users (seed ${o.seed}), about ${expectedRequests.toLocaleString('en-US')} ZIM calls`);
    let stagingPath = stagingFile;
    let budgetDb = path.join(workDir, 'budget.sqlite');
    let databaseEnv: NodeJS.ProcessEnv = {};
    if (result.staging === 'postgres') {
      postgres = await startLocalPostgres();
      databaseEnv = { [DATABASE_ENV.password]: postgres.password };
      stagingPath = `${postgres.url}?schema=${MIGRATION_ID}`;
      budgetDb = postgres.url;
      await copyStaging(stagingFile, stagingPath, { env: databaseEnv });
      log(`PostgreSQL ${postgres.url} (log ${postgres.logFile}): staging copied in, and the call schedule`);
    }

    [emulator, server] = await Promise.all([
      startFastEmulator(o.faults || {}, o.rate),
      startDevServerProcess({
        dbFilename: path.join(workDir, 'temporal.db'),
        logFile: path.join(workDir, 'temporal.log'),
        sqlitePragmas: SQLITE_PRAGMAS,
      }),
    ]);
    log(`emulator ${emulator.url}${o.faults ? ' with faults' : ''}; Temporal dev server ${server.address}`);
    workers = startMachines({
      count: result.machines,
      processesPerMachine: o.processesPerMachine ?? 1,
      root: path.join(workDir, 'machines'),
      logDir: workDir,
      env: {
        ...workerProcessEnv({
          temporalAddress: server.address,
          taskQueue: TASK_QUEUE,
          zimBaseUrl: emulator.url,
          budgetDbPath: budgetDb,
          zimTimeoutMs: o.zimTimeoutMs,
        }),
        ...databaseEnv,
      },
      replaceOnKill: result.staging === 'postgres',
      log,
    });
    if (result.staging === 'postgres') log(`${result.machines} machines started`);
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const progress = setInterval(() => {
      const c = emulator!.counters();
      const imports = (c.succeeded.ImportPeerMsg ?? 0) + (c.succeeded.ImportGroupMsg ?? 0);
      log(`${n(c.requests)} ZIM requests, ${n(imports)} imports`);
    }, 15_000);
    const gaps = new ProgressGaps();
    const sampler = setInterval(() => gaps.sample(emulator!.inspect.progressMarks(), Date.now()), 1_000);
    const targets = { emulator, server, workers, postgres, gaps };
    /** Runs one workflow to its end under its disruptions; returns its status and its failed records. */
    const drive = async (handle: WorkflowHandle, plan: Disruption[]) => {
      finished = false;
      let disruptionError: Error | undefined;
      const disrupting = disrupt(
        plan,
        targets,
        () => finished || Date.now() > deadline || o.signal?.aborted === true,
        result,
        log
      ).catch((err: unknown) => void (disruptionError = err instanceof Error ? err : new Error(String(err))));
      let status: string;
      try {
        status = await waitForEnd(handle, deadline, () => {
          if (disruptionError) throw disruptionError;
          if (o.signal?.aborted) throw new RunStopped('interrupted');
        });
      } finally {
        finished = true;
        await disrupting;
      }
      if (status !== 'completed') return status;
      const outcome = (await retryWhileServerIsBack(() => handle.result(), deadline)) as {
        stages?: { failed: number }[];
      };
      result.failedRecords += (outcome.stages ?? []).reduce((count, stage) => count + stage.failed, 0);
      return status;
    };
    try {
      const handle = await client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
        taskQueue: TASK_QUEUE,
        workflowId: workflowIds.migration(MIGRATION_ID),
        args: [{ migrationId: MIGRATION_ID, stagingPath, budgets: budgetsAt(o.rate) }],
      });
      log('migration started');
      const disruptions = { workerKills: o.workerKills, serverRestarts: o.serverRestarts };
      const plan = planDisruptions({
        seed: o.seed,
        ...disruptions,
        postgresRestarts: o.postgresRestarts,
        expectedRequests,
      });
      result.status = await drive(handle, plan);
      result.rounds = 1;
      if (rounds > 1) log(`migration ${result.status}`);
      let previousExport = path.join(workDir, 'dataset', 'export');
      for (let round = 1; round < rounds && result.status === 'completed'; round++) {
        const before = emulator.counters().requests;
        const later = await evolveExport({
          from: previousExport,
          out: path.join(workDir, 'dataset', `export-${round + 1}`),
          seed: o.seed + round,
          incremental: false,
          change: ROUND_CHANGE,
        });
        previousExport = later.dir;
        const staged = await stageRound({
          staging: stagingFile,
          exportDir: later.dir,
          asOfMs: Date.now(),
          rejectsFile: path.join(workDir, `rejects-round-${round}.ndjson`),
        });
        if (staged.kind !== 'staged') throw new Error(`chaos: round ${round} not staged (${staged.kind})`);
        const roundHandle = await client.workflow.start('roundWorkflow', {
          taskQueue: TASK_QUEUE,
          workflowId: workflowIds.migration(roundMigrationId(MIGRATION_ID, round)),
          args: [{ migrationId: MIGRATION_ID, stagingPath, round }],
        });
        log(`catch-up round ${round} started (${later.dir})`);
        // A round's calls are not planned up front: its disruptions fall within a small share of the migration's
        // requests, counted from the round's start, so they land before the round ends.
        const roundPlan = planDisruptions({
          seed: o.seed + round,
          ...disruptions,
          expectedRequests: Math.max(MIN_PROGRESS_REQUESTS * 4, Math.round(before * ROUND_SHARE)),
        }).map((d) => ({ ...d, atRequests: before + d.atRequests }));
        result.status = await drive(roundHandle, roundPlan);
        log(`catch-up round ${round} ${result.status}`);
        if (result.status === 'completed') result.rounds++;
      }
    } finally {
      clearInterval(progress);
      clearInterval(sampler);
      result.longestStall = gaps.longestAfterDisruption;
      result.longestQuietGap = gaps.longestQuiet;
      result.stalls = gaps.stallSpread;
    }
    await workers.stop();
    log(`${rounds > 1 ? 'last round' : 'migration'} ${result.status}; comparing the emulator with staging`);
    const store = await openStaging(stagingPath, {}, { ...process.env, ...databaseEnv });
    try {
      result.exactness = await compareWithEmulator(store, emulator);
      if (rounds > 1) result.finalState = await compareFinalState(store, emulator);
    } finally {
      await store.close();
    }
  } catch (err) {
    if (!(err instanceof RunStopped)) throw err;
    result.status = err.status;
  } finally {
    finished = true;
    result.workerExits = workers?.unexpectedExits ?? 0;
    if (emulator) result.faults = emulator.counters().faults;
    await workers?.stop();
    await postgres?.stop();
    await connection?.close().catch(() => undefined);
    await server?.stop();
    await emulator?.stop();
    result.seconds = Math.round((Date.now() - started) / 1000);
    if (o.keepFiles || !chaosPassed(result)) result.workDir = workDir;
    else rmSync(workDir, { recursive: true, force: true });
  }
  return result;
}

async function plannedCalls(stagingPath: string, env: NodeJS.ProcessEnv): Promise<number> {
  const store = await openStaging(stagingPath, {}, env);
  try {
    return Object.values(await store.stageWork()).reduce((n, s) => n + s.calls, 0);
  } finally {
    await store.close();
  }
}

/** Polls the migration until it is no longer running; rides out the server's restarts. */
async function waitForEnd(handle: WorkflowHandle, deadline: number, check: () => void): Promise<string> {
  for (;;) {
    check();
    if (Date.now() > deadline) throw new RunStopped('timed-out');
    const status = await handle.describe().then(
      (d) => d.status.name,
      () => 'UNREACHABLE'
    );
    if (status !== 'RUNNING' && status !== 'UNREACHABLE') return status.toLowerCase();
    await sleep(1_000);
  }
}

async function retryWhileServerIsBack<T>(read: () => Promise<T>, deadline: number): Promise<T> {
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(1_000);
    }
  }
}

/** What the disruptions strike. */
interface Targets {
  emulator: ZimEmulator;
  server: DevServerProcess;
  workers: Machines;
  postgres: LocalPostgres | undefined;
  gaps: ProgressGaps;
}

async function disrupt(
  plan: Disruption[],
  { emulator, server, workers, postgres, gaps }: Targets,
  over: () => boolean,
  result: ChaosResult,
  log: (line: string) => void
): Promise<void> {
  let lastAt = 0;
  for (const d of plan) {
    const due = Math.max(d.atRequests, lastAt + MIN_PROGRESS_REQUESTS);
    while (emulator.counters().requests < due) {
      if (over()) return;
      await sleep(50);
    }
    await sleep(d.delayMs);
    if (over()) return;
    lastAt = emulator.counters().requests;
    if (d.kind === 'worker-kill') {
      const what = await workers.kill();
      result.workerKills++;
      gaps.disrupted(`worker kill ${result.workerKills}`, Date.now());
      log(`at ${lastAt} requests: ${what} [${result.workerKills}]`);
    } else if (d.kind === 'receiver-kill') {
      throw new Error('chaos: a migration run has no receiver to kill');
    } else {
      const [name, target] = d.kind === 'server-restart' ? ['Temporal server', server] : ['PostgreSQL', postgres!];
      await target.kill();
      log(`${name} killed (SIGKILL) at ${lastAt} requests; down for ${d.downMs} ms`);
      await sleep(d.downMs);
      await target.start();
      const count = d.kind === 'server-restart' ? ++result.serverRestarts : ++result.postgresRestarts;
      gaps.disrupted(`${name} restart ${count}`, Date.now());
      log(`${name} started again on the same ${d.kind === 'server-restart' ? 'database' : 'cluster'} [${count}]`);
    }
  }
}
