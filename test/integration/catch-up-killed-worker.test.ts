/**
 * A catch-up round whose worker process is SIGKILLed in the middle (issue #13): another worker takes over, and the
 * round ends with ZIM holding exactly the later export, nothing lost, nothing sent twice (a real Temporal dev
 * server, `zim-migrate worker` processes, the emulator over HTTP, ZIM faults on as well).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stageRound } from '../../src/catch-up/stage-round';
import { roundMigrationId } from '../../src/shared/rounds';
import { progressQuery, workflowIds } from '../../src/shared/workflow-api';
import { openStaging } from '../../src/staging';
import { evolveExport } from '../../src/synthetic/evolve';
import { compareFinalState, compareWithEmulator, isExact } from '../../src/testing/exact-state';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import { buildStaging, FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import { spawnWorkerProcess, workerProcessEnv, type WorkerProcess } from '../../src/testing/worker-processes';
import type { ZimEmulator } from '../../src/zim-emulator';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

describe('a catch-up round survives its worker being killed', () => {
  let t: TemporalTestEnv;
  let emulator: ZimEmulator;
  const workers: WorkerProcess[] = [];

  before(async () => {
    [t, emulator] = await Promise.all([startTemporalTestEnv(), startFastEmulator()]);
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop(1_000)));
    await emulator?.stop();
    await t?.teardown();
  });

  it('resumes on another worker and lands every change exactly once', async () => {
    const built = await buildStaging(60, 11, {
      gen: ['--groups', '6', '--messages', '900', '--group-messages', '300'],
    });
    const staging = built.fresh();
    const first = await migrateIntoEmulator({
      connection: t.server.env.nativeConnection,
      client: t.client,
      emulator,
      stagingPath: staging,
      migrationId: 'killed',
      budgets: FAST_BUDGETS,
    });
    assert.equal(first.status, 'completed');

    const later = await evolveExport({
      from: path.join(built.dir, 'export'),
      out: path.join(built.dir, 'export-2'),
      seed: 12,
      incremental: false,
      change: 0.3,
    });
    const staged = await stageRound({
      staging,
      exportDir: later.dir,
      asOfMs: Date.now(),
      rejectsFile: path.join(built.dir, 'rejects.ndjson'),
    });
    assert.equal(staged.kind, 'staged');

    const env = workerProcessEnv({
      temporalAddress: t.server.address,
      taskQueue: 'killed-round',
      zimBaseUrl: emulator.url,
      budgetDbPath: path.join(mkdtempSync(path.join(tmpdir(), 'budget-')), 'b.sqlite'),
    });
    const spawn = async () => {
      const w = spawnWorkerProcess(env);
      workers.push(w);
      await w.ready();
      return w;
    };
    const victim = await spawn();
    emulator.setFaults({ seed: 3, commitThenDropRate: 0.03, resetRate: 0.02 });
    const handle = await t.client.workflow.start('roundWorkflow', {
      taskQueue: 'killed-round',
      workflowId: workflowIds.migration(roundMigrationId('killed', 1)),
      args: [{ migrationId: 'killed', stagingPath: staging, round: 1, budgets: FAST_BUDGETS }],
    });
    // Killed once the round is well under way: some ops landed, and the message stages have begun or are close.
    for (;;) {
      const p = await handle.query(progressQuery).catch(() => undefined);
      const done = p?.stages.reduce((n, s) => n + s.done, 0) ?? 0;
      if (done >= 40) break;
      assert.notEqual(p?.status, 'completed', 'the round ended before the worker could be killed');
      await new Promise((r) => setTimeout(r, 100));
    }
    victim.child.kill('SIGKILL');
    await victim.exited;
    await spawn();
    const result = (await handle.result()) as { status: string };
    emulator.setFaults({});
    assert.equal(result.status, 'completed');

    const store = await openStaging(staging, { readonly: true });
    try {
      const exactness = await compareWithEmulator(store, emulator);
      assert.ok(isExact(exactness), JSON.stringify(exactness));
      assert.deepEqual(await compareFinalState(store, emulator), []);
      const counts = await store.ledgerCounts();
      for (const stage of ['round', 'peer-messages', 'group-messages', 'groups', 'verify'] as const) {
        assert.equal(counts[stage]?.failed ?? 0, 0, `${stage}: nothing failed`);
        assert.equal(counts[stage]?.pending ?? 0, 0, `${stage}: nothing left pending`);
      }
    } finally {
      await store.close();
    }
  });
});
