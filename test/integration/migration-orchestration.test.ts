/**
 * The orchestration alone, on a real dev server: stage order, exactly-once steps across forced continue-as-new,
 * pause/resume/cancel reaching every child. Activities are in-memory fakes here; the end-to-end tests against the
 * ZIM emulator live in migration-e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MigrationActivities } from '../../activities/contract';
import { STAGES, STAGE_DEPENDENCIES, type Stage } from '../../src/shared/stages';
import { fakeMigrationActivities as fakeActivities } from '../../src/testing/fake-migration-activities';
import {
  cancelSignal,
  pauseSignal,
  progressQuery,
  resumeSignal,
  setBudgetUpdate,
  workflowIds,
} from '../../src/shared/workflow-api';
import { migrationWorkflow } from '../../workflows';
import { replayEveryRun } from '../helpers/replay';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

describe('migration orchestration on a real Temporal dev server', () => {
  let t: TemporalTestEnv;
  before(async () => {
    t = await startTemporalTestEnv();
  });
  after(async () => {
    await t?.teardown();
  });

  it('keeps 32 pages of a stage in flight by default', async () => {
    const fake = fakeActivities({ owners: 1, stepsPerOwner: 1, groups: 1, pages: { friends: 40 } });
    let running = 0;
    let most = 0;
    const activities: MigrationActivities = {
      ...fake.activities,
      // Long enough for the whole window to be dispatched before the first page ends, also on a loaded machine.
      runPage: async (input) => {
        if (input.stage !== 'friends') return fake.activities.runPage(input);
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 2_000));
        running--;
        return fake.activities.runPage(input);
      },
    };
    const { taskQueue } = await t.createWorker({ activities });
    const migrationId = `window-${taskQueue.slice(-8)}`;
    const result = await t.client.workflow.execute(migrationWorkflow, {
      taskQueue,
      workflowId: workflowIds.migration(migrationId),
      args: [{ migrationId, stagingPath: '/nonexistent/fake' }],
    });
    assert.equal(result.status, 'completed');
    assert.equal(fake.calls.filter((c) => c.stage === 'friends').length, 40);
    // Eight before (about 33 calls/s at most, whatever the budget); never more than the window.
    assert.ok(most > 16 && most <= 32, `pages in flight at most: ${most}`);
  });

  it('runs every stage after its dependencies, each step exactly once, across forced continue-as-new', async () => {
    const fake = fakeActivities({ owners: 7, stepsPerOwner: 5, groups: 4 });
    const { taskQueue } = await t.createWorker({ activities: fake.activities });
    const migrationId = `order-${taskQueue.slice(-8)}`;
    const result = await t.client.workflow.execute(migrationWorkflow, {
      taskQueue,
      workflowId: workflowIds.migration(migrationId),
      args: [
        {
          migrationId,
          stagingPath: '/nonexistent/fake',
          // Tiny per-run limits force every workflow to continue as new several times.
          tuning: { pageWindow: 2, childWindow: 3, maxPagesPerRun: 2, maxChildStartsPerRun: 2, maxStepsPerChildRun: 1 },
        },
      ],
    });

    assert.equal(result.status, 'completed');
    const keys = fake.calls.map((c) => `${c.stage}:${c.key}`);
    assert.equal(new Set(keys).size, keys.length, 'a step ran twice');
    const expected = 5 + 3 + 2 + 2 + 2 + 7 * 5 + 4 * 2 + 4 * 3;
    assert.equal(keys.length, expected);
    for (const owner of fake.owners)
      for (let s = 0; s < 5; s++) assert.ok(keys.includes(`peer-messages:${owner}#${s}`), `${owner}#${s} missing`);

    // Order: a stage's first call comes after the last call of each dependency.
    const first = (s: Stage) => Math.min(...fake.calls.filter((c) => c.stage === s).map((c) => c.at));
    const last = (s: Stage) => Math.max(...fake.calls.filter((c) => c.stage === s).map((c) => c.at));
    for (const stage of STAGES)
      for (const dep of STAGE_DEPENDENCIES[stage])
        assert.ok(first(stage) >= last(dep), `${stage} started before ${dep} ended`);
    // Each conversation of each owner ran in order (steps 0-2 and 3-4 are its two conversations, run side by side).
    for (const owner of fake.owners) {
      const seqs = fake.calls.filter((c) => c.key.startsWith(`${owner}#`)).map((c) => Number(c.key.split('#')[1]));
      assert.deepEqual(
        seqs.filter((q) => q < 3),
        [0, 1, 2]
      );
      assert.deepEqual(
        seqs.filter((q) => q >= 3),
        [3, 4]
      );
    }
    // Continue-as-new really happened: the per-owner children have more than one run.
    const runs = await countRuns(t, workflowIds.peerHistory(migrationId, fake.owners[0]!));
    assert.ok(runs >= 3, `expected ≥3 runs of the owner child, got ${runs}`);
    const stageRuns = await countRuns(t, workflowIds.stage(migrationId, 'peer-messages'));
    assert.ok(stageRuns >= 3, `expected ≥3 runs of the peer-messages stage, got ${stageRuns}`);
  });

  it('replays every recorded history of a migration through the current workflow code (determinism)', async () => {
    const fake = fakeActivities({ owners: 4, stepsPerOwner: 3, groups: 2 });
    const { taskQueue } = await t.createWorker({ activities: fake.activities });
    const migrationId = `replay-${taskQueue.slice(-8)}`;
    await t.client.workflow.execute(migrationWorkflow, {
      taskQueue,
      workflowId: workflowIds.migration(migrationId),
      args: [{ migrationId, stagingPath: '/x', tuning: { maxChildStartsPerRun: 2, maxStepsPerChildRun: 1 } }],
    });
    const replayed = await replayEveryRun(t.client, `ZimMigrationId = "${migrationId}"`);
    // Migration, 8 stages, 4 owners, 2 group setups, 2 group histories, plus continue-as-new runs.
    assert.ok(replayed >= 17, `only ${replayed} histories replayed`);
  });

  it('answers progress and takes signals and budget changes from its first moment (handlers before any await)', async () => {
    const fake = fakeActivities({ owners: 2, stepsPerOwner: 2, groups: 0 });
    // Reading the plan takes a while, as it does on a large staging file: the migration is at its first await.
    let planRead = false;
    const loadPlan: typeof fake.activities.loadPlan = async (ref) => {
      await new Promise((r) => setTimeout(r, 1_500));
      planRead = true;
      return fake.activities.loadPlan(ref);
    };
    const { taskQueue } = await t.createWorker({ activities: { ...fake.activities, loadPlan } });
    const migrationId = `early-${taskQueue.slice(-8)}`;
    const handle = await t.client.workflow.start(migrationWorkflow, {
      taskQueue,
      workflowId: workflowIds.migration(migrationId),
      args: [{ migrationId, stagingPath: '/x', stages: ['accounts', 'peer-messages'] }],
    });
    await new Promise((r) => setTimeout(r, 300));
    const early = await handle.query(progressQuery);
    assert.equal(planRead, false, 'the query was answered while the plan was still being read');
    assert.equal(early.status, 'running');
    await handle.signal(pauseSignal, { reason: 'right away' });
    assert.deepEqual(await handle.executeUpdate(setBudgetUpdate, { args: [{ action: 'UserRegister', rate: 5 }] }), {
      UserRegister: 5,
    });
    const paused = await handle.query(progressQuery);
    assert.equal(paused.status, 'paused');
    assert.equal(paused.pausedReason, 'right away');
    await handle.signal(resumeSignal);
    assert.equal((await handle.result()).status, 'completed');
  });

  it('pause stops new calls everywhere in the tree, resume finishes exactly, progress tells the reason', async () => {
    const fake = fakeActivities({ owners: 6, stepsPerOwner: 30, groups: 0, delayMs: 20 });
    const { taskQueue } = await t.createWorker({ activities: fake.activities });
    const migrationId = `pause-${taskQueue.slice(-8)}`;
    const handle = await t.client.workflow.start(migrationWorkflow, {
      taskQueue,
      workflowId: workflowIds.migration(migrationId),
      args: [{ migrationId, stagingPath: '/x', stages: ['accounts', 'peer-messages'], tuning: { childWindow: 6 } }],
    });
    await waitFor(() => fake.calls.filter((c) => c.stage === 'peer-messages').length >= 20);
    const running = await handle.query(progressQuery);
    assert.equal(running.status, 'running');
    const peer = running.stages.find((s) => s.stage === 'peer-messages')!;
    assert.deepEqual([peer.status, peer.action, peer.budget, peer.planned], ['running', 'ImportPeerMsg', 20, 180]);
    assert.ok(typeof running.etaSeconds === 'number');

    // The operator changes a budget while it runs: a worker applies it, and progress shows it.
    assert.deepEqual(await handle.executeUpdate(setBudgetUpdate, { args: [{ action: 'ImportPeerMsg', rate: 7 }] }), {
      ImportPeerMsg: 7,
    });
    assert.deepEqual(fake.appliedBudgets, [{ action: 'ImportPeerMsg', rate: 7 }]);
    await assert.rejects(
      handle.executeUpdate(setBudgetUpdate, { args: [{ action: 'DropDatabase', rate: 7 }] }),
      (err: Error) => /Unknown ZIM Action "DropDatabase"/.test(String((err.cause as Error | undefined)?.message))
    );
    assert.equal((await handle.query(progressQuery)).stages.find((s) => s.stage === 'peer-messages')!.budget, 7);

    await handle.signal(pauseSignal, { reason: 'peak hours' });
    // Calls in flight may finish; the call gate closes as soon as the migration's workflow task runs (owners learn
    // of the pause itself when their own task next completes). On a loaded 2-core machine that takes a moment, so
    // the grace is 3 s, as in the end-to-end test; after it no new call may start.
    await sleep(3_000);
    const atPause = fake.calls.length;
    await sleep(2_000);
    assert.equal(fake.calls.length, atPause, 'calls continued while paused');
    const progress = await handle.query(progressQuery);
    assert.equal(progress.status, 'paused');
    assert.equal(progress.pausedReason, 'peak hours');

    await handle.signal(resumeSignal);
    const result = await handle.result();
    assert.equal(result.status, 'completed');
    const keys = fake.calls.filter((c) => c.stage === 'peer-messages').map((c) => c.key);
    assert.equal(keys.length, 6 * 30);
    assert.equal(new Set(keys).size, keys.length);
  });

  it('restarts a child that was terminated, so the stage still completes every step', async () => {
    const fake = fakeActivities({ owners: 3, stepsPerOwner: 60, groups: 0, delayMs: 10 });
    const { taskQueue } = await t.createWorker({ activities: fake.activities });
    const migrationId = `restart-${taskQueue.slice(-8)}`;
    const handle = await t.client.workflow.start(migrationWorkflow, {
      taskQueue,
      workflowId: workflowIds.migration(migrationId),
      args: [
        { migrationId, stagingPath: '/x', stages: ['peer-messages'], tuning: { childLivenessCheck: '2 seconds' } },
      ],
    });
    const victim = workflowIds.peerHistory(migrationId, fake.owners[1]!);
    await waitFor(() => fake.calls.some((c) => c.key.startsWith(`${fake.owners[1]}#1`)));
    await t.client.workflow.getHandle(victim).terminate('operator mistake');
    const result = await handle.result();
    assert.equal(result.status, 'completed');
    const keys = new Set(fake.calls.map((c) => c.key));
    for (const owner of fake.owners)
      for (let s = 0; s < 60; s++) assert.ok(keys.has(`${owner}#${s}`), `${owner}#${s} never ran`);
    assert.ok((await countRuns(t, victim)) >= 2, 'the terminated child was not restarted');
  });

  it('cancel lets calls in flight finish, starts nothing new, and ends cancelled', async () => {
    const fake = fakeActivities({ owners: 4, stepsPerOwner: 200, groups: 0, delayMs: 10 });
    const { taskQueue } = await t.createWorker({ activities: fake.activities });
    const migrationId = `cancel-${taskQueue.slice(-8)}`;
    const handle = await t.client.workflow.start(migrationWorkflow, {
      taskQueue,
      workflowId: workflowIds.migration(migrationId),
      args: [{ migrationId, stagingPath: '/x', stages: ['peer-messages'] }],
    });
    await waitFor(() => fake.calls.length >= 10);
    await handle.signal(cancelSignal, { reason: 'test' });
    const result = await handle.result();
    assert.equal(result.status, 'cancelled');
    const n = fake.calls.length;
    assert.ok(n < 4 * 200, 'cancel did not stop the migration');
    await sleep(500);
    assert.equal(fake.calls.length, n, 'calls started after the migration ended');
  });
});

async function countRuns(t: TemporalTestEnv, workflowId: string): Promise<number> {
  let n = 0;
  for await (const _ of t.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) n++;
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await sleep(20);
  }
}
