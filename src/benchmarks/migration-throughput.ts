/**
 * Whole migrations against the emulator, measured from the emulator's own counters (sampled every second):
 *   budget:  ZIM's real limits (20 calls/s per Action). Achieved ImportPeerMsg calls/s over the steady part of the
 *            one-to-one stage against the budget, and the share refused as "too frequent".
 *   ceiling: limits lifted. ZIM calls/s through one worker and the Temporal dev server, next to a bare undici loop
 *            (the ZIM client alone, same emulator, same concurrency) in the same run.
 * Both print Temporal history events per ZIM call and the largest single history.
 *
 *   npm run bench:migration -- [--mode budget|ceiling|both] [--users 60]
 */
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { startDevServer } from '../dev-server/start-dev-server';
import { cpuMsPer, cpuSnapshot, type CpuSnapshot } from './process-cpu';
import { MIGRATION_ACTIONS } from '../shared/stages';
import { buildStaging, TEST_APP_ID, TEST_SECRET } from '../testing/migration-rig';
import { migrateIntoEmulator } from '../testing/migrate-into-emulator';
import { ZimClient } from '../zim-client';
import { startZimEmulator, type ZimEmulator } from '../zim-emulator';

interface Sample {
  at: number;
  cpu: CpuSnapshot;
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

async function runMigration(opts: { users: number; limits: boolean }) {
  const server = await startDevServer();
  const staging = await buildStaging(opts.users, 99);
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
      cpu: cpuSnapshot(),
      calls: c.calls.ImportPeerMsg ?? 0,
      refused: Object.values(c.refusalsByAction.ImportPeerMsg ?? {}).reduce((a, b) => a + b, 0),
    });
  }, 1_000);
  const started = Date.now();
  const migrationId = `bench-${opts.limits ? 'budget' : 'ceiling'}`;
  await migrateIntoEmulator({
    connection: server.env.nativeConnection,
    client: server.env.client,
    emulator,
    stagingPath: staging.fresh(),
    migrationId,
    budgets,
  });
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  const counters = emulator.counters();
  const history = await historyStats(server.env.client, migrationId);
  await emulator.stop();
  await server.stop();
  return { samples, seconds, counters, history };
}

/** Calls/s over the steady part: the seconds ImportPeerMsg was being called, minus 5 s at each end. */
function steady(samples: Sample[]) {
  const active = samples.filter((s, i) => i > 0 && s.calls > samples[i - 1]!.calls);
  const first = samples.indexOf(active[0]!) + 5;
  const last = samples.indexOf(active[active.length - 1]!) - 5;
  const a = samples[Math.max(0, first)]!;
  const b = samples[Math.max(first, last)]!;
  const seconds = (b.at - a.at) / 1000;
  return {
    seconds,
    callsPerSecond: (b.calls - a.calls) / seconds,
    calls: b.calls - a.calls,
    refused: b.refused - a.refused,
    cpuMsPerCall: cpuMsPer(b.calls - a.calls, a.cpu, b.cpu),
  };
}

async function bareLoop(seconds: number, concurrency: number): Promise<number> {
  const emulator: ZimEmulator = await startZimEmulator({
    appId: TEST_APP_ID,
    serverSecret: TEST_SECRET,
    rateLimits: { enabled: false, perSecond: {}, perGroupPerSecond: {}, codes: {} },
  });
  const client = new ZimClient({ baseUrl: emulator.url, appId: TEST_APP_ID, serverSecret: TEST_SECRET });
  const senders = Array.from({ length: concurrency }, (_, i) => `s${i}`);
  await client.userRegister({ UserInfo: [...senders, 'b'].map((UserId) => ({ UserId })) });
  const end = Date.now() + seconds * 1000;
  let calls = 0;
  // One conversation per loop: imports within a conversation must go oldest first, as in a migration.
  await Promise.all(
    senders.map(async (sender) => {
      let time = Date.now() - 86_400_000;
      while (Date.now() < end) {
        await client.importPeerMsg({
          FromUserId: sender,
          ToUserId: 'b',
          ImportedUserId: sender,
          MessageType: 1,
          Priority: 2,
          MessageBody: { Message: 'hello' },
          SendMessageTime: time++,
        });
        calls++;
      }
    })
  );
  await client.close();
  await emulator.stop();
  return calls / seconds;
}

async function main() {
  const { values } = parseArgs({
    options: { mode: { type: 'string', default: 'both' }, users: { type: 'string', default: '60' } },
  });
  const users = Number(values.users);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  console.log(
    `zim-migrate migration benchmark, ${users} generated users, one worker, Temporal dev server, ${new Date().toISOString()}`
  );

  if (values.mode === 'budget' || values.mode === 'both') {
    const r = await runMigration({ users, limits: true });
    const s = steady(r.samples);
    const total = r.counters.requests;
    console.log(`\n[budget] ZIM limits on (20 calls/s per Action); migration took ${r.seconds.toFixed(1)} s`);
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

  if (values.mode === 'ceiling' || values.mode === 'both') {
    const r = await runMigration({ users, limits: false });
    const s = steady(r.samples);
    const bare = await bareLoop(10, 50);
    console.log(`\n[ceiling] limits lifted; migration took ${r.seconds.toFixed(1)} s`);
    console.log(
      `  through Temporal (one worker, dev server): ${s.callsPerSecond.toFixed(0)} ImportPeerMsg calls/s (steady ${s.seconds.toFixed(0)} s)`
    );
    console.log(`  bare undici loop (ZimClient, 50 concurrent):  ${bare.toFixed(0)} calls/s`);
    console.log(`  ratio Temporal / bare: ${(s.callsPerSecond / bare).toFixed(3)}`);
    const cpu = Object.entries(s.cpuMsPerCall).map(([name, ms]) => `${name} ${ms.toFixed(2)}`);
    console.log(`  CPU ms per ZIM call over the steady part (emulator in the worker process): ${cpu.join(', ')}`);
    console.log(
      `  history: ${(r.history.events / r.counters.requests).toFixed(2)} events per ZIM call; largest history ${r.history.largest} events`
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
