/**
 * Whole migrations against the emulator, measured from the emulator's own counters (sampled every second):
 *   budget:  ZIM's real limits (20 calls/s per Action), a worker process apart from the emulator (as ZIM is apart
 *            from the workers). Achieved ImportPeerMsg calls/s over the steady part of the one-to-one stage against
 *            the budget, and the share refused as "too frequent". ZIM_MIGRATE_BUDGET_HEADROOM applies as in production.
 *   ceiling: limits lifted. ZIM calls/s through one worker process, then two (`zim-migrate worker` child processes
 *            on one task queue and one call schedule), and the Temporal dev server, next to a bare undici loop (the
 *            ZIM client alone, its own emulator, 50 loops) in the same run; with the CPU each process used.
 * Both print Temporal history events per ZIM call and the largest single history.
 *
 *   npm run bench:migration -- [--mode budget|ceiling|both] [--users 60]
 *   ZIM_BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:migration -- --mode ceiling
 *     profiles the worker processes (a .cpuprofile per thread: main thread and workflow thread)
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { DEFAULT_BUDGET_HEADROOM_PERCENT } from '../config/zim-config';
import { startDevServer } from '../dev-server/start-dev-server';
import { MIGRATION_ACTIONS } from '../shared/stages';
import { buildStaging, TEST_APP_ID, TEST_SECRET } from '../testing/migration-rig';
import { migrateIntoEmulator } from '../testing/migrate-into-emulator';
import { startZimEmulator } from '../zim-emulator';
import { bareImportLoop } from './bare-zim-loop';
import { wholeNumber } from './bench-flags';
import { devServerPid, cpuMeter, loadAverageText, renderCpuUse, type CpuUse } from './process-stats';
import { installWorkerLogger } from '../worker/worker-logger';

const Flags = z.object({
  mode: z.enum(['budget', 'ceiling', 'both'], { error: '--mode: budget, ceiling or both' }),
  users: wholeNumber('--users', 2),
});

interface Sample {
  at: number;
  calls: number;
  refused: number;
}

async function historyStats(client: Client, migrationId: string) {
  let events = 0;
  let largest = 0;
  let workflows = 0;
  for await (const wf of client.workflow.list({ query: `ZimMigrationId = "${migrationId}"` })) {
    const length = wf.historyLength;
    events += length;
    largest = Math.max(largest, length);
    workflows++;
  }
  return { events, largest, workflows };
}

type Staging = Awaited<ReturnType<typeof buildStaging>>;

/** A migration through `processes` `zim-migrate worker` processes. */
async function runMigration(opts: { staging: Staging; limits: boolean; processes: number }) {
  const server = await startDevServer();
  const budgets = opts.limits ? {} : Object.fromEntries(MIGRATION_ACTIONS.map((a) => [a, 100_000]));
  const emulator = await startZimEmulator({
    appId: TEST_APP_ID,
    serverSecret: TEST_SECRET,
    rateLimits: { enabled: opts.limits, perSecond: {}, perGroupPerSecond: {}, codes: {} },
  });
  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    const c = emulator.counters();
    samples.push({
      at: Date.now(),
      calls: c.calls.ImportPeerMsg ?? 0,
      refused: Object.values(c.refusalsByAction.ImportPeerMsg ?? {}).reduce((a, b) => a + b, 0),
    });
  }, 1_000);
  let started = Date.now();
  let cpu: CpuUse = [];
  const migrationId = `bench-${opts.limits ? 'budget' : 'ceiling'}`;
  await migrateIntoEmulator({
    connection: server.env.nativeConnection,
    client: server.env.client,
    emulator,
    stagingPath: opts.staging.fresh(),
    migrationId,
    budgets,
    workerProcesses: { count: opts.processes, temporalAddress: server.address },
    during: async (handle, _emulator, workers) => {
      started = Date.now(); // after the worker processes have built their bundles
      const meter = cpuMeter({
        ...Object.fromEntries(workers.map((w, i) => [`worker ${i + 1}`, w.pid])),
        'dev server': devServerPid(),
        'benchmark + emulator': 'self',
      });
      await handle.result();
      cpu = meter.stop();
    },
  });
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  const counters = emulator.counters();
  const history = await historyStats(server.env.client, migrationId);
  await emulator.stop();
  await server.stop();
  return { samples, seconds, counters, history, cpu };
}

/**
 * Calls/s over the steady part: the seconds ImportPeerMsg was being called, minus 5 s at each end (the whole active
 * part when that leaves less than 5 s).
 */
function steady(samples: Sample[]) {
  const active = samples.filter((s, i) => i > 0 && s.calls > samples[i - 1]!.calls);
  const firstActive = Math.max(0, samples.indexOf(active[0]!) - 1);
  const lastActive = samples.indexOf(active[active.length - 1]!);
  const trimmed = lastActive - firstActive >= 15;
  const a = samples[trimmed ? firstActive + 5 : firstActive]!;
  const b = samples[trimmed ? lastActive - 5 : lastActive]!;
  const seconds = (b.at - a.at) / 1000;
  return {
    seconds,
    callsPerSecond: (b.calls - a.calls) / seconds,
    calls: b.calls - a.calls,
    refused: b.refused - a.refused,
  };
}

async function main() {
  const { values } = parseArgs({
    options: { mode: { type: 'string', default: 'both' }, users: { type: 'string', default: '60' } },
  });
  const { mode, users } = Flags.parse(values);
  installWorkerLogger('ERROR');
  const staging = await buildStaging(users, 99);
  console.log(
    `zim-migrate migration benchmark, ${users} generated users, Temporal dev server, ${new Date().toISOString()}, ` +
      `load average ${loadAverageText()}`
  );

  if (mode === 'budget' || mode === 'both') {
    const r = await runMigration({ staging, limits: true, processes: 1 });
    const s = steady(r.samples);
    const total = r.counters.requests;
    const headroom = process.env.ZIM_MIGRATE_BUDGET_HEADROOM ?? String(DEFAULT_BUDGET_HEADROOM_PERCENT);
    console.log(
      `\n[budget] ZIM limits on (20 calls/s per Action), one worker process, budget headroom ${headroom}%; ` +
        `migration took ${r.seconds.toFixed(1)} s`
    );
    console.log(
      `  ImportPeerMsg steady part: ${s.seconds.toFixed(0)} s, ${s.calls} calls, ${s.callsPerSecond.toFixed(2)} calls/s = ` +
        `${((s.callsPerSecond / 20) * 100).toFixed(1)}% of the 20/s budget; refused as too frequent: ${s.refused} ` +
        `(${((s.refused / Math.max(1, s.calls)) * 100).toFixed(2)}%)`
    );
    console.log(`  all refusals by code: ${JSON.stringify(r.counters.refusals)}`);
    console.log(
      `  history: ${r.history.events} events in ${r.history.workflows} workflow runs for ${total} ZIM calls = ` +
        `${(r.history.events / total).toFixed(2)} events per call; largest history ${r.history.largest} events`
    );
  }

  if (mode === 'ceiling' || mode === 'both') {
    // One run: the two worker counts and the bare loop see the same machine load, so their ratios mean something.
    const runs = [
      { label: 'one worker process', r: await runMigration({ staging, limits: false, processes: 1 }) },
      { label: 'two worker processes', r: await runMigration({ staging, limits: false, processes: 2 }) },
    ];
    const bare = await bareImportLoop(10, 50);
    console.log('\n[ceiling] limits lifted');
    const rates = runs.map(({ label, r }) => {
      const s = steady(r.samples);
      console.log(
        `  ${label}: migration ${r.seconds.toFixed(1)} s, ${s.callsPerSecond.toFixed(0)} ImportPeerMsg calls/s ` +
          `(steady ${s.seconds.toFixed(0)} s), ${(r.counters.requests / r.seconds).toFixed(0)} ZIM calls/s over ` +
          `the whole migration; ${(r.history.events / r.counters.requests).toFixed(2)} history events per call, ` +
          `largest history ${r.history.largest} events`
      );
      const perCall = r.cpu.map((u) => `${u.name} ${((u.cpuSeconds * 1000) / r.counters.requests).toFixed(2)}`);
      console.log(`    CPU: ${renderCpuUse(r.cpu)}; ms per ZIM call: ${perCall.join(', ')}`);
      return s.callsPerSecond;
    });
    const [one, two] = rates as [number, number];
    console.log(`  bare undici loop (ZimClient, 50 concurrent): ${bare.toFixed(0)} calls/s`);
    console.log(
      `  ratios: two / one worker ${(two / one).toFixed(2)}; one worker / bare ${(one / bare).toFixed(3)}; ` +
        `two workers / bare ${(two / bare).toFixed(3)} (${cpus().length} cores, load average ` +
        `${loadAverageText()})`
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
