/**
 * The verify stage alone, against an emulator that holds nothing: the same reads as after a migration (one page
 * each, or a refusal for a group never created), each Action at `--rate` calls/s in our schedule and the emulator.
 * Prints the stage's time against its plan (the slowest Action at its budget) and each read Action's calls/s
 * while it had work: whether verify keeps all its budgets full at once. A quick check of what bench:makespan
 * measures in its last stage, without the ten minutes before it.
 *
 *   npm run bench:verify -- [--users 3000] [--messages 10000] [--group-messages 10000] [--rate 50]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startDevServer } from '../dev-server/start-dev-server';
import { stageSeconds } from '../shared/eta';
import { STAGE_ACTIONS } from '../shared/stages';
import { openStaging } from '../staging';
import { buildStaging, budgetsAt } from '../testing/migration-rig';
import { migrateIntoEmulator } from '../testing/migrate-into-emulator';
import { installWorkerLogger } from '../worker/worker-logger';
import { camelCaseKeys, wholeNumber } from './bench-flags';
import { startEmulatorAtRate, budgetUse, callSample, renderBudgetUse, type CallSeries } from './budget-use';
import { loadAverageText } from './process-stats';

const Flags = z.object({
  users: wholeNumber('--users', 2),
  messages: wholeNumber('--messages', 0),
  groupMessages: wholeNumber('--group-messages', 0),
  rate: wholeNumber('--rate', 1).max(10_000),
  seed: wholeNumber('--seed', 0),
});

async function main() {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '3000' },
      messages: { type: 'string', default: '10000' },
      'group-messages': { type: 'string', default: '10000' },
      rate: { type: 'string', default: '50' },
      seed: { type: 'string', default: '7' },
    },
  });
  const o = Flags.parse(camelCaseKeys(values));
  installWorkerLogger('ERROR');
  console.log(`zim-migrate verify budget use, ${new Date().toISOString()}, load average ${loadAverageText()}`);
  const staging = await buildStaging(o.users, o.seed, {
    gen: ['--messages', String(o.messages), '--group-messages', String(o.groupMessages)],
  });
  const stagingPath = staging.fresh();
  const store = await openStaging(stagingPath); // writable: the first open indexes the pages

  const work = (await store.stageWork()).verify;
  await store.close();

  const server = await startDevServer();
  const emulator = await startEmulatorAtRate(o.rate);
  const series: CallSeries = [];
  let t0 = 0;
  try {
    const result = await migrateIntoEmulator({
      connection: server.env.nativeConnection,
      client: server.env.client,
      emulator,
      stagingPath,
      migrationId: 'bench-verify',
      budgets: budgetsAt(o.rate),
      input: { stages: ['verify'] },
      workerProcesses: { count: 1, temporalAddress: server.address },
      during: async (handle, emu) => {
        t0 = Date.now();
        const sampler = setInterval(() => series.push(callSample(emu.counters())), 1_000);
        try {
          await handle.result();
        } finally {
          clearInterval(sampler);
        }
      },
    });
    const verify = result.stages.find((s) => s.stage === 'verify');
    const from = verify?.startedAt ?? t0;
    const to = verify?.finishedAt ?? Date.now();
    const planned = stageSeconds(work.actions, () => o.rate);
    const actual = (to - from) / 1000;
    console.log(
      `verify: ${actual.toFixed(0)} s against ${planned.toFixed(0)} s planned (actual / planned = ` +
        `${(actual / planned).toFixed(2)}); ${work.pages} pages, ${verify?.calls ?? 0} reads, ` +
        `${((verify?.calls ?? 0) / actual).toFixed(1)} reads/s; migration ${result.status}`
    );
    for (const a of work.actions)
      console.log(`  planned ${a.action}: ${a.calls} calls, ${(a.calls / o.rate).toFixed(0)} s`);
    console.log('read Actions while each had work:');
    for (const action of STAGE_ACTIONS.verify) {
      const use = budgetUse(series, action, o.rate, { from, to });
      if (use) console.log(`  ${renderBudgetUse(action, use, o.rate)}`);
    }
    console.log(`load average now ${loadAverageText()}`);
  } finally {
    await emulator.stop();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
