/**
 * Budgets of the Actions only a catch-up round calls (issue #13), through the CLI with a real Temporal dev server
 * and the ZIM emulator over HTTP: `catch-up --budget DeleteFriends=N` plans the round's ETA at N and the round
 * sends at N (the emulator's call counter, sampled every few ms); `zim-migrate budget <migration> Action=N` reaches
 * the running round and takes effect at once.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildStaging, FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import type { MigrationProgress } from '../../src/shared/workflow-api';
import type { ZimEmulator } from '../../src/zim-emulator';
import { runInProcessWorker } from '../helpers/in-process-worker';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');

/** When each DeleteFriends call reached the emulator (ms), sampled from its counter. */
function sampleCalls(emulator: ZimEmulator, action: 'DeleteFriends') {
  const times: number[] = [];
  let seen = emulator.counters().calls[action] ?? 0;
  const timer = setInterval(() => {
    const now = emulator.counters().calls[action] ?? 0;
    for (; seen < now; seen++) times.push(Date.now());
  }, 5);
  return {
    times,
    stop: () => clearInterval(timer),
  };
}

/** The most calls within any one second. */
function busiestSecond(times: number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('zim-migrate catch-up --budget and budget: the round Actions', () => {
  let t: TemporalTestEnv;
  let emulator: ZimEmulator;
  let dir: string;
  let staging: string;
  let env: NodeJS.ProcessEnv;
  let stopWorker: () => Promise<void>;
  const cli = async (...args: string[]) =>
    (await exec(process.execPath, [BIN, ...args], { env, cwd: dir, maxBuffer: 16 << 20 })).stdout;

  before(async () => {
    const built = await buildStaging(60, 3, {
      gen: ['--groups', '4', '--messages', '100', '--group-messages', '40'],
    });
    dir = built.dir;
    staging = built.fresh();
    [t, emulator] = await Promise.all([startTemporalTestEnv(), startFastEmulator()]);
    const taskQueue = 'catch-up-budgets';
    stopWorker = await runInProcessWorker(t, emulator, taskQueue);
    env = { ...process.env, TEMPORAL_ADDRESS: t.server.address, ZIM_MIGRATE_TASK_QUEUE: taskQueue };
    const budgets = Object.entries(FAST_BUDGETS).flatMap(([a, r]) => ['--budget', `${a}=${r}`]);
    await cli('start', staging, '--name', 'acme', ...budgets);
    await cli('status', 'acme', '--watch');
  });
  after(async () => {
    await stopWorker?.();
    await emulator?.stop();
    await t?.teardown();
  });

  it('plans and runs a round at the DeleteFriends budget given', async (ctx) => {
    await cli('gen', '--evolve', 'export', '--out', 'export-2', '--seed', '2', '--change', '0.5');
    const plan = JSON.parse(
      await cli('catch-up', staging, 'export-2', '--dry-run', '--json', '--budget', 'DeleteFriends=4')
    ) as {
      difference: { calls: Record<string, number> };
      seconds: Record<string, number>;
    };
    const calls = plan.difference.calls.DeleteFriends!;
    assert.ok(calls >= 12, `enough DeleteFriends calls to measure a rate: ${calls}`);
    assert.equal(plan.seconds.DeleteFriends, calls / 4, 'the plan times DeleteFriends at the budget given');

    const sampled = sampleCalls(emulator, 'DeleteFriends');
    const out = await cli('catch-up', staging, 'export-2', '--budget', 'DeleteFriends=4').finally(sampled.stop);
    assert.match(out, / acme-round-1 COMPLETED/);
    const { times } = sampled;
    // A page that mixes two-way and one-way removals is sent as two calls, which the plan counts as one.
    assert.equal(times.length, calls, `${times.length} DeleteFriends calls, ${calls} planned`);
    // At 4/s (98% of it, the schedule's headroom): never more than 4 in a second (one more for the sampling), and
    // the calls span (n-1)/4 s. At ZIM's default 20/s they would all go within about 2 s.
    assert.ok(busiestSecond(times) <= 5, `at most 4 calls a second: ${busiestSecond(times)}`);
    const span = (times[times.length - 1]! - times[0]!) / 1000;
    ctx.diagnostic(
      `DeleteFriends at 4/s: ${times.length} calls over ${span.toFixed(1)} s, busiest second ${busiestSecond(times)}`
    );
    assert.ok(span >= ((times.length - 1) / 4) * 0.9, `${times.length} calls over ${span} s`);

    const progress = JSON.parse(await cli('status', 'acme-round-1', '--json')) as MigrationProgress;
    const unfriend = progress.stages.find((s) => (s.stage as string) === 'unfriend');
    assert.deepEqual([unfriend?.action, unfriend?.budget], ['DeleteFriends', 4]);
  });

  it('applies a live budget change to a running round', async (ctx) => {
    await cli('gen', '--evolve', 'export-2', '--out', 'export-3', '--seed', '3', '--change', '0.5');
    const sampled = sampleCalls(emulator, 'DeleteFriends');
    try {
      await cli('catch-up', staging, 'export-3', '--no-watch', '--budget', 'DeleteFriends=1');
      // A few calls at 1/s, then the operator raises the budget.
      const deadline = Date.now() + 60_000;
      while (sampled.times.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(sampled.times.length >= 3, 'the round reached DeleteFriends');
      assert.ok(busiestSecond(sampled.times) <= 2, `1/s before the change: ${busiestSecond(sampled.times)}`);
      const changed = await cli('budget', 'acme', 'DeleteFriends=15');
      const changedAt = Date.now();
      assert.match(changed, /Budgets of acme-round-2 now: .*DeleteFriends=15\/s/);
      const result = (await t.client.workflow.getHandle('zim-migrate/acme-round-2').result()) as { status: string };
      assert.equal(result.status, 'completed');
      const after = sampled.times.filter((x) => x > changedAt);
      // The call whose slot is already reserved keeps it (callers reserve at most RESERVE_AHEAD_MS ahead, not the
      // round's 32 pages in flight); the rest go at up to 15/s, which 1/s never allows.
      const before = sampled.times.length - after.length;
      ctx.diagnostic(
        `DeleteFriends 1/s then 15/s: ${before} calls before the change, ${after.length} after over ` +
          `${((after[after.length - 1]! - changedAt) / 1000).toFixed(1)} s, busiest second after ${busiestSecond(after)}`
      );
      assert.ok(after.length >= 12, `calls after the change: ${after.length}`);
      assert.ok(busiestSecond(after) >= 5, `faster after the change: ${busiestSecond(after)} in the busiest second`);
    } finally {
      sampled.stop();
    }

    // Nothing of the migration runs now: the change cannot reach a worker, and says how to give it.
    await assert.rejects(cli('budget', 'acme', 'DeleteFriends=3'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /no catch-up round of it runs.*--budget DeleteFriends=3/);
      return true;
    });
  });

  it('refuses a bad budget for a round Action, naming the Action and the fix', async () => {
    const fails = async (args: string[], message: RegExp) =>
      assert.rejects(cli(...args), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2);
        assert.match(err.stderr, message);
        return true;
      });
    await fails(
      ['catch-up', staging, 'export-3', '--dry-run', '--budget', 'DismissGroup=0'],
      /--budget DismissGroup=0: must be calls per second, a number greater than 0/
    );
    await fails(['budget', 'acme', 'DeleteFriend=3'], /expected Action=callsPerSecond.*Actions: .*DeleteFriends/);
  });
});
