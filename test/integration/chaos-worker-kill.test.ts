/**
 * Chaos: the worker process is killed with SIGKILL at random moments during one migration and restarted each time.
 * Calls in flight die with it (some after ZIM committed them); Temporal retries them on the next worker, which
 * reconciles against ZIM before re-sending. The emulator must end exact. The kill moments come from a printed seed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SqliteMigrationData } from '../../src/staging/sqlite/migration-data';
import { workflowIds } from '../../src/shared/workflow-api';
import { compareWithEmulator, isExact } from '../../src/testing/exact-state';
import type { ZimEmulator } from '../../src/zim-emulator';
import { migrationWorkflow } from '../../workflows';
import { buildStaging, FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import { spawnWorkerProcess, workerProcessEnv } from '../../src/testing/worker-processes';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const KILLS = 3;

/** A small seeded generator, so a failing run can be replayed with CHAOS_SEED. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

describe('chaos: worker killed with SIGKILL mid-migration', () => {
  let t: TemporalTestEnv;
  let emulator: ZimEmulator;
  let staging: Awaited<ReturnType<typeof buildStaging>>;
  before(async () => {
    [t, staging, emulator] = await Promise.all([startTemporalTestEnv(), buildStaging(16, 21), startFastEmulator()]);
  });
  after(async () => {
    await emulator?.stop();
    await t?.teardown();
  });

  it(`ends exact after ${KILLS} kills and restarts`, async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
    const next = random(seed);
    const stagingPath = staging.fresh();
    const taskQueue = 'chaos-kill';
    const env = workerProcessEnv({ temporalAddress: t.server.address, taskQueue, zimBaseUrl: emulator.url });
    const startWorker = () => spawnWorkerProcess(env);
    let worker = startWorker();
    const handle = await t.client.workflow.start(migrationWorkflow, {
      taskQueue,
      workflowId: workflowIds.migration('chaos'),
      args: [{ migrationId: 'chaos', stagingPath, budgets: FAST_BUDGETS }],
    });

    let kills = 0;
    const killer = (async () => {
      for (; kills < KILLS;) {
        // Wait until ZIM calls are flowing, then kill at a random moment within the next few seconds.
        const before = emulator.counters().requests;
        while (emulator.counters().requests < before + 20) await new Promise((r) => setTimeout(r, 50));
        await new Promise((r) => setTimeout(r, 200 + next() * 2_000));
        const description = await handle.describe();
        if (description.status.name !== 'RUNNING') return;
        worker.child.kill('SIGKILL');
        kills++;
        await worker.exited;
        worker = startWorker();
      }
    })();

    try {
      const result = await handle.result();
      await killer;
      const data = new SqliteMigrationData(stagingPath);
      const exactness = await compareWithEmulator(data, emulator);
      await data.close();
      console.log(
        `chaos: ${kills} kills, ${exactness.messages} messages, ${exactness.lost} lost, ` +
          `${exactness.duplicated} duplicated (CHAOS_SEED=${seed})`
      );
      assert.equal(result.status, 'completed');
      assert.ok(kills >= 2, `only ${kills} kills happened before the migration ended (seed ${seed})`);
      assert.ok(isExact(exactness), `seed ${seed}: ${JSON.stringify(exactness)}`);
    } finally {
      worker.child.kill('SIGKILL');
    }
  });
});
