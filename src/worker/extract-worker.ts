/**
 * A worker for extractions: the workflow bundle (extractWorkflow among the rest) and only the extract activities,
 * on the extract task queue. It needs no ZIM credentials; the Sendbird token (for the API route) stays in it.
 */
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createExtractActivities } from '../../activities/extract';
import { workflowActivationOptions } from './workflow-activation-timeout';
import { workflowBundle } from './workflow-bundle';

export interface ExtractWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  apiToken?: string;
  requestsPerSecond: number;
  workerOptions?: Partial<WorkerOptions>;
}

export async function createExtractWorker(o: ExtractWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace ?? 'default',
    taskQueue: o.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createExtractActivities({ apiToken: o.apiToken, requestsPerSecond: o.requestsPerSecond }),
    maxConcurrentActivityTaskExecutions: 64,
    ...workflowActivationOptions(),
    ...o.workerOptions,
  });
}
