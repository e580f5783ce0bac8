/**
 * How precisely two ways of rate limiting hold a 20 calls/s budget, measured in one run on a real dev server:
 *   task-queue: Temporal's server-side limit (WorkerOptions.maxTaskQueueActivitiesPerSecond);
 *   scheduler:  our global call schedule (src/rate-limit), reserved by each activity before it calls.
 * The workload is the real migrationWorkflow's accounts stage, one page activity per call, with in-memory
 * activities, so only the orchestration and the limiter are measured. (A page stage, because a task-queue limit
 * applies to activities the server dispatches: the message imports are local activities, which it never sees.) Prints achieved rate / budget, the most calls in any one-second
 * window, and how many calls a fixed one-second-window limiter (like ZIM's) would have refused.
 *
 *   npm run bench:rate-limit -- [--calls 600] [--rate 20]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from '@temporalio/worker';
import { startDevServer } from '../dev-server/start-dev-server';
import { SqliteCallScheduler } from '../rate-limit/call-scheduler';
import { STAGE_ACTION } from '../shared/stages';
import { workflowIds } from '../shared/workflow-api';
import { fakeMigrationActivities } from '../testing/fake-migration-activities';
import { workflowActivationOptions } from '../worker/workflow-activation-timeout';
import { workflowBundle } from '../worker/workflow-bundle';
import { installWorkerLogger } from '../worker/worker-logger';

export interface WindowStats {
  calls: number;
  seconds: number;
  achievedPerSecond: number;
  maxInAnySecond: number;
  refusedByFixedWindow: number;
}

/** Rate statistics of call times (ms) against a per-second budget. */
export function windowStats(times: number[], budget: number): WindowStats {
  const t = [...times].sort((a, b) => a - b);
  const seconds = (t[t.length - 1]! - t[0]!) / 1000;
  let maxInAnySecond = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= 1000) j++;
    maxInAnySecond = Math.max(maxInAnySecond, i - j + 1);
  }
  const perSecond = new Map<number, number>();
  for (const x of t) perSecond.set(Math.floor(x / 1000), (perSecond.get(Math.floor(x / 1000)) ?? 0) + 1);
  const refusedByFixedWindow = [...perSecond.values()].reduce((sum, n) => sum + Math.max(0, n - budget), 0);
  return {
    calls: t.length,
    seconds,
    achievedPerSecond: (t.length - 1) / seconds,
    maxInAnySecond,
    refusedByFixedWindow,
  };
}

async function main() {
  const { values } = parseArgs({
    options: { calls: { type: 'string', default: '600' }, rate: { type: 'string', default: '20' } },
  });
  const calls = Number(values.calls);
  const rate = Number(values.rate);
  installWorkerLogger('WARN');
  const server = await startDevServer();
  const bundle = await workflowBundle();

  const run = async (mode: 'task-queue' | 'scheduler') => {
    const scheduler =
      mode === 'scheduler'
        ? new SqliteCallScheduler(path.join(mkdtempSync(path.join(tmpdir(), 'bench-')), 'b.sqlite'), { appId: 1 })
        : undefined;
    await scheduler?.setRate(STAGE_ACTION.accounts, rate);
    const fake = fakeMigrationActivities({
      owners: 0,
      stepsPerOwner: 0,
      groups: 0,
      pages: { accounts: calls },
      beforeCall: scheduler ? async () => void (await scheduler.acquire(STAGE_ACTION.accounts)) : undefined,
    });
    const taskQueue = `bench-${mode}`;
    const worker = await Worker.create({
      connection: server.env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: fake.activities,
      maxConcurrentActivityTaskExecutions: 200,
      ...(mode === 'task-queue' && { maxTaskQueueActivitiesPerSecond: rate }),
      ...workflowActivationOptions(),
    });
    const migrationId = `bench-${mode}-${Date.now()}`;
    await worker.runUntil(
      server.env.client.workflow.execute('migrationWorkflow', {
        taskQueue,
        workflowId: workflowIds.migration(migrationId),
        args: [{ migrationId, stagingPath: '-', stages: ['accounts'] }],
      })
    );
    await scheduler?.close();
    return windowStats(
      fake.calls.filter((c) => c.stage === 'accounts').map((c) => c.at),
      rate
    );
  };

  const results = { 'task-queue': await run('task-queue'), scheduler: await run('scheduler') };
  await server.stop();
  console.log(`budget ${rate} calls/s, ${calls} calls per mode, one worker, Temporal dev server`);
  console.log('mode        calls  seconds  achieved/s  achieved/budget  max in 1 s  refused (fixed 1 s windows)');
  for (const [mode, r] of Object.entries(results)) {
    console.log(
      `${mode.padEnd(10)}  ${String(r.calls).padStart(5)}  ${r.seconds.toFixed(1).padStart(7)}  ${r.achievedPerSecond
        .toFixed(2)
        .padStart(10)}  ${((r.achievedPerSecond / rate) * 100).toFixed(1).padStart(14)}%  ${String(
        r.maxInAnySecond
      ).padStart(10)}  ${r.refusedByFixedWindow} (${((r.refusedByFixedWindow / r.calls) * 100).toFixed(2)}%)`
    );
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
