/**
 * A production migration worker run in the test's own process, against the test emulator, with its own call
 * schedule in a temporary file: for tests that drive the CLI (start, catch-up, budget) and need a worker behind it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_APP_ID, TEST_SECRET } from '../../src/testing/migration-rig';
import { createMigrationWorker } from '../../src/worker/migration-worker';
import type { ZimEmulator } from '../../src/zim-emulator';
import type { TemporalTestEnv } from './temporal-env';

/** Starts the worker on `taskQueue`; resolves to the function that shuts it down and waits for its end. */
export async function runInProcessWorker(
  t: TemporalTestEnv,
  emulator: ZimEmulator,
  taskQueue: string
): Promise<() => Promise<void>> {
  const worker = await createMigrationWorker({
    connection: t.server.env.nativeConnection,
    taskQueue,
    zim: {
      appId: TEST_APP_ID,
      serverSecret: TEST_SECRET,
      baseUrl: emulator.url,
      budgetDbPath: path.join(mkdtempSync(path.join(tmpdir(), 'budget-')), 'b.sqlite'),
    },
  });
  const running = worker.run();
  return async () => {
    worker.worker.shutdown();
    await running;
  };
}
