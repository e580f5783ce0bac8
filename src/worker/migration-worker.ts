/**
 * A worker that runs migrations: the workflows, and the activities bound to one ZIM app (client + shared call
 * schedule) and to the staging databases the migrations name. The ServerSecret stays in this process.
 */
import { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { DEFAULT_BUDGET_HEADROOM_PERCENT, type ZimConfig } from '../config/zim-config';
import { openDatabase } from '../postgres/database';
import { isDatabaseUrl, resolveDatabaseSettings } from '../postgres/database-settings';
import { SqliteCallScheduler, type CallScheduler } from '../rate-limit/call-scheduler';
import { PgCallScheduler } from '../rate-limit/pg-call-scheduler';
import { openStaging } from '../staging';
import type { MigrationStore } from '../staging/migration-store';
import { ZimClient } from '../zim-client';
import { workflowBundle } from './workflow-bundle';
import { stickyQueueTimeout } from './sticky-queue';
import { startStuckRunRepair } from './stuck-run-repair';
import { workflowActivationOptions } from './workflow-activation-timeout';
import { DEFAULT_WORKFLOW_HEAP_MB, withWorkflowHeap, workflowMemorySettings } from './workflow-memory';

export interface MigrationWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  zim: ZimConfig;
  /** Extra Temporal worker options (tests shorten sticky timeouts, benchmarks raise concurrency). */
  workerOptions?: Partial<WorkerOptions>;
  /** How often to look for runs stuck on a nondeterminism error (src/worker/stuck-run-repair.ts); default 15 s. */
  repairEveryMs?: number;
}

export interface MigrationWorker {
  worker: Worker;
  /** Runs until shutdown (SIGINT/SIGTERM or worker.shutdown()), then releases the ZIM client and databases. */
  run(): Promise<void>;
}

/**
 * The shared call schedule the ZIM settings name: a SQLite file (the default, one machine), or a postgres:// URL
 * (workers on several machines; connection settings from the environment, src/postgres/database-settings.ts).
 */
export async function openCallScheduler(
  zim: ZimConfig,
  env: NodeJS.ProcessEnv = process.env
): Promise<{ scheduler: CallScheduler; close: () => Promise<void> }> {
  const headroom = (zim.budgetHeadroomPercent ?? DEFAULT_BUDGET_HEADROOM_PERCENT) / 100;
  if (!isDatabaseUrl(zim.budgetDbPath)) {
    const scheduler = new SqliteCallScheduler(zim.budgetDbPath, { appId: zim.appId, headroom });
    return { scheduler, close: () => scheduler.close() };
  }
  const db = openDatabase(resolveDatabaseSettings(env, zim.budgetDbPath));
  try {
    const scheduler = await PgCallScheduler.open(db, { appId: zim.appId, headroom });
    return {
      scheduler,
      close: async () => {
        await scheduler.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

export async function createMigrationWorker(options: MigrationWorkerOptions): Promise<MigrationWorker> {
  // An activation cut short by the SDK's 5 s limit on a starved machine aborts the process. Read before anything opens.
  const activation = workflowActivationOptions();
  const zim = new ZimClient({
    baseUrl: options.zim.baseUrl,
    appId: options.zim.appId,
    serverSecret: options.zim.serverSecret,
    requestTimeoutMs: options.zim.zimTimeoutMs,
  });
  const { scheduler, close: closeScheduler } = await openCallScheduler(options.zim);
  // Each migration's staging data is opened once per worker.
  const opened = new Map<string, Promise<MigrationStore>>();
  const openStore = (location: string) => {
    let store = opened.get(location);
    if (!store) {
      store = openStaging(location);
      store.catch(() => opened.delete(location)); // a failed open is retried by the next activity attempt
      opened.set(location, store);
    }
    return store;
  };
  const heapMb = options.zim.workflowHeapMb ?? DEFAULT_WORKFLOW_HEAP_MB;
  const bundle = await workflowBundle();
  // Only the workflow thread Worker.create starts gets the limit: threads started later (export parsing) do not.
  const worker = await withWorkflowHeap(heapMb, () =>
    Worker.create({
      connection: options.connection,
      namespace: options.namespace ?? 'default',
      taskQueue: options.taskQueue,
      workflowBundle: bundle,
      activities: createActivities({ zim, scheduler, openStore }),
      // Activities mostly wait for their call slot; many may wait at once without using CPU.
      maxConcurrentActivityTaskExecutions: 200,
      // An owner's workflow task stays open while its message imports (local activities) wait for their call slots,
      // so every running child holds one: room for a stage's window of 200 children, the stages and the migration
      // (fewer if the workflow heap is too small to cache that many).
      ...workflowMemorySettings(heapMb),
      maxConcurrentLocalActivityExecutions: 200,
      stickyQueueScheduleToStartTimeout: stickyQueueTimeout(),
      ...activation,
      ...options.workerOptions,
    })
  );
  return {
    worker,
    async run() {
      const repair = startStuckRunRepair({
        client: new Client({ connection: options.connection, namespace: options.namespace ?? 'default' }),
        taskQueue: options.taskQueue,
        everyMs: options.repairEveryMs,
        warn: (message) => {
          Runtime.instance().logger.warn(message);
        },
      });
      try {
        await worker.run();
      } finally {
        await repair.stop();
        await zim.close();
        await closeScheduler();
        for (const store of opened.values()) await (await store.catch(() => undefined))?.close();
      }
    },
  };
}
