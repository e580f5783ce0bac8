/**
 * The plan, the workflows' view of each stage and what the activities really send agree, call for call: each page
 * stage, run page by page through the real activities into the emulator over HTTP, and the groups stage, run group
 * by group and step by step, make exactly the calls that `zim-migrate plan` counted for their Actions (profiles: one ModifyUserInfo per 100 users with extended data, not per
 * 100 users).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Outcome, StepResult } from '../../activities/contract';
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

      // The groups stage (the accounts above exist now): every group's steps through the real activity. Its member
      // check reads each group's list once, which the plan counts in this stage besides verify's reading.
      const { items } = await activities.listFanoutItems({ ...ref, stage: 'groups', after: null, limit: 100_000 });
      assert.ok(items.length > 0, 'the staging has groups');
      const setup = (groupId: string, step: number) => activities.setupGroupStep({ ...ref, groupId, step });
      let sent = 0;
      for (const { id } of items)
        for (let step = 0, more = true; more; step++) {
          const r = await env.run<[string, number], StepResult, typeof setup>(setup, id, step);
          sent += r.calls;
          more = r.hasMore;
        }
      assert.equal(sent, stageCalls(plan.actions, 'groups'), 'groups: calls sent');
      assert.equal(
        work.groups.calls,
        stageCalls(plan.actions, 'groups'),
        "groups: the workflows' calls are the plan's"
      );
      for (const { action, calls } of plan.actions.filter((a) => a.stage === 'groups'))
        assert.equal(emulator.counters().calls[action] ?? 0, calls, `${action}: calls the emulator counted`);
      assert.ok(
        plan.actions.some(
          (a) => a.stage === 'groups' && a.action === 'QueryGroupMemberList' && a.calls === items.length
        ),
        'one member check per group of at most 1,000 members'
      );
    } finally {
      await zim.close();
      await scheduler.close();
    }
  });
});
