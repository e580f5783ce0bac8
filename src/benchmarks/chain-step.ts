/**
 * The time of one chain step: one message import of a conversation copy (slot in the call schedule, ZIM call,
 * ledger write, local activity round trip to its workflow) before the next may start. Two users and one long
 * conversation between them, so the one-to-one stage is two chains (one per owner's copy) side by side and nothing
 * else; budgets lifted in the call schedule and the emulator, one `zim-migrate worker` process as in production.
 * Prints ms per step over the chain's steady part (first and last 5% of its calls left out), which `plan` uses as
 * its default step time (DEFAULT_STEP_MS in src/shared/chains.ts; docs/benchmarks.md).
 *
 *   npm run bench:chain -- [--messages 1500] [--seed 3]
 *
 * With `--users N` (more than 2), optionally `--shape real`, the same stage over many owners: calls/s every 10 s,
 * worker CPU per call and the chain term, to tell a chain-bound stage (a long tail at one chain's pace) from a
 * CPU-bound one (the worker's cores full, calls/s flat below the budget).
 *
 *   npm run bench:chain -- --users 1500 --messages 8000 --shape real
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startDevServer } from '../dev-server/start-dev-server';
import { DEFAULT_STEP_MS } from '../shared/chains';
import { MIGRATION_ACTIONS } from '../shared/stages';
import { openStaging } from '../staging';
import { buildStaging, TEST_APP_ID, TEST_SECRET } from '../testing/migration-rig';
import { migrateIntoEmulator } from '../testing/migrate-into-emulator';
import { startZimEmulator } from '../zim-emulator';
import { installWorkerLogger } from '../worker/worker-logger';
import { camelCaseKeys, wholeNumber } from './bench-flags';
import { cpuMeter, devServerPid, loadAverageText, renderCpuUse, type CpuUse } from './process-stats';

const Flags = z.object({
  messages: wholeNumber('--messages', 100),
  seed: wholeNumber('--seed', 0),
  users: wholeNumber('--users', 2),
  shape: z.enum(['synthetic', 'real'], { error: '--shape: synthetic or real' }),
});

/** When the emulator had seen `calls` ImportPeerMsg calls (sampled every few ms). */
interface Sample {
  at: number;
  calls: number;
}

/** The first sample at which at least `calls` calls had been made. */
const reached = (samples: readonly Sample[], calls: number) => samples.find((s) => s.calls >= calls)!;

async function main() {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '1500' },
      seed: { type: 'string', default: '3' },
      users: { type: 'string', default: '2' },
      shape: { type: 'string', default: 'synthetic' },
    },
  });
  const o = Flags.parse(camelCaseKeys(values));
  installWorkerLogger('ERROR');
  // Two users: every one-to-one message is in their one conversation; no groups, so no group stages.
  const real = o.shape === 'real' ? ['--shape', 'real'] : [];
  const staging = await buildStaging(o.users, o.seed, {
    gen: ['--messages', String(o.messages), '--groups', '0', ...real],
    plan: o.shape === 'real' ? ['--retention-days', '10000', '--exclude-errors'] : [],
  });
  const store = await openStaging(staging.planned, { readonly: true });
  const { plan } = await store.meta();
  await store.close();
  const peer = plan.actions.find((a) => a.action === 'ImportPeerMsg')!;
  const chain = peer.chainSteps ?? 0;

  const server = await startDevServer();
  const emulator = await startZimEmulator({
    appId: TEST_APP_ID,
    serverSecret: TEST_SECRET,
    rateLimits: { enabled: false, perSecond: {}, perGroupPerSecond: {}, codes: {} },
  });
  const samples: Sample[] = [];
  let cpu: CpuUse = [];
  try {
    await migrateIntoEmulator({
      connection: server.env.nativeConnection,
      client: server.env.client,
      emulator,
      stagingPath: staging.fresh(),
      migrationId: 'bench-chain',
      budgets: Object.fromEntries(MIGRATION_ACTIONS.map((a) => [a, 100_000])),
      input: { stages: ['accounts', 'peer-messages'] },
      workerProcesses: { count: 1, temporalAddress: server.address },
      during: async (handle, emu, [worker]) => {
        const meter = cpuMeter({ worker: worker!.pid, 'dev server': devServerPid(), 'benchmark + emulator': 'self' });
        const sampler = setInterval(
          () => samples.push({ at: performance.now(), calls: emu.counters().calls.ImportPeerMsg ?? 0 }),
          5
        );
        try {
          await handle.result();
        } finally {
          clearInterval(sampler);
          cpu = meter.stop();
        }
      },
    });
  } finally {
    await emulator.stop();
    await server.stop();
  }

  const calls = samples[samples.length - 1]?.calls ?? 0;
  if (o.users > 2) return printManyOwners(o, samples, chain, cpu);
  // Both chains advance together; the steady part leaves out their start and the end of the shorter one.
  const from = reached(samples, Math.ceil(calls * 0.05));
  const to = reached(samples, Math.floor(calls * 0.9));
  const steps = ((to.calls - from.calls) / calls) * chain;
  const stepMs = (to.at - from.at) / steps;
  const whole = (reached(samples, calls).at - reached(samples, 1).at) / chain;
  console.log(
    `zim-migrate chain step benchmark, ${new Date().toISOString()}, load average ${loadAverageText()} ` +
      `(the machine's other work slows steps: say so with the figure)`
  );
  console.log(
    `  one conversation of ${o.messages} messages between 2 users: ${calls} ImportPeerMsg calls, the longest ` +
      `owner copy ${chain} steps; budgets lifted, 1 worker process`
  );
  console.log(
    `  step time: ${stepMs.toFixed(1)} ms over the steady part (${steps.toFixed(0)} steps), ${whole.toFixed(1)} ms ` +
      `over the whole chain; plan's default DEFAULT_STEP_MS = ${DEFAULT_STEP_MS} ms`
  );
  console.log(
    `  CPU: ${renderCpuUse(cpu)}; ms per call: ` +
      cpu.map((u) => `${u.name} ${((u.cpuSeconds * 1000) / Math.max(1, calls)).toFixed(2)}`).join(', ')
  );
}

/** Many owners: the stage's pace over time, its CPU per call, and what the chain term says it could take. */
function printManyOwners(o: z.infer<typeof Flags>, samples: readonly Sample[], chain: number, cpu: CpuUse) {
  const calls = samples[samples.length - 1]?.calls ?? 0;
  const first = reached(samples, 1);
  const last = reached(samples, calls);
  const seconds = (last.at - first.at) / 1000;
  const every10: string[] = [];
  for (let t = first.at; t < last.at; t += 10_000) {
    const a = samples.find((s) => s.at >= t)!;
    const b = samples.find((s) => s.at >= t + 10_000) ?? last;
    every10.push(((b.calls - a.calls) / ((b.at - a.at) / 1000 || 1)).toFixed(0));
  }
  console.log(
    `zim-migrate chain benchmark, many owners, ${new Date().toISOString()}, load average ${loadAverageText()}\n` +
      `  ${o.users} users (${o.shape} shape), ${o.messages} one-to-one messages: ${calls} ImportPeerMsg calls in ` +
      `${seconds.toFixed(0)} s = ${(calls / seconds).toFixed(1)} calls/s, budgets lifted, 1 worker process\n` +
      `  calls/s every 10 s: ${every10.join(' ')}\n` +
      `  longest owner copy ${chain} steps: × ${DEFAULT_STEP_MS} ms = ${((chain * DEFAULT_STEP_MS) / 1000).toFixed(0)} s\n` +
      `  CPU: ${renderCpuUse(cpu)}; ms per call: ` +
      cpu.map((u) => `${u.name} ${((u.cpuSeconds * 1000) / Math.max(1, calls)).toFixed(2)}`).join(', ')
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
