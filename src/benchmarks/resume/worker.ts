/**
 * A worker process for the resume-after-kill benchmark: argv address, task queue, tick file, sticky queue timeout.
 * Prints "ready" once it polls.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { activityInfo } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import { installWorkerLogger } from '../../worker/worker-logger';
import { workflowBundle } from '../../worker/workflow-bundle';
import type { ResumeActivities } from './workflows';

async function main() {
  const [address, taskQueue, tickFile, sticky] = process.argv.slice(2) as [string, string, string, string];
  installWorkerLogger('ERROR');
  const record = (step: number) =>
    appendFileSync(tickFile, `${activityInfo().workflowExecution?.workflowId ?? '?'} ${step} ${Date.now()}\n`);
  const activities: ResumeActivities = {
    tick: async (step) => record(step),
    slowTick: async (step, ms) => {
      await new Promise((r) => setTimeout(r, ms));
      record(step);
    },
  };
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address }),
    taskQueue,
    workflowBundle: await workflowBundle(path.join(__dirname, 'workflows.ts')),
    activities,
    stickyQueueScheduleToStartTimeout: sticky,
  });
  console.log('ready');
  await worker.run();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
