/**
 * The largest Temporal histories of a 10,000-user migration. History sizes depend on the workflows, not on ZIM, so
 * the real workflows run on the dev server with in-memory activities (src/testing/fake-migration-activities.ts),
 * shaped like a generated export: one owner per user with a few steps, a few heavy owners, a group per 25 users,
 * and page counts in the proportions `zim-migrate plan` gives for generated data. Production tuning (no overrides),
 * so continue-as-new happens where it would in a real migration. Prints the largest workflows (id, runs, events of
 * the largest run) and the events per (simulated) ZIM call.
 *
 *   npm run bench:history -- [--users 10000] [--steps 3] [--heavy-owners 2] [--heavy-steps 2500]
 */
import { parseArgs } from 'node:util';
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { startDevServer } from '../dev-server/start-dev-server';
import { workflowIds } from '../shared/workflow-api';
import { fakeMigrationActivities } from '../testing/fake-migration-activities';
import { workflowActivationOptions } from '../worker/workflow-activation-timeout';
import { workflowBundle } from '../worker/workflow-bundle';
import { devServerPid, cpuMeter, loadAverageText, renderCpuUse } from './process-stats';
import { installWorkerLogger } from '../worker/worker-logger';
import { camelCaseKeys, wholeNumber } from './bench-flags';
import { resultWithin } from './result-within';

const Flags = z.object({
  users: wholeNumber('--users', 2),
  steps: wholeNumber('--steps', 1),
  heavyOwners: wholeNumber('--heavy-owners', 0),
  heavySteps: wholeNumber('--heavy-steps', 1),
  groupSteps: wholeNumber('--group-steps', 1),
  timeoutMinutes: wholeNumber('--timeout-minutes', 1),
});

/** Pages per user of a generated export's page stages, from `zim-migrate plan` of 4,000 generated users. */
const PAGES_PER_USER = { accounts: 1 / 100, profiles: 1 / 100, friends: 2884 / 4000, blocks: 117 / 4000 };
const USERS_PER_GROUP = 25;
const VERIFY_PER_PAGE = 100;

interface Run {
  workflowId: string;
  runId: string;
  events: number;
}

async function listRuns(client: Client, migrationId: string): Promise<Run[]> {
  const runs: Run[] = [];
  for await (const wf of client.workflow.list({ query: `ZimMigrationId = "${migrationId}"` }))
    runs.push({ workflowId: wf.workflowId, runId: wf.runId, events: wf.historyLength });
  return runs;
}

/** Workflow tasks of one run that timed out: each one re-runs the local activities since the last completed task. */
async function taskTimeouts(client: Client, workflowId: string, runId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowTaskTimedOutEventAttributes).length;
}

/** Per workflow id: how many runs (continue-as-new) and the largest run's events. */
function byWorkflow(runs: readonly Run[]) {
  type Workflow = { workflowId: string; runs: number; largest: number; largestRunId: string; events: number };
  const ids = new Map<string, Workflow>();
  for (const r of runs) {
    const w = ids.get(r.workflowId) ?? { workflowId: r.workflowId, runs: 0, largest: 0, largestRunId: '', events: 0 };
    w.runs++;
    if (r.events > w.largest) [w.largest, w.largestRunId] = [r.events, r.runId];
    w.events += r.events;
    ids.set(r.workflowId, w);
  }
  return [...ids.values()].sort((a, b) => b.largest - a.largest);
}

async function main() {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '10000' },
      steps: { type: 'string', default: '3' },
      'heavy-owners': { type: 'string', default: '2' },
      'heavy-steps': { type: 'string', default: '2500' },
      'group-steps': { type: 'string', default: '20' },
      'timeout-minutes': { type: 'string', default: '15' },
    },
  });
  const o = Flags.parse(camelCaseKeys(values));
  installWorkerLogger('ERROR');
  const groups = Math.ceil(o.users / USERS_PER_GROUP);
  const fake = fakeMigrationActivities({
    owners: o.users,
    stepsPerOwner: o.steps,
    heavyOwners: { count: o.heavyOwners, steps: o.heavySteps },
    groups,
    groupHistorySteps: o.groupSteps,
    listPageSize: 200,
    pages: {
      ...Object.fromEntries(Object.entries(PAGES_PER_USER).map(([s, per]) => [s, Math.ceil(o.users * per)])),
      verify: Math.ceil(o.users / VERIFY_PER_PAGE) + Math.ceil(groups / VERIFY_PER_PAGE),
    },
  });
  console.log(
    `zim-migrate history benchmark, ${new Date().toISOString()}, load average ${loadAverageText()}\n` +
      `${o.users.toLocaleString('en-US')} users = owners (${o.steps} steps each, ${o.heavyOwners} with ` +
      `${o.heavySteps}), ${groups} groups (2 setup steps, ${o.groupSteps} history steps), pages ` +
      `${JSON.stringify(Object.fromEntries(Object.entries(fake.plan).map(([s, p]) => [s, p.pages])))}; ` +
      `real workflows, production tuning, in-memory activities, one worker, Temporal dev server`
  );

  const server = await startDevServer();
  try {
    const taskQueue = 'bench-history';
    const worker = await Worker.create({
      connection: server.env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: fake.activities,
      maxConcurrentActivityTaskExecutions: 200,
      ...workflowActivationOptions(),
    });
    const migrationId = 'bench-history';
    const started = Date.now();
    const handle = await server.env.client.workflow.start('migrationWorkflow', {
      taskQueue,
      workflowId: workflowIds.migration(migrationId),
      args: [{ migrationId, stagingPath: '-' }],
    });
    // Bounded: at the deadline stop waiting and report the histories so far (the server's teardown ends the rest).
    const meter = cpuMeter({ 'benchmark + worker': 'self', 'dev server': devServerPid() });
    const outcome = await worker.runUntil(resultWithin(server.env.client, handle, o.timeoutMinutes * 60_000));
    const seconds = (Date.now() - started) / 1000;
    const cpu = meter.stop();
    // A local activity re-run after a workflow task timed out finds its ledger entry done and calls ZIM no more:
    // count each step once.
    const calls = new Set(fake.calls.map((c) => `${c.stage}/${c.key}`)).size;
    const reruns = fake.calls.length - calls;
    if (outcome === 'timed out')
      console.log(
        `\nNOT FINISHED within ${o.timeoutMinutes} minutes: the figures below are for the part done ` +
          `(${calls.toLocaleString('en-US')} of ${Object.values(fake.plan)
            .reduce((a, p) => a + p.calls, 0)
            .toLocaleString('en-US')} calls)`
      );

    const runs = await listRuns(server.env.client, migrationId);
    const workflows = byWorkflow(runs);
    const events = runs.reduce((a, r) => a + r.events, 0);
    console.log(
      `\nmigration ${outcome} in ${seconds.toFixed(0)} s (CPU: ${renderCpuUse(cpu)}); ${workflows.length.toLocaleString('en-US')} workflows, ` +
        `${runs.length.toLocaleString('en-US')} runs, ${events.toLocaleString('en-US')} history events for ` +
        `${calls.toLocaleString('en-US')} ZIM calls = ${(events / calls).toFixed(2)} events per call ` +
        `(steps re-run after a workflow task timed out: ${reruns.toLocaleString('en-US')})`
    );
    console.log('largest histories (a run is one history; more than one run = continued as new):');
    console.log('  events of its largest run  runs  events in all runs  task timeouts in that run  workflow id');
    const entity = workflows.find((w) => /\/(peer|group|group-history)\//.test(w.workflowId));
    const shown = [...workflows.slice(0, 6), ...(entity && !workflows.slice(0, 6).includes(entity) ? [entity] : [])];
    for (const w of shown)
      console.log(
        `  ${w.largest.toLocaleString('en-US').padStart(25)}  ${String(w.runs).padStart(4)}  ` +
          `${w.events.toLocaleString('en-US').padStart(18)}  ` +
          `${String(await taskTimeouts(server.env.client, w.workflowId, w.largestRunId)).padStart(25)}  ${w.workflowId}`
      );
    const unbounded = workflows.filter((w) => w.runs === 1)[0];
    console.log(
      `largest history that never continued as new: ${unbounded?.largest.toLocaleString('en-US')} events ` +
        `(${unbounded?.workflowId}); load average now ${loadAverageText()}`
    );
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
