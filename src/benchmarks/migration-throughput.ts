/**
 * Whole migrations against the emulator, measured from the emulator's own counters (sampled every second):
 *   budget:  ZIM's real limits (20 calls/s per Action), worker processes (one by default) apart from the emulator (as
 *            ZIM is apart from the workers). Achieved ImportPeerMsg calls/s over the steady part of the one-to-one stage against
 *            the budget, and the share refused as "too frequent". ZIM_MIGRATE_BUDGET_HEADROOM applies as in production.
 *   ceiling: limits lifted. ZIM calls/s through one worker process, then two (by default; `zim-migrate worker` child
 *            processes on one task queue and one call schedule), and the Temporal dev server, next to a bare undici loop (the
 *            ZIM client alone, its own emulator, 50 loops) in the same run; with the CPU each process used.
 * Both print Temporal history events per ZIM call and the largest single history.
 *
 * `--staging sqlite,postgres` runs each measurement on each engine in the same run: 'postgres' copies the staging
 * into a local throwaway PostgreSQL (schema per migration) and puts the call schedule there too, as several worker
 * machines would; its CPU (every connection's process) is counted per ZIM call beside the workers', and the cost of
 * one schedule reservation on each engine is printed. `--workers 1,2,3` sets the worker processes (ceiling: 1,2;
 * budget: 1 by default).
 *
 *   npm run bench:migration -- [--mode budget|ceiling|both] [--users 60] [--staging sqlite|postgres|sqlite,postgres]
 *                              [--workers 1,2,3] [--paths old,new]
 *   `--paths old,new` (ceiling) runs each measurement with the per-call code paths issue #17 replaced, then with
 *   today's, in one run (ZIM_BENCH_OLD_CPU_PATH in the worker processes); each run prints CPU ms per ZIM call per
 *   process and, per worker, per thread.
 *   ZIM_BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:migration -- --mode ceiling
 *     profiles the worker processes (a .cpuprofile per thread: main thread and workflow thread)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { DEFAULT_BUDGET_HEADROOM_PERCENT } from '../config/zim-config';
import { startDevServer } from '../dev-server/start-dev-server';
import { openDatabase } from '../postgres/database';
import { DATABASE_ENV, resolveDatabaseSettings } from '../postgres/database-settings';
import { startLocalPostgres, type LocalPostgres } from '../postgres/local-postgres';
import { copyStaging } from '../staging/copy/copy-staging';
import { MIGRATION_ACTIONS } from '../shared/stages';
import { buildStaging, TEST_APP_ID, TEST_SECRET } from '../testing/migration-rig';
import { migrateIntoEmulator } from '../testing/migrate-into-emulator';
import { startZimEmulator } from '../zim-emulator';
import { bareImportLoop } from './bare-zim-loop';
import { wholeNumber } from './bench-flags';
import {
  devServerPid,
  cpuMeter,
  loadAverageText,
  processTreeCpuSeconds,
  renderCpuUse,
  threadCpuMeter,
  type CpuUse,
} from './process-stats';
import { OLD_CPU_PATH_ENV } from '../shared/bench-old-cpu-path';
import { pgReservationMs, sqliteReservationMs, unboundedPgSchedule } from './reservation-cost';
import { installWorkerLogger } from '../worker/worker-logger';

const ENGINES = ['sqlite', 'postgres'] as const;
type Engine = (typeof ENGINES)[number];
const ENGINE_NAME: Record<Engine, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };
/** 'old': the worker processes run the per-call code paths issue #17 replaced (ZIM_BENCH_OLD_CPU_PATH). */
const PATHS = ['old', 'new'] as const;
type CodePath = (typeof PATHS)[number];
/** A comma-separated list flag: `--workers 1,2,3`. */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((x) => x.trim()) : v), z.array(item).min(1));

const Flags = z.object({
  mode: z.enum(['budget', 'ceiling', 'both'], { error: '--mode: budget, ceiling or both' }),
  users: wholeNumber('--users', 2),
  staging: list(z.enum(ENGINES, { error: '--staging: sqlite, postgres or sqlite,postgres' })),
  workers: list(wholeNumber('--workers', 1)).optional(),
  paths: list(z.enum(PATHS, { error: '--paths: old, new or a list of them (old,new,old,new)' })),
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

/** Where a run's staging and call schedule live: a fresh SQLite file and schedule, or a schema of `postgres`. */
async function stagingFor(staging: Staging, postgres: LocalPostgres | undefined, migrationId: string) {
  if (!postgres) return { stagingPath: staging.fresh(), workers: {} };
  const env = { [DATABASE_ENV.password]: postgres.password };
  const stagingPath = `${postgres.url}?schema=${migrationId.replace(/\W/g, '_')}`;
  await copyStaging(staging.fresh(), stagingPath, { env });
  return { stagingPath, workers: { budgetDb: postgres.url, env } };
}

let runs = 0;

/** A migration through `processes` `zim-migrate worker` processes, its staging on SQLite or in `postgres`. */
async function runMigration(opts: {
  staging: Staging;
  limits: boolean;
  processes: number;
  postgres: LocalPostgres | undefined;
  path?: CodePath;
}) {
  const migrationId = `bench-${opts.limits ? 'budget' : 'ceiling'}-${++runs}`;
  const where = await stagingFor(opts.staging, opts.postgres, migrationId);
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
  let threads: { worker: string; use: ReturnType<ReturnType<typeof threadCpuMeter>['stop']> }[] = [];
  const postgresPid = opts.postgres?.pid;
  await migrateIntoEmulator({
    connection: server.env.nativeConnection,
    client: server.env.client,
    emulator,
    stagingPath: where.stagingPath,
    migrationId,
    budgets,
    workerProcesses: {
      count: opts.processes,
      temporalAddress: server.address,
      ...where.workers,
      env: { ...where.workers.env, ...(opts.path === 'old' && { [OLD_CPU_PATH_ENV]: '1' }) },
    },
    during: async (handle, _emulator, workers) => {
      started = Date.now(); // after the worker processes have built their bundles
      const meter = cpuMeter({
        ...Object.fromEntries(workers.map((w, i) => [`worker ${i + 1}`, w.pid])),
        'dev server': devServerPid(),
        'benchmark + emulator': 'self',
        ...(postgresPid !== undefined && { PostgreSQL: () => processTreeCpuSeconds(postgresPid) }),
      });
      const threadMeters = workers.map((w, i) => ({ worker: `worker ${i + 1}`, meter: threadCpuMeter(w.pid) }));
      await handle.result();
      cpu = meter.stop();
      threads = threadMeters.map(({ worker, meter }) => ({ worker, use: meter.stop() }));
    },
  });
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  const counters = emulator.counters();
  const history = await historyStats(server.env.client, migrationId);
  await emulator.stop();
  await server.stop();
  return { samples, seconds, counters, history, cpu, threads };
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
  // Calls per sampled second: a few low seconds (stalls, no work) lose budget differently from an even shortfall.
  const perSecond = new Map<number, number>();
  for (let i = samples.indexOf(a) + 1; i <= samples.indexOf(b); i++) {
    const n = samples[i]!.calls - samples[i - 1]!.calls;
    perSecond.set(n, (perSecond.get(n) ?? 0) + 1);
  }
  return {
    seconds,
    perSecond: [...perSecond].sort(([x], [y]) => y - x),
    callsPerSecond: (b.calls - a.calls) / seconds,
    calls: b.calls - a.calls,
    refused: b.refused - a.refused,
  };
}

/** What one schedule reservation costs on each engine (one slot per transaction, one caller), in this run. */
async function reservationCosts(engines: readonly Engine[], postgres: LocalPostgres | undefined) {
  const reservations = 1_000;
  const costs: string[] = [];
  if (engines.includes('sqlite')) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-reservation-'));
    try {
      costs.push(`SQLite ${(await sqliteReservationMs(path.join(dir, 's.sqlite'), reservations)).toFixed(3)} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (postgres) {
    const env = { [DATABASE_ENV.url]: postgres.url, [DATABASE_ENV.password]: postgres.password };
    const db = openDatabase(resolveDatabaseSettings(env));
    try {
      const schedule = await unboundedPgSchedule(db);
      costs.push(`PostgreSQL ${(await pgReservationMs(schedule, reservations)).toFixed(3)} ms`);
    } finally {
      await db.close();
    }
  }
  return costs.join(', ');
}

async function main() {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'both' },
      users: { type: 'string', default: '60' },
      staging: { type: 'string', default: 'sqlite' },
      workers: { type: 'string' },
      paths: { type: 'string', default: 'new' },
    },
  });
  const { mode, users, staging: engines, workers, paths } = Flags.parse(values);
  installWorkerLogger('ERROR');
  const staging = await buildStaging(users, 99);
  const postgres = engines.includes('postgres') ? await startLocalPostgres() : undefined;
  try {
    console.log(
      `zim-migrate migration benchmark, ${users} generated users, Temporal dev server, staging and call schedule on ` +
        `${engines.map((e) => ENGINE_NAME[e]).join(' and ')}, ${new Date().toISOString()}, load average ` +
        loadAverageText()
    );
    console.log(`  one schedule reservation (1 slot, one caller): ${await reservationCosts(engines, postgres)}`);
    if (mode === 'budget' || mode === 'both') await budgetMode(staging, engines, workers ?? [1], postgres);
    if (mode === 'ceiling' || mode === 'both') await ceilingMode(staging, engines, workers ?? [1, 2], postgres, paths);
  } finally {
    await postgres?.stop();
  }
}

const processesLabel = (n: number) => `${n} worker process${n === 1 ? '' : 'es'}`;

async function budgetMode(
  staging: Staging,
  engines: readonly Engine[],
  workers: readonly number[],
  postgres: LocalPostgres | undefined
) {
  const headroom = process.env.ZIM_MIGRATE_BUDGET_HEADROOM ?? String(DEFAULT_BUDGET_HEADROOM_PERCENT);
  for (const engine of engines)
    for (const processes of workers) {
      const r = await runMigration({
        staging,
        limits: true,
        processes,
        postgres: engine === 'postgres' ? postgres : undefined,
      });
      const s = steady(r.samples);
      const total = r.counters.requests;
      console.log(
        `\n[budget] ZIM limits on (20 calls/s per Action), ${processesLabel(processes)}, staging and call schedule ` +
          `on ${ENGINE_NAME[engine]}, budget headroom ${headroom}%; migration took ${r.seconds.toFixed(1)} s`
      );
      console.log(
        `  ImportPeerMsg steady part: ${s.seconds.toFixed(0)} s, ${s.calls} calls, ${s.callsPerSecond.toFixed(2)} ` +
          `calls/s = ${((s.callsPerSecond / 20) * 100).toFixed(1)}% of the 20/s budget; refused as too frequent: ` +
          `${s.refused} (${((s.refused / Math.max(1, s.calls)) * 100).toFixed(2)}%)`
      );
      console.log(`  seconds by calls in them (calls×seconds): ${s.perSecond.map(([n, k]) => `${n}×${k}`).join(' ')}`);
      console.log(`  all refusals by code: ${JSON.stringify(r.counters.refusals)}`);
      console.log(
        `  history: ${r.history.events} events in ${r.history.workflows} workflow runs for ${total} ZIM calls = ` +
          `${(r.history.events / total).toFixed(2)} events per call; largest history ${r.history.largest} events`
      );
    }
}

async function ceilingMode(
  staging: Staging,
  engines: readonly Engine[],
  workers: readonly number[],
  postgres: LocalPostgres | undefined,
  paths: readonly CodePath[]
) {
  // One run: the worker counts, the engines and the bare loop see the same machine load, so their ratios mean something.
  const runs: { engine: Engine; processes: number; path: CodePath; r: Awaited<ReturnType<typeof runMigration>> }[] = [];
  for (const engine of engines)
    for (const processes of workers)
      for (const path of paths)
        runs.push({
          engine,
          processes,
          path,
          r: await runMigration({
            staging,
            limits: false,
            processes,
            postgres: engine === 'postgres' ? postgres : undefined,
            path,
          }),
        });
  const bare = await bareImportLoop(10, 50);
  console.log('\n[ceiling] limits lifted');
  const rates = runs.map(({ engine, processes, path, r }) => {
    const s = steady(r.samples);
    console.log(
      `  ${ENGINE_NAME[engine]}, ${processesLabel(processes)}${paths.length > 1 ? `, ${path} code paths` : ''}: migration ${r.seconds.toFixed(1)} s, ` +
        `${s.callsPerSecond.toFixed(0)} ImportPeerMsg calls/s (steady ${s.seconds.toFixed(0)} s), ` +
        `${(r.counters.requests / r.seconds).toFixed(0)} ZIM calls/s over the whole migration; ` +
        `${(r.history.events / r.counters.requests).toFixed(2)} history events per call, largest history ` +
        `${r.history.largest} events`
    );
    const perCall = r.cpu.map((u) => `${u.name} ${((u.cpuSeconds * 1000) / r.counters.requests).toFixed(2)}`);
    const workersMs = r.cpu
      .filter((u) => u.name.startsWith('worker '))
      .reduce((sum, u) => sum + (u.cpuSeconds * 1000) / r.counters.requests, 0);
    console.log(
      `    CPU: ${renderCpuUse(r.cpu)}; ms per ZIM call: ${perCall.join(', ')}; all workers ${workersMs.toFixed(2)}`
    );
    for (const { worker, use } of r.threads)
      console.log(
        `    ${worker} by thread, ms per ZIM call: ` +
          use.map((t) => `${t.name} ${((t.seconds * 1000) / r.counters.requests).toFixed(2)}`).join(', ')
      );
    return { engine, processes, path, rate: s.callsPerSecond };
  });
  console.log(`  bare undici loop (ZimClient, 50 concurrent): ${bare.toFixed(0)} calls/s`);
  const ratios = rates.map(({ engine, processes, path, rate }) => {
    const one = rates.find((x) => x.engine === engine && x.processes === workers[0] && x.path === path)!.rate;
    return `${ENGINE_NAME[engine]} ${processes} / ${workers[0]} ${(rate / one).toFixed(2)}, / bare ${(rate / bare).toFixed(3)}`;
  });
  console.log(`  ratios: ${ratios.join('; ')} (${cpus().length} cores, load average ${loadAverageText()})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
