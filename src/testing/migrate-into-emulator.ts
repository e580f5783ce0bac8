/** Runs one migration against an emulator, on an in-process worker or on worker processes: the shared core of e2e tests and benchmarks. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { STAGES } from '../shared/stages';
import { migrationStartMetadata } from '../shared/ui-metadata';
import { workflowIds } from '../shared/workflow-api';
import { createMigrationWorker } from '../worker/migration-worker';
import type { ZimEmulator } from '../zim-emulator';
import type { MigrationInput, migrationWorkflow } from '../../workflows/migration';
import { TEST_APP_ID, TEST_SECRET } from './migration-rig';
import { spawnWorkerProcess, workerProcessEnv, type WorkerProcess } from './worker-processes';

export type MigrationHandle = WorkflowHandle<typeof migrationWorkflow>;

export interface MigrateIntoEmulatorOptions {
  connection: NativeConnection;
  client: Client;
  emulator: ZimEmulator;
  stagingPath: string;
  migrationId: string;
  budgets?: Record<string, number>;
  /** More of the migration's input: a subset of stages, another error budget... */
  input?: Pick<MigrationInput, 'stages' | 'errorBudget' | 'errorBudgetMinRecords' | 'tuning'>;
  /**
   * Run the migration on this many `zim-migrate worker` child processes (one task queue, one shared call schedule)
   * instead of a worker in this process; `temporalAddress` is the server they connect to, `budgetDb` their call
   * schedule (a postgres:// URL, with its password in `env`; a new SQLite file when absent).
   */
  workerProcesses?: {
    count: number;
    temporalAddress: string;
    /** The call schedule they share (e.g. a postgres:// URL); a new SQLite file by default. */
    budgetDb?: string;
    /** More of their environment (e.g. the database password). */
    env?: NodeJS.ProcessEnv;
    /** Each in a new empty working directory of its own, as on a machine of its own. */
    ownDirs?: boolean;
  };
  /** Runs while the migration does (pause it, fault the emulator, sample counters or the worker processes...). */
  during?: (handle: MigrationHandle, emulator: ZimEmulator, workers: readonly WorkerProcess[]) => Promise<void>;
}

/** Starts the workers; `run` resolves when they have stopped, `stop` asks them to. */
async function startWorkers(o: MigrateIntoEmulatorOptions, taskQueue: string, budgetDbPath: string) {
  if (o.workerProcesses) {
    const w = o.workerProcesses;
    const env = {
      ...workerProcessEnv({
        temporalAddress: w.temporalAddress,
        taskQueue,
        zimBaseUrl: o.emulator.url,
        budgetDbPath: w.budgetDb ?? budgetDbPath,
      }),
      ...w.env,
    };
    const processes = Array.from({ length: w.count }, () =>
      spawnWorkerProcess(env, w.ownDirs ? { cwd: mkdtempSync(path.join(tmpdir(), 'worker-cwd-')) } : {})
    );
    // Started once they poll, so a measured migration does not include building the workflow bundle.
    await Promise.all(processes.map((p) => p.ready())).catch(async (err: unknown) => {
      await Promise.all(processes.map((p) => p.stop()));
      throw err;
    });
    // A worker that dies before the migration ends would leave it waiting forever: fail instead.
    let stopping = false;
    const died = Promise.race(
      processes.map(async (p) => {
        const code = await p.exited;
        if (!stopping) throw new Error(`worker process ${p.pid} exited (${code}):\n${p.logTail()}`);
      })
    );
    return {
      processes,
      died,
      stop: async () => {
        stopping = true;
        await Promise.all(processes.map((p) => p.stop()));
      },
    };
  }
  const migrationWorker = await createMigrationWorker({
    connection: o.connection,
    taskQueue,
    zim: { appId: TEST_APP_ID, serverSecret: TEST_SECRET, baseUrl: o.emulator.url, budgetDbPath },
  });
  const running = migrationWorker.run();
  return {
    processes: [],
    died: new Promise<never>(() => undefined),
    stop: async () => {
      migrationWorker.worker.shutdown();
      await running;
    },
  };
}

export async function migrateIntoEmulator(o: MigrateIntoEmulatorOptions) {
  const taskQueue = `migrate-${o.migrationId}`;
  const budgetDbPath = path.join(mkdtempSync(path.join(tmpdir(), 'budget-')), 'b.sqlite');
  const workers = await startWorkers(o, taskQueue, budgetDbPath);
  try {
    const handle: MigrationHandle = await o.client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
      taskQueue,
      workflowId: workflowIds.migration(o.migrationId),
      args: [{ ...o.input, migrationId: o.migrationId, stagingPath: o.stagingPath, budgets: o.budgets }],
      ...migrationStartMetadata({
        migrationId: o.migrationId,
        stagingPath: o.stagingPath,
        stages: o.input?.stages ?? STAGES,
      }),
    });
    const finished = (async () => {
      await o.during?.(handle, o.emulator, workers.processes);
      return await handle.result();
    })();
    return await Promise.race([finished, workers.died.then(() => finished)]);
  } finally {
    await workers.stop();
  }
}
