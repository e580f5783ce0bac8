/**
 * The one harness every integration test uses: a real Temporal dev server process (never a mock), the workflow
 * bundle built once per test run, workers created on demand, everything torn down even when a test fails.
 *
 *   const t = await startTemporalTestEnv();      // in before()
 *   const worker = await t.createWorker();       // any number, each on its own task queue by default
 *   await t.teardown();                          // in after(); shuts workers down, then the server
 */
import { randomUUID } from 'node:crypto';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { startDevServer, type DevServer, type DevServerOptions } from '../../src/dev-server/start-dev-server';
import { workflowBundle } from '../../src/worker/workflow-bundle';
import { createActivities } from '../../activities';
import { installWorkerLogger } from '../../src/worker/worker-logger';
import { workflowActivationOptions } from '../../src/worker/workflow-activation-timeout';
import { startStuckRunRepair } from '../../src/worker/stuck-run-repair';

let runtimeInstalled = false;

export interface TemporalTestEnv {
  server: DevServer;
  client: Client;
  /** Creates a worker on a fresh task queue (or the one given) and starts it running in the background. */
  createWorker(options?: Partial<WorkerOptions>): Promise<RunningWorker>;
  teardown(): Promise<void>;
}

export interface RunningWorker {
  worker: Worker;
  taskQueue: string;
  stop(): Promise<void>;
}

export async function startTemporalTestEnv(options: DevServerOptions = {}): Promise<TemporalTestEnv> {
  if (!runtimeInstalled) {
    installWorkerLogger('ERROR');
    runtimeInstalled = true;
  }
  const server = await startDevServer(options);
  const running = new Set<RunningWorker>();

  async function createWorker(workerOptions: Partial<WorkerOptions> = {}): Promise<RunningWorker> {
    const taskQueue = workerOptions.taskQueue ?? `test-${randomUUID()}`;
    const worker = await Worker.create({
      connection: server.env.nativeConnection,
      workflowBundle: await workflowBundle(),
      activities: createActivities(),
      ...workflowActivationOptions(),
      ...workerOptions,
      taskQueue,
    });
    const runPromise = worker.run();
    // As the migration worker does: a run the SDK left unable to replay is reset, not left to hang the test.
    const repair = startStuckRunRepair({ client: server.env.client, taskQueue, everyMs: 2_000, warn: console.warn });
    const handle: RunningWorker = {
      worker,
      taskQueue,
      async stop() {
        running.delete(handle);
        await repair.stop();
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await runPromise;
      },
    };
    running.add(handle);
    return handle;
  }

  return {
    server,
    client: server.env.client,
    createWorker,
    async teardown() {
      const errors: unknown[] = [];
      for (const w of [...running]) await w.stop().catch((e: unknown) => errors.push(e));
      await server.stop().catch((e: unknown) => errors.push(e));
      if (errors.length) throw new AggregateError(errors, 'Temporal test environment teardown failed');
    },
  };
}
