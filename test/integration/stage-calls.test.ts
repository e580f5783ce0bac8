/**
 * The plan, the workflows' view of each stage and what the activities really send agree, call for call: each page
 * stage, run page by page through the real activities into the emulator over HTTP, makes exactly the calls that
 * `zim-migrate plan` counted for its Actions (profiles: one ModifyUserInfo per 100 users with extended data, not per
 * 100 users).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Outcome } from '../../activities/contract';
import { createMigrationActivities } from '../../activities/migration-activities';
import { SqliteCallScheduler } from '../../src/rate-limit/call-scheduler';
import { stageCalls } from '../../src/shared/migration-plan';
import { MIGRATION_ACTIONS, STAGE_ACTIONS } from '../../src/shared/stages';
import { openStaging } from '../../src/staging';
import type { MigrationStore, PageStage } from '../../src/staging/migration-store';
import { buildStaging, FAST_RATE, startFastEmulator, TEST_APP_ID, TEST_SECRET } from '../../src/testing/migration-rig';
import { ZimClient } from '../../src/zim-client';
import type { ZimEmulator } from '../../src/zim-emulator';

describe('calls per stage: plan, progress and activities agree', () => {
  let emulator: ZimEmulator;
  let store: MigrationStore;
  let stagingPath: string;
  before(async () => {
    const staging = await buildStaging(250, 7);
    stagingPath = staging.fresh();
    emulator = await startFastEmulator();
    store = await openStaging(stagingPath);
  });
  after(async () => {
    await store?.close();
    await emulator?.stop();
  });

  it('makes as many calls per Action in each page stage as the plan counted', async () => {
    const scheduler = new SqliteCallScheduler(':memory:', { appId: TEST_APP_ID });
    for (const action of MIGRATION_ACTIONS) await scheduler.setRate(action, FAST_RATE);
    const zim = new ZimClient({ baseUrl: emulator.url, appId: TEST_APP_ID, serverSecret: TEST_SECRET });
    try {
      const activities = createMigrationActivities({ zim, scheduler, openStore: async () => store });
      const ref = { migrationId: 'stage-calls', stagingPath };
      const work = await activities.loadPlan(ref);
      const { plan, counts } = await store.meta();
      assert.ok(
        counts.usersWithExtra > 0 && counts.usersWithExtra <= counts.users - 100,
        `users with and without extended data: ${counts.usersWithExtra} of ${counts.users}`
      );
      // No start-to-close timeout: a page's calls never come too close to it.
      const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 0 });
      for (const stage of ['accounts', 'profiles', 'friends', 'blocks'] as const satisfies readonly PageStage[]) {
        let sent = 0;
        const runPage = (page: number) => activities.runPage({ ...ref, stage, page });
        for (let page = 0; page < work[stage].pages; page++)
          sent += (await env.run<[number], Outcome, typeof runPage>(runPage, page)).calls;
        const planned = stageCalls(plan.actions, stage);
        assert.equal(work[stage].calls, planned, `${stage}: the workflows' calls are the plan's`);
        assert.equal(sent, planned, `${stage}: calls sent`);
        const action = STAGE_ACTIONS[stage][0];
        assert.equal(emulator.counters().calls[action] ?? 0, planned, `${action}: calls the emulator counted`);
        const ledger = (await store.ledgerCounts())[stage];
        assert.equal(ledger?.done, work[stage].planned, `${stage}: every planned record landed`);
      }
    } finally {
      await zim.close();
      await scheduler.close();
    }
  });
});
