/**
 * The conversation workflow on a real Temporal dev server, with recording activities: order within the settle
 * window (and a later straggler counted as reordered), dedup by event key (also
 * across continue-as-new), order within a batch, echoes never mirrored, a refusal for good counted without
 * stopping the conversation, an idle conversation closing and starting again on its next event, and `close` (coexist
 * stop) finishing what is queued before completing, with each mirror's lag recorded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import {
  mirrorInTurn,
  type CoexistActivities,
  type EchoOutcome,
  type GroupOutcome,
  type MirrorOutcome,
} from '../../activities/coexist';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteCoexistStore } from '../../src/coexist/coexist-store';
import { temporalHandoff } from '../../src/coexist/receiver/handoff';
import { retryParked } from '../../src/coexist/retry-parked';
import type { SyncEvent } from '../../src/coexist/sync-event';
import { closeSignal, syncStatsQuery, type conversationSyncWorkflow } from '../../workflows/coexist';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const calls: Array<[string, string]> = [];
const refuse = new Set<string>();
const stuck = new Set<string>();
const parked: Array<[string, string]> = [];
/** Fail once (retryably), then go through. */
const flaky = new Set<string>();
/** Take this long (ms), for a backlog to build up behind them. */
const slow = new Map<string, number>();
/** The events of each mirrorBatch call. */
const batches: string[][] = [];
const storeDir = mkdtempSync(path.join(tmpdir(), 'coexist-workflow-'));
const store = openSqliteCoexistStore(path.join(storeDir, 'coexist.sqlite'));
const activities: CoexistActivities = {
  async mirrorToZim(e: SyncEvent): Promise<MirrorOutcome> {
    calls.push(['toZim', e.msgId!]);
    if (slow.has(e.msgId!)) await new Promise((r) => setTimeout(r, slow.get(e.msgId!)));
    if (flaky.delete(e.msgId!)) throw new Error('a passing fault');
    if (refuse.has(e.msgId!)) throw ApplicationFailure.nonRetryable('refused', 'MirrorRefused');
    if (stuck.has(e.msgId!)) throw new Error('the target stays unreachable');
    return 'sent';
  },
  async mirrorToLegacy(e: SyncEvent): Promise<MirrorOutcome> {
    calls.push(['toLegacy', e.msgId!]);
    return 'sent';
  },
  async mirrorBatch(events: SyncEvent[]) {
    batches.push(events.map((e) => e.msgId!));
    return mirrorInTurn(events, (e) =>
      e.origin === 'legacy' ? activities.mirrorToZim(e) : activities.mirrorToLegacy(e)
    );
  },
  async confirmEcho(e: SyncEvent): Promise<EchoOutcome> {
    calls.push(['echo', e.echoOf!]);
    return 'known';
  },
  async applyGroup(e: SyncEvent): Promise<GroupOutcome> {
    calls.push(['group', e.eventKey]);
    return 'applied';
  },
  async park(e: SyncEvent, reason: string): Promise<void> {
    parked.push([e.eventKey, reason]);
    await store.park({
      conv: e.conv,
      eventKey: e.eventKey,
      origin: e.origin,
      subject: '',
      reason,
      action: '',
      event: e,
    });
  },
};

let seq = 0;
function event(conv: string, over: Partial<SyncEvent> & { msgId: string }): SyncEvent {
  return {
    eventKey: `k:${over.msgId}`,
    origin: 'legacy',
    conv,
    kind: 'message',
    occurredAt: 1_000 + ++seq,
    order: seq,
    from: 'a',
    to: 'b',
    bodyRef: 'b:x',
    ...over,
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('conversation workflow', { timeout: 120_000 }, () => {
  let t: TemporalTestEnv;
  let taskQueue: string;
  before(async () => {
    t = await startTemporalTestEnv();
    taskQueue = (await t.createWorker({ activities })).taskQueue;
  });
  after(async () => {
    await t.teardown();
    await store.close();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('handles a batch in (time, sequence) order, drops duplicates, never mirrors an echo', async () => {
    calls.length = 0;
    const handoff = temporalHandoff(t.client, { taskQueue, workflowInput: { settleMs: 1_000 } });
    const conv = 'peer:a:b';
    const e1 = event(conv, { msgId: 'm1' });
    const e2 = event(conv, { msgId: 'm2' });
    const z3 = event(conv, { msgId: 'z3', origin: 'zim', from: 'b', to: 'a' });
    const echo = event(conv, { msgId: 'z9', kind: 'echo', echoOf: 'L0', origin: 'zim' });
    // Arrive out of order and twice, within one settle window.
    for (const e of [z3, e2, e1, e2, echo, e1]) await handoff(e);
    const handle = t.client.workflow.getHandle(`coexist:${conv}`);
    await until('all handled', async () => (await handle.query(syncStatsQuery)).queued === 0 && calls.length === 4);
    assert.deepEqual(calls, [
      ['toZim', 'm1'],
      ['toZim', 'm2'],
      ['toLegacy', 'z3'],
      ['echo', 'L0'],
    ]);
    const stats = await handle.query(syncStatsQuery);
    assert.deepEqual(
      [stats.mirroredToZim, stats.mirroredToLegacy, stats.echoesSuppressed, stats.duplicatesDropped],
      [2, 1, 1, 2]
    );
    // A redelivery long after is still dropped.
    await handoff(e1);
    await until('redelivery seen', async () => (await handle.query(syncStatsQuery)).duplicatesDropped === 3);
    assert.equal(calls.length, 4);
    // An event later than the settle window is still handled, and counted as reordered.
    await handoff(event(conv, { msgId: 'late', occurredAt: 0 }));
    // Counted once its mirror returns, after the activity has recorded its call: wait for the count itself.
    await until('late event counted', async () => (await handle.query(syncStatsQuery)).reordered === 1);
    assert.equal(calls.length, 5);
    assert.equal((await handle.query(syncStatsQuery)).reordered, 1);
  });

  it('counts the echo of a message it mirrored without an activity, queued behind it or arriving after', async () => {
    calls.length = 0;
    const handoff = temporalHandoff(t.client, { taskQueue, workflowInput: { settleMs: 300 } });
    const conv = 'peer:a:e';
    const echoOf = (msgId: string, origin: 'zim' | 'legacy') =>
      event(conv, { msgId: `echo-${msgId}`, kind: 'echo', echoOf: msgId, origin });
    const handle = t.client.workflow.getHandle(`coexist:${conv}`);
    const echoes = async () => (await handle.query(syncStatsQuery)).echoesSuppressed;
    // In one settle window: the echo is queued behind its message, and handled once the message is mirrored.
    await handoff(event(conv, { msgId: 'm1' }));
    await handoff(echoOf('m1', 'zim'));
    await until('queued echo counted', async () => (await echoes()) === 1);
    // Long after: taken as it arrives. Either direction.
    await handoff(event(conv, { msgId: 'z2', origin: 'zim', from: 'e', to: 'a' }));
    await until('z2 mirrored', async () => calls.length === 2);
    await handoff(echoOf('z2', 'legacy'));
    await until('late echo counted', async () => (await echoes()) === 2);
    // The echo of a write this workflow never saw recorded is still looked up (it may settle an intent).
    await handoff(echoOf('m-unknown', 'zim'));
    await until('unknown echo looked up', async () => calls.length === 3);
    assert.deepEqual(calls, [
      ['toZim', 'm1'],
      ['toLegacy', 'z2'],
      ['echo', 'm-unknown'],
    ]);
    assert.equal(await echoes(), 3);
  });

  it('remembers event keys across continue-as-new; counts a refusal and goes on', async () => {
    calls.length = 0;
    const handoff = temporalHandoff(t.client, { taskQueue, workflowInput: { settleMs: 0, eventsPerRun: 3 } });
    const conv = 'group:g-can';
    const events = Array.from({ length: 7 }, (_, i) =>
      event(conv, { msgId: `g${i}`, groupId: 'g-can', to: undefined })
    );
    refuse.add('g2');
    for (const e of events) await handoff(e);
    const handle = t.client.workflow.getHandle(`coexist:${conv}`);
    await until('all handled', async () => calls.length === 7);
    // Redeliver the first ones: they are in the carried dedup set.
    for (const e of events.slice(0, 3)) await handoff(e);
    await until('duplicates seen', async () => (await handle.query(syncStatsQuery)).duplicatesDropped === 3);
    const stats = await handle.query(syncStatsQuery);
    assert.ok(stats.runs >= 3, `continued as new (${stats.runs} runs)`);
    assert.deepEqual(stats.refused, ['k:g2']);
    assert.equal(stats.refusedTotal, 1, 'the count carried across continue-as-new');
    assert.equal(stats.mirroredToZim, 6);
    assert.deepEqual(
      calls.map((c) => c[1]),
      events.map((e) => e.msgId)
    );
  });

  it('parks a mirror that still fails after its attempts, and goes on with the conversation', async () => {
    calls.length = 0;
    const handoff = temporalHandoff(t.client, { taskQueue, workflowInput: { settleMs: 0, mirrorAttempts: 2 } });
    const conv = 'peer:p:q';
    stuck.add('s1');
    await handoff(event(conv, { msgId: 's1' }));
    // Once s1 is taken alone (with s2 in a batch it would be the case below).
    await until('s1 tried', async () => calls.length > 0);
    await handoff(event(conv, { msgId: 's2' }));
    const handle = t.client.workflow.getHandle(`coexist:${conv}`);
    await until('both handled', async () => (await handle.query(syncStatsQuery)).mirroredToZim === 1);
    const stats = await handle.query(syncStatsQuery);
    assert.deepEqual(stats.parked, ['k:s1']);
    assert.deepEqual(stats.refused, []);
    assert.deepEqual([stats.parkedTotal, stats.refusedTotal], [1, 0]);
    assert.deepEqual(
      calls.map((c) => c[1]),
      ['s1', 's1', 's2'],
      'two attempts, then the next event'
    );
    assert.deepEqual(parked, [['k:s1', 'the target stays unreachable']]);

    // The cause fixed, the operator retries it (coexist parked --retry-all): mirrored once more, no longer parked.
    stuck.delete('s1');
    const retried = await retryParked(store, handoff, { all: true });
    assert.deepEqual(
      retried.retried.map((p) => p.eventKey),
      ['k:s1']
    );
    await until('the retry mirrored', async () => (await handle.query(syncStatsQuery)).mirroredToZim === 2);
    assert.deepEqual(
      calls.map((c) => c[1]),
      ['s1', 's1', 's2', 's1']
    );
    assert.deepEqual(await store.parked(), []);
  });

  it('mirrors a backlog in batches of at most batchMax, in order; a refusal or a passing fault inside one', async () => {
    calls.length = 0;
    batches.length = 0;
    const handoff = temporalHandoff(t.client, { taskQueue, workflowInput: { settleMs: 200, batchMax: 4 } });
    const conv = 'peer:b:k';
    const events = Array.from({ length: 11 }, (_, i) => event(conv, { msgId: `b${i}` }));
    // b0's mirror takes long: b1…b10 arrive meanwhile, and are all ready when it ends.
    slow.set('b0', 2_000);
    refuse.add('b3');
    flaky.add('b6');
    await handoff(events[0]!);
    await until('b0 mirroring', async () => calls.length === 1);
    for (const e of events.slice(1)) await handoff(e);
    const handle = t.client.workflow.getHandle(`coexist:${conv}`);
    await until('all handled', async () => {
      const s = await handle.query(syncStatsQuery);
      return s.queued === 0 && s.mirroredToZim + s.refused.length === 11;
    });
    // b0 alone; then at most 4 a batch; the fault at b6 ends its batch there, and b6 leads the next one.
    assert.deepEqual(batches, [
      ['b1', 'b2', 'b3', 'b4'],
      ['b5', 'b6', 'b7', 'b8'],
      ['b6', 'b7', 'b8', 'b9'],
    ]);
    assert.deepEqual(
      calls.map((c) => c[1]),
      ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b6', 'b7', 'b8', 'b9', 'b10']
    );
    const stats = await handle.query(syncStatsQuery);
    assert.deepEqual(stats.refused, ['k:b3']);
    assert.equal(stats.mirroredToZim, 10);
    assert.equal(stats.reordered, 0);
    assert.equal(stats.lags?.legacy.length, 10, 'a lag for each mirrored message');
    refuse.delete('b3');
    slow.clear();
  });

  it('a batch failing for good at its first message: that one mirrored alone, then parked; the rest go on', async () => {
    calls.length = 0;
    batches.length = 0;
    parked.length = 0;
    const handoff = temporalHandoff(t.client, {
      taskQueue,
      // Above the lone mirror's 3 attempts: the batch fails after its 4, f1 alone after 3 more.
      workflowInput: { settleMs: 200, mirrorAttempts: 4 },
    });
    const conv = 'peer:f:g';
    const events = Array.from({ length: 4 }, (_, i) => event(conv, { msgId: `f${i}` }));
    // f0's mirror takes long: f1…f3 arrive meanwhile and go in one batch, which fails at f1 in each of its attempts.
    slow.set('f0', 1_500);
    stuck.add('f1');
    await handoff(events[0]!);
    await until('f0 mirroring', async () => calls.length === 1);
    for (const e of events.slice(1)) await handoff(e);
    const handle = t.client.workflow.getHandle(`coexist:${conv}`);
    await until('all handled', async () => {
      const s = await handle.query(syncStatsQuery);
      return s.queued === 0 && s.mirroredToZim + (s.parkedTotal ?? 0) === 4;
    });
    assert.deepEqual(batches, [...Array<string[]>(4).fill(['f1', 'f2', 'f3']), ['f2', 'f3']]);
    // The batch's four attempts, then f1's own three (its single mirror), then the rest.
    assert.deepEqual(
      calls.map((c) => c[1]),
      ['f0', ...Array<string>(7).fill('f1'), 'f2', 'f3']
    );
    const stats = await handle.query(syncStatsQuery);
    assert.deepEqual(stats.parked, ['k:f1']);
    assert.deepEqual([stats.mirroredToZim, stats.alreadyMirrored, stats.parkedTotal], [3, 0, 1]);
    assert.deepEqual(parked, [['k:f1', 'the target stays unreachable']]);
    stuck.delete('f1');
    slow.clear();
  });

  it('closes when idle and starts again on the next event', async () => {
    calls.length = 0;
    const handoff = temporalHandoff(t.client, { taskQueue, workflowInput: { settleMs: 0, idleMs: 1_000 } });
    const conv = 'peer:c:d';
    await handoff(event(conv, { msgId: 'i1' }));
    const handle = t.client.workflow.getHandle<typeof conversationSyncWorkflow>(`coexist:${conv}`);
    const first = await handle.result();
    assert.equal(first.mirroredToZim, 1);
    await handoff(event(conv, { msgId: 'i2' }));
    await until('restarted and handled', async () => calls.length === 2);
    const runs: string[] = [];
    for await (const wf of t.client.workflow.list({ query: `WorkflowId = "coexist:${conv}"` }))
      runs.push(wf.status.name);
    assert.equal(runs.length, 2, 'a second execution under the same id');
  });

  it('close: handles what is queued, in order, then completes; the lag of each mirror is kept per direction', async () => {
    calls.length = 0;
    const handoff = temporalHandoff(t.client, { taskQueue, workflowInput: { settleMs: 1_500 } });
    const conv = 'peer:e:f';
    const now = Date.now();
    await handoff(event(conv, { msgId: 'c1', occurredAt: now - 5_000 }));
    await handoff(event(conv, { msgId: 'c2', origin: 'zim', from: 'f', to: 'e', occurredAt: now - 4_000 }));
    const handle = t.client.workflow.getHandle<typeof conversationSyncWorkflow>(`coexist:${conv}`);
    // Closed while both are still held in the settle window: they are handled first.
    await handle.signal(closeSignal);
    const stats = await handle.result();
    assert.deepEqual(calls, [
      ['toZim', 'c1'],
      ['toLegacy', 'c2'],
    ]);
    assert.equal(stats.lags?.legacy.length, 1);
    assert.equal(stats.lags?.zim.length, 1);
    // From the event's time on its side to the end of its mirror: at least the 5 s / 4 s it was old.
    assert.ok(stats.lags.legacy[0]![1] >= 5_000, String(stats.lags.legacy[0]));
    assert.ok(stats.lags.zim[0]![1] >= 4_000 && stats.lags.zim[0]![1] < 60_000, String(stats.lags.zim[0]));
  });
});
