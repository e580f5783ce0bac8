/**
 * The sync workflow across continue-as-new, with a real Temporal server told to suggest it early (dynamic config
 * `limit.historyCount.suggestContinueAsNew`: no workflow change, the same path a weeks-long sync takes). Its
 * handoff stays in the memo of every run, where receivers read it: a conversation started after the continue-as-new
 * still holds its live legacy messages. The state, the audits' window and totals, and a drain cross too, and every
 * run replays.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { request } from 'undici';
import { createAuditActivities } from '../../activities/coexist-audit';
import { createCoexistActivities } from '../../activities/coexist';
import { createHandoffActivities } from '../../activities/coexist-handoff';
import { openSqliteCoexistStore, type CoexistStore } from '../../src/coexist/coexist-store';
import { handoffFromMemo, handoffSetting, type HandoffSetting } from '../../src/coexist/handoff-setting';
import { LegacyClient } from '../../src/coexist/legacy-client';
import { temporalHandoff } from '../../src/coexist/receiver/handoff';
import { startReceiver, type Receiver } from '../../src/coexist/receiver/receiver';
import { handoffReader, readSync, startSync, syncWorkflowId } from '../../src/coexist/sync-control';
import { startLegacyServer, type LegacyServer } from '../../src/legacy-server/server';
import { workflowBundle } from '../../src/worker/workflow-bundle';
import { syncStatsQuery } from '../../workflows/coexist';
import {
  drainSignal,
  stoppedSignal,
  syncViewQuery,
  type CoexistSyncInput,
  type CoexistSyncView,
  type StopSummary,
} from '../../workflows/coexist-sync';
import { startTemporalTestEnv, type RunningWorker, type TemporalTestEnv } from '../helpers/temporal-env';
import { waitFor } from '../helpers/wait-for';
import { APP_ID, registerUsers, SECRET, startZimTestEnv, type ZimTestEnv } from '../helpers/zim';

const LEGACY_TOKEN = 'legacy-api-token-can';
const LEGACY_SECRET = 'legacy-webhook-secret-can';
const SYNC = 'can-test';
const RETRIES = [50, 100, 200, 400, 800];
/** Events before the server suggests continue-as-new: a few audits per run (the default is 4 Ki events). */
const SUGGEST_AFTER_EVENTS = 40;

async function post(url: string, body: unknown): Promise<void> {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, `${url}: ${text}`);
}

describe('the sync workflow across continue-as-new', { timeout: 240_000 }, () => {
  let t: TemporalTestEnv;
  let zim: ZimTestEnv;
  let legacy: LegacyServer;
  let legacyClient: LegacyClient;
  let receiver: Receiver;
  let store: CoexistStore;
  let worker: RunningWorker;
  let dir: string;
  let setting: HandoffSetting;
  const handoffActivities = createHandoffActivities();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'coexist-sync-can-'));
    // Never created: every conversation with the handoff holds its live legacy messages.
    setting = handoffSetting(path.join(dir, 'staging.db'), { checkEveryMs: 60_000 });
    store = openSqliteCoexistStore(path.join(dir, 'coexist.sqlite'));
    t = await startTemporalTestEnv({
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_AFTER_EVENTS },
    });
    zim = await startZimTestEnv();
    legacy = await startLegacyServer({ apiToken: LEGACY_TOKEN, webhookSecret: LEGACY_SECRET, retryDelaysMs: RETRIES });
    legacyClient = new LegacyClient(legacy.url, LEGACY_TOKEN);
    worker = await t.createWorker({
      activities: {
        ...createCoexistActivities({ store, zim: zim.client, legacy: legacyClient }),
        ...createAuditActivities({ store, zim: zim.client, legacy: legacyClient }),
        ...handoffActivities,
      },
    });
    // As `zim-migrate receiver --sync`: the handoff read from the sync's memo (what the test is about).
    receiver = await startReceiver({
      zim: { appId: APP_ID, callbackSecret: SECRET },
      legacy: { webhookSecret: LEGACY_SECRET, echoWays: ['originTag', 'clientMsgId'] },
      putBody: (b) => store.putBody(b),
      handoff: temporalHandoff(t.client, {
        taskQueue: worker.taskQueue,
        syncName: SYNC,
        importHandoff: handoffReader(t.client, SYNC),
      }),
      log: () => {},
    });
    await registerUsers(zim.client, ['ann', 'bob']);
    await post(`${legacy.url}/_test/users`, { users: ['ann', 'bob'] });
    zim.emulator.callbacks.configure({ url: `${receiver.url}/zim/callback`, retryDelaysMs: RETRIES });
    await post(`${legacy.url}/_test/webhook`, { url: `${receiver.url}/legacy/events` });
  });

  after(async () => {
    await receiver?.close();
    await legacy?.close();
    await legacyClient?.close();
    await zim?.stop();
    await t?.teardown();
    await handoffActivities.closeHandoffStores();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sync = (runId?: string) => t.client.workflow.getHandle(syncWorkflowId(SYNC), runId);
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
    await startSync(t.client, SYNC, worker.taskQueue, { auditEveryMinutes: 0.02, auditGraceMs: 200, handoff: setting });
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
    assert.deepEqual(await handoffReader(t.client, SYNC, 0)(), setting);
    const read = await readSync(t.client, SYNC);
    assert.equal(read?.state, 'running');
    // The later runs go on from there: audits keep adding up and the window keeps moving.
    await waitFor('an audit in a later run', async () => {
      const v = await sync().query(syncViewQuery);
      return (v.audits?.runs ?? 0) > (ended.audits?.runs ?? 0) && (v.auditedUntil ?? 0) > (ended.auditedUntil ?? 0);
    });

    // (c) A conversation started now gets the handoff from the memo: its live legacy message is held, not mirrored.
    await post(`${legacy.url}/_test/app1/send`, { from: 'ann', to: 'bob', body: 'after the continue-as-new' });
    const conv = t.client.workflow.getHandle('coexist:peer:ann:bob');
    await waitFor('the message handled', async () => {
      const s = await conv.query(syncStatsQuery).catch(() => undefined);
      return s !== undefined && ((s.handoff?.held ?? 0) > 0 || s.mirroredToZim > 0);
    });
    const s = await conv.query(syncStatsQuery);
    assert.equal(s.handoff?.held, 1, `held, not mirrored: ${JSON.stringify(s)}`);
    assert.equal(s.mirroredToZim, 0);
    assert.match(s.handoff?.waiting ?? '', /no staging at .* yet/);
    const inZim = await zim.client.queryPeerMsg({ FromUserId: 'ann', ToUserId: 'bob', Limit: 10 });
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
    assert.deepEqual(await readSync(t.client, SYNC), { state: 'draining', handoff: setting });

    await sync().signal(stoppedSignal, { closed: 0, handled: 0 });
    const result = (await sync().result()) as StopSummary;
    assert.deepEqual(result.audits, ended.audits, 'no audit while draining');

    // (d) Every run of the sync (and of its audits and conversation) replays.
    const query = `WorkflowType = "coexistSyncWorkflow" OR WorkflowType = "coexistAuditWorkflow" OR WorkflowType = "conversationSyncWorkflow"`;
    let syncRuns = 0;
    for await (const wf of t.client.workflow.list({ query })) if (wf.workflowId === syncWorkflowId(SYNC)) syncRuns++;
    assert.ok(syncRuns >= 3, `sync runs: ${syncRuns}`);
    for await (const { workflowId, error } of Worker.runReplayHistories(
      { workflowBundle: await workflowBundle() },
      t.client.workflow.list({ query }).intoHistories()
    ))
      assert.equal(error, undefined, `${workflowId} does not replay: ${String(error)}`);
  });
});
