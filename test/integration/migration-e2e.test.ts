/**
 * Whole migrations: staging built by the CLI, a real dev server, the real worker and activities, the emulator over
 * HTTP. The emulator must end holding exactly what staging says, under faults too.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openStaging } from '../../src/staging';
import { compareWithEmulator, isExact } from '../../src/testing/exact-state';
import { migrateIntoEmulator, type MigrateIntoEmulatorOptions } from '../../src/testing/migrate-into-emulator';
import type { FaultsInput } from '../../src/zim-emulator';
import { pauseSignal, resumeSignal } from '../../src/shared/workflow-api';
import { buildStaging, FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('end-to-end migration into the ZIM emulator', () => {
  let t: TemporalTestEnv;
  let staging: Awaited<ReturnType<typeof buildStaging>>;
  /**
   * Half the users for the faults (still 466 messages and some 25 commit-then-drops): a fault holds its owner's other
   * lanes until its retry (workflows/entity-sequence.ts hands results out in schedule order), so the run grows with
   * the longest owner's history rather than with the calls.
   */
  let smaller: Awaited<ReturnType<typeof buildStaging>>;
  before(async () => {
    [t, staging, smaller] = await Promise.all([
      startTemporalTestEnv(),
      buildStaging(24, 11, { gen: ['--groups', '3'] }),
      buildStaging(12, 11, { gen: ['--groups', '3'] }),
    ]);
  });
  after(async () => {
    await t?.teardown();
  });

  async function migrate(
    name: string,
    faults: FaultsInput = {},
    during?: MigrateIntoEmulatorOptions['during'],
    built = staging
  ) {
    const emulator = await startFastEmulator(faults);
    const stagingPath = built.fresh();
    try {
      const result = await migrateIntoEmulator({
        connection: t.server.env.nativeConnection,
        client: t.client,
        emulator,
        stagingPath,
        migrationId: name,
        budgets: FAST_BUDGETS,
        during,
      });
      const store = await openStaging(stagingPath);
      const exactness = await compareWithEmulator(store, emulator);
      await store.close();
      return { result, exactness, counters: emulator.counters(), stagingPath };
    } finally {
      await emulator.stop();
    }
  }

  it('lands every record exactly once and verifies it', async () => {
    const { result, exactness, counters, stagingPath } = await migrate('clean');
    assert.equal(result.status, 'completed');
    assert.ok(isExact(exactness), JSON.stringify(exactness));
    assert.ok(exactness.messages > 300, `too small a dataset: ${exactness.messages} messages`);
    for (const stage of result.stages) {
      assert.equal(stage.status, 'done', stage.stage);
      assert.equal(stage.failed, 0, `${stage.stage} failed ${stage.failed}`);
      // Live progress (the children's reports, summed by the stage) ends exactly at the plan.
      assert.equal(stage.done + stage.skipped, stage.planned, `${stage.stage}: ${JSON.stringify(stage)}`);
    }
    assert.equal(counters.refusals['660300005'] ?? 0, 0, 'the call schedule let calls exceed the budget');

    // The report reads the same story back from the ledger, with durations from Temporal.
    const { stdout } = await exec(process.execPath, [BIN, 'report', stagingPath, '--name', 'clean', '--json'], {
      env: { ...process.env, TEMPORAL_ADDRESS: t.server.address },
    });
    const report = JSON.parse(stdout) as {
      stages: { stage: string; planned: number; done: number; seconds?: number }[];
      failures: unknown[];
    };
    assert.deepEqual(report.failures, []);
    for (const s of report.stages) {
      assert.equal(s.done, s.planned, `report: ${s.stage}`);
      assert.ok(s.seconds !== undefined, `report: no duration for ${s.stage}`);
    }
  });

  it('pause stops every ZIM call within 3 s; resume finishes exactly', async () => {
    let frozenAt = -1;
    const { result, exactness } = await migrate('pause', {}, async (handle, emulator) => {
      while ((emulator.counters().calls.ImportPeerMsg ?? 0) < 100) await sleep(20);
      await handle.signal(pauseSignal, { reason: 'test' });
      // Calls in flight (at most one per running child or page) finish; on a loaded 2-core machine that can take
      // a moment, so the bound is 3 s. After it, not one call for 2 s.
      await sleep(3_000);
      frozenAt = emulator.counters().requests;
      const trace: number[] = [];
      for (let i = 0; i < 10; i++) {
        await sleep(200);
        trace.push(emulator.counters().requests - frozenAt);
      }
      assert.deepEqual(trace, Array(10).fill(0), `ZIM calls after the pause (+3 s, every 200 ms): ${trace.join(',')}`);
      await handle.signal(resumeSignal);
    });
    assert.ok(frozenAt > 0);
    assert.equal(result.status, 'completed');
    assert.ok(isExact(exactness), JSON.stringify(exactness));
  });

  it('stays exact under commit-then-drop, 5xx, connection resets and bursts of "too frequent"', async () => {
    const { result, exactness, counters } = await migrate(
      'faults',
      {
        seed: 5,
        commitThenDropRate: 0.05,
        http5xxRate: 0.03,
        resetRate: 0.03,
        tooFrequentBurst: { startRate: 0.005, length: 3 },
      },
      undefined,
      smaller
    );
    assert.equal(result.status, 'completed');
    assert.ok(
      counters.faults.commitThenDrop > 5,
      `too few commit-then-drop faults: ${JSON.stringify(counters.faults)}`
    );
    assert.ok(isExact(exactness), JSON.stringify(exactness));
    const verify = result.stages.find((s) => s.stage === 'verify')!;
    assert.equal(verify.failed, 0);
  });
});
