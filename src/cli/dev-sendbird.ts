/**
 * `zim-migrate dev --source sendbird`: the extract half of the rehearsal. A seeded Sendbird workspace served by the
 * Sendbird emulator (in this process, a random token), a Temporal dev server of its own (headless, its database and
 * log in the rehearsal folder), an extract worker, and `extractWorkflow` over the Platform API route into
 * `<dir>/sendbird-export`; then `dev` validates, plans, migrates and verifies that export as it does any other.
 * Everything it starts is stopped before it returns, also when the rehearsal is stopped (the signal).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { ExtractInput, extractWorkflow } from '../../workflows/extract';
import { startDevServerProcess, type DevServerProcess } from '../dev-server/dev-server-process';
import { startSendbirdEmulator, type SendbirdEmulator } from '../sendbird-emulator/server';
import { generateWorkspace } from '../sendbird-emulator/workspace';
import { ExtractDir, REPORT_FILE } from '../sources/extract-dir';
import { DEFAULT_MAPPING } from '../sources/sendbird/mapping';
import type { ExtractSummary, SendbirdExtractConfig } from '../sources/sendbird/units';
import { createExtractWorker } from '../worker/extract-worker';
import { renderExtractSummary } from './commands/extract';

const DAY = 86_400_000;
const TASK_QUEUE = 'zim-migrate-dev-extract';
/** Messages per user in the seeded workspace: a few hundred in all for dev's default 30 users. */
const MESSAGES_PER_USER = 10;

export interface SendbirdSampleOptions {
  /** The rehearsal folder. */
  dir: string;
  users: number;
  seed: number;
  signal: AbortSignal;
  say: (line: string) => void;
  /** Where the summary goes (stdout in dev). */
  print?: (text: string) => void;
}

/** The export directory of the rehearsal's Sendbird extraction (extracted now unless a finished one is there). */
export async function extractSendbirdSample(o: SendbirdSampleOptions): Promise<string> {
  const outDir = path.join(o.dir, 'sendbird-export');
  if (existsSync(path.join(outDir, REPORT_FILE))) {
    o.say(`using the Sendbird extraction already in ${outDir}`);
    return outDir;
  }
  // History of the last 10 days, day-rounded: the same seed and size give the same workspace all day.
  const startMs = Math.floor(Date.now() / DAY) * DAY - 10 * DAY;
  const workspace = generateWorkspace({
    seed: o.seed,
    users: o.users,
    messages: o.users * MESSAGES_PER_USER,
    startMs,
  });
  const apiToken = randomBytes(16).toString('hex');
  let emulator: SendbirdEmulator | undefined;
  let server: DevServerProcess | undefined;
  let native: NativeConnection | undefined;
  let connection: Connection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  try {
    emulator = await startSendbirdEmulator({ workspace, apiToken, rateLimit: 0 });
    o.say(
      `Sendbird emulator at ${emulator.url}: ${workspace.users.length} users, ${workspace.channels.length} group ` +
        `channels, ${workspace.totalMessages} messages (seed ${o.seed})`
    );
    const serverLog = path.join(o.dir, 'extract-temporal-server.log');
    o.say(`starting a Temporal dev server for the extraction (log ${serverLog})`);
    server = await startDevServerProcess({
      dbFilename: path.join(o.dir, 'extract-temporal.db'),
      logFile: serverLog,
      signal: o.signal,
    });
    native = await NativeConnection.connect({ address: server.address });
    connection = await Connection.connect({ address: server.address });
    worker = await createExtractWorker({
      connection: native,
      taskQueue: TASK_QUEUE,
      apiToken,
      requestsPerSecond: 500,
    });
    running = worker.run();
    mkdirSync(outDir, { recursive: true });
    new ExtractDir(outDir).prepare();
    const config: SendbirdExtractConfig = {
      outDir,
      route: { kind: 'api', baseUrl: emulator.url },
      mapping: DEFAULT_MAPPING,
      blocks: true,
    };
    const client = new Client({ connection });
    const workflowId = 'zim-migrate-dev-extract';
    const input: ExtractInput = { config, concurrency: 4 };
    o.say(`extracting (workflow ${workflowId}) → ${outDir}`);
    const handle = await client.workflow
      .start<typeof extractWorkflow>('extractWorkflow', {
        taskQueue: TASK_QUEUE,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
      })
      .catch((err: unknown) => {
        if (err instanceof WorkflowExecutionAlreadyStartedError)
          return client.workflow.getHandle<typeof extractWorkflow>(workflowId);
        throw err;
      });
    const aborted = new Promise<never>((_, reject) => {
      const fail = () => reject(new Error('stopped during the Sendbird extraction'));
      if (o.signal.aborted) fail();
      else o.signal.addEventListener('abort', fail, { once: true });
    });
    const workerFailed: Promise<never> = running.then(
      () => new Promise<never>(() => undefined),
      (err: unknown) => {
        throw new Error(`the extract worker stopped: ${(err as Error).message}`, { cause: err });
      }
    );
    const summary: ExtractSummary = await Promise.race([handle.result(), aborted, workerFailed]);
    (o.print ?? ((t) => console.log(t)))(renderExtractSummary(summary, outDir).replace(/\nNext: .*$/, ''));
    return outDir;
  } finally {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running?.catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await native?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await emulator?.close().catch(() => undefined);
  }
}
