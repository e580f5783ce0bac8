/**
 * A migration worker (createMigrationWorker: the product's worker options) in its own process, running the test-only
 * workflows of test/fixtures/workflows/slow-activation.ts, so a test survives the worker aborting:
 * TEMPORAL_ADDRESS, TASK_QUEUE, BUDGET_DB (a SQLite file). It never calls ZIM.
 */
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { projectRoot } from '../../src/shared/project-root';
import { createMigrationWorker } from '../../src/worker/migration-worker';
import { workflowBundle } from '../../src/worker/workflow-bundle';
import { installWorkerLogger } from '../../src/worker/worker-logger';

export const SLOW_ACTIVATION_WORKFLOWS = path.join(
  projectRoot(),
  'test',
  'fixtures',
  'workflows',
  'slow-activation.ts'
);

async function main() {
  installWorkerLogger('ERROR');
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await createMigrationWorker({
    connection,
    taskQueue: process.env.TASK_QUEUE!,
    zim: {
      appId: 1,
      serverSecret: '0'.repeat(32),
      baseUrl: 'http://127.0.0.1:9',
      budgetDbPath: process.env.BUDGET_DB!,
    },
    workerOptions: { workflowBundle: await workflowBundle(SLOW_ACTIVATION_WORKFLOWS) },
  });
  console.log('ready');
  await worker.run();
}
if (require.main === module) void main();
