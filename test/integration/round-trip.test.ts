import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { preflightWorkflow } from '../../workflows';
import { ZIM_MIGRATION_ID, ZIM_MIGRATION_STAGE } from '../../src/shared/search-attributes';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

describe('workflow → activity → result through a real Temporal dev server', () => {
  let t: TemporalTestEnv;
  before(async () => {
    t = await startTemporalTestEnv();
  });
  after(async () => {
    await t?.teardown();
  });

  it('runs the preflight workflow on a worker and records the activity in history', async () => {
    const { taskQueue } = await t.createWorker();
    const handle = await t.client.workflow.start(preflightWorkflow, {
      taskQueue,
      workflowId: `preflight-${taskQueue}`,
      args: [{ migrationId: 'm-round-trip' }],
    });
    const report = await handle.result();

    assert.equal(report.migrationId, 'm-round-trip');
    assert.equal(report.taskQueue, taskQueue);
    assert.equal(report.workerPid, process.pid);
    assert.equal(report.attempt, 1);

    // The server really recorded the activity: its events are in the persisted history.
    const history = await handle.fetchHistory();
    const { EventType } = temporal.api.enums.v1;
    const eventTypes = new Set((history.events ?? []).map((e) => e.eventType));
    for (const expected of [
      EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
      EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    ]) {
      assert.ok(eventTypes.has(expected), `history lacks ${EventType[expected]}`);
    }

    // Our custom search attributes are registered on the server and were upserted by the workflow.
    const description = await handle.describe();
    assert.equal(description.typedSearchAttributes.get(ZIM_MIGRATION_ID), 'm-round-trip');
    assert.equal(description.typedSearchAttributes.get(ZIM_MIGRATION_STAGE), 'preflight');
  });

  it('finds the workflow by search attribute through the server visibility store', async () => {
    const { taskQueue } = await t.createWorker();
    await t.client.workflow.execute(preflightWorkflow, {
      taskQueue,
      workflowId: `preflight-visible-${taskQueue}`,
      args: [{ migrationId: 'm-visible' }],
    });
    const ids: string[] = [];
    // Visibility is eventually consistent; poll briefly.
    for (let i = 0; i < 50 && ids.length === 0; i++) {
      for await (const wf of t.client.workflow.list({ query: `ZimMigrationId = "m-visible"` })) ids.push(wf.workflowId);
      if (ids.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(ids, [`preflight-visible-${taskQueue}`]);
  });
});
