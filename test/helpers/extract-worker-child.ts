/** An extract worker in its own process, so a test can SIGKILL it: TEMPORAL_ADDRESS, TASK_QUEUE, SENDBIRD_API_TOKEN, RPS. */
import { NativeConnection } from '@temporalio/worker';
import { createExtractWorker } from '../../src/worker/extract-worker';
import { installWorkerLogger } from '../../src/worker/worker-logger';

async function main() {
  installWorkerLogger('ERROR');
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await createExtractWorker({
    connection,
    taskQueue: process.env.TASK_QUEUE!,
    apiToken: process.env.SENDBIRD_API_TOKEN,
    requestsPerSecond: Number(process.env.RPS ?? '50'),
  });
  console.log('ready');
  await worker.run();
}
void main();
