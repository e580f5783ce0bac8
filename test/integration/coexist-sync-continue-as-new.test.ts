/**
 * The sync workflow across continue-as-new, with a real Temporal server told to suggest it early (dynamic config
 * `limit.historyCount.suggestContinueAsNew`: no workflow change, the same path a weeks-long sync takes). Its
 * handoff stays in the memo of every run, where receivers read it: a conversation started after the continue-as-new
 * still holds its live legacy messages. The state, the audits' window and totals, and a drain cross too, and every
 * run replays.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { handoffFromMemo, handoffSetting, type HandoffSetting } from '../../src/coexist/handoff-setting';
import { handoffReader, readSync, startSync, syncWorkflowId } from '../../src/coexist/sync-control';
import { syncStatsQuery } from '../../workflows/coexist';
import {
  drainSignal,
  stoppedSignal,
  syncViewQuery,
  type CoexistSyncInput,
  type CoexistSyncView,
  type StopSummary,
} from '../../workflows/coexist-sync';
import { useCoexistRig } from '../helpers/coexist-rig';
import { post } from '../helpers/coexist-sides';
import { waitFor } from '../helpers/wait-for';
import { replayEveryRun } from '../helpers/replay';

const SYNC = 'can-test';
/** Events before the server suggests continue-as-new: a few audits per run (the default is 4 Ki events). */
const SUGGEST_AFTER_EVENTS = 40;

describe('the sync workflow across continue-as-new', { timeout: 240_000 }, () => {
  const rig = useCoexistRig({
    name: 'sync-can',
    temporal: { dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_AFTER_EVENTS } },
    users: ['ann', 'bob'],
    worker: { audit: true, handoff: true },
    // As `zim-migrate receiver --sync`: the handoff read from the sync's memo (what the test is about).
    receiver: { syncName: SYNC, importHandoff: ({ t }) => handoffReader(t.client, SYNC) },
  });
  let setting: HandoffSetting;
  before(() => {
    // Never created: every conversation with the handoff holds its live legacy messages.
    setting = handoffSetting(path.join(rig.dir, 'staging.db'), { checkEveryMs: 60_000 });
  });

  const sync = (runId?: string) => rig.t.client.workflow.getHandle(syncWorkflowId(SYNC), runId);
  const currentRun = async () => (await sync().describe()).runId;
  /** The run a run continued as, and the input it started with (what crossed). */
  async function continuedAs(runId: string): Promise<{ runId: string; input: CoexistSyncInput }> {
    const closing = (await sync(runId).fetchHistory()).events?.at(-1);
    const next = closing?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    assert.ok(next, `run ${runId} continued as new`);
    const started = (await sync(next).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
    const payload = started?.input?.payloads?.[0];
    assert.ok(payload, 'the next run has an input');
    return { runId: next, input: defaultPayloadConverter.fromPayload<CoexistSyncInput>(payload) };
  }
  /** What a run held when it ended, in the form the next run's input carries. */
  const carried = (v: CoexistSyncView) => ({
    state: v.state,
    drainingSince: v.drainingSince,
    auditedUntil: v.auditedUntil,
    audits: v.audits,
  });

  it('keeps the handoff in the memo, where receivers read it, and carries state and audits', async () => {
    await startSync(rig.t.client, SYNC, rig.worker.taskQueue, {
      auditEveryMinutes: 0.02,
      auditGraceMs: 200,
      handoff: setting,
    });
    const first = await currentRun();
    await waitFor('a continue-as-new after audits', async () => (await currentRun()) !== first, 120_000);
    // The first run's view (queried after it closed, by replay) is what the second starts with.
    const ended = await sync(first).query(syncViewQuery);
    const second = await continuedAs(first);
    assert.ok((ended.audits?.runs ?? 0) >= 1 && ended.auditedUntil !== undefined, JSON.stringify(ended));
    assert.deepEqual(
      carried({ ...second.input, name: SYNC, startedAt: 0 } as CoexistSyncView),
      carried(ended),
      'state, audit window and totals carried'
    );
    assert.deepEqual(second.input.handoff, setting);

    // (a) The new run's memo still holds the handoff, and what receivers read returns it.
    const described = await sync(second.runId).describe();
    assert.deepEqual(handoffFromMemo(described.memo), setting, 'the handoff in the next run’s memo');
    assert.deepEqual(await handoffReader(rig.t.client, SYNC, 0)(), setting);
    const read = await readSync(rig.t.client, SYNC);
    assert.equal(read?.state, 'running');
    // The later runs go on from there: audits keep adding up and the window keeps moving.
    await waitFor('an audit in a later run', async () => {
      const v = await sync().query(syncViewQuery);
      return (v.audits?.runs ?? 0) > (ended.audits?.runs ?? 0) && (v.auditedUntil ?? 0) > (ended.auditedUntil ?? 0);
    });

    // (c) A conversation started now gets the handoff from the memo: its live legacy message is held, not mirrored.
    await post(`${rig.legacy.url}/_test/app1/send`, { from: 'ann', to: 'bob', body: 'after the continue-as-new' });
    const conv = rig.t.client.workflow.getHandle('coexist:peer:ann:bob');
    await waitFor('the message handled', async () => {
      const s = await conv.query(syncStatsQuery).catch(() => undefined);
      return s !== undefined && ((s.handoff?.held ?? 0) > 0 || s.mirroredToZim > 0);
    });
    const s = await conv.query(syncStatsQuery);
    assert.equal(s.handoff?.held, 1, `held, not mirrored: ${JSON.stringify(s)}`);
    assert.equal(s.mirroredToZim, 0);
    assert.match(s.handoff?.waiting ?? '', /no staging at .* yet/);
    const inZim = await rig.zim.client.queryPeerMsg({ FromUserId: 'ann', ToUserId: 'bob', Limit: 10 });
    assert.equal(inZim.messages.length, 0, 'not in ZIM');
  });

  it('carries a drain across continue-as-new, with the handoff still readable', async () => {
    // Discovery's figures (optional in the totals: an audit reports them once the store knows users) cross too.
    await waitFor(
      'an audit that discovered',
      async () => (await sync().query(syncViewQuery)).audits?.discovered !== undefined
    );
    await sync().signal(drainSignal);
    await waitFor('draining', async () => (await sync().query(syncViewQuery)).state === 'draining');
    const draining = await currentRun();
    const before = await sync(draining).query(syncViewQuery);
    assert.ok(before.drainingSince !== undefined);
    // A draining sync waits without timers: signals (no-ops now) grow its history to the suggestion.
    await waitFor('a continue-as-new while draining', async () => {
      await sync().signal(drainSignal);
      return (await currentRun()) !== draining;
    });
    const next = await continuedAs(draining);
    // An audit in flight when the drain came ends in the draining run: its figures cross too.
    const ended = await sync(draining).query(syncViewQuery);
    assert.deepEqual(carried({ ...next.input, name: SYNC, startedAt: 0 } as CoexistSyncView), carried(ended));
    const after = await sync(next.runId).query(syncViewQuery);
    assert.equal(after.state, 'draining');
    assert.equal(after.drainingSince, before.drainingSince);
    assert.deepEqual(after.audits, ended.audits);
    assert.equal(typeof after.audits?.discovered, 'number', JSON.stringify(after.audits));
    assert.equal(typeof after.audits?.listingsCut, 'number', JSON.stringify(after.audits));
    assert.deepEqual(handoffFromMemo((await sync(next.runId).describe()).memo), setting);
    assert.deepEqual(await readSync(rig.t.client, SYNC), { state: 'draining', handoff: setting });

    await sync().signal(stoppedSignal, { closed: 0, handled: 0 });
    const result = (await sync().result()) as StopSummary;
    assert.deepEqual(result.audits, ended.audits, 'no audit while draining');

    // (d) Every run of the sync (and of its audits and conversation) replays.
    const query = `WorkflowType = "coexistSyncWorkflow" OR WorkflowType = "coexistAuditWorkflow" OR WorkflowType = "conversationSyncWorkflow"`;
    let syncRuns = 0;
    for await (const wf of rig.t.client.workflow.list({ query }))
      if (wf.workflowId === syncWorkflowId(SYNC)) syncRuns++;
    assert.ok(syncRuns >= 3, `sync runs: ${syncRuns}`);
    await replayEveryRun(rig.t.client, query);
  });
});
