/**
 * One message under two event keys (a ZIM edit: same msg_id, another body, so another key) in the mirrors of a
 * conversation, with a real Temporal server, the real activities and ledger, and the reference legacy server: the
 * ledger sends it once, and the conversation counts it once (mirrored), the other event as already mirrored. The
 * ledger answers `sent` to each event of it that the execution which sent it mirrors, and to each whose mirror names
 * that execution (`adopt`, after its batch failed for good): in one batch, in the rest of a failed batch, and an
 * edit arriving while the batch that sent the message is failing. Counted twice without the workflow's check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activityInfo } from '@temporalio/activity';
import { temporalHandoff } from '../../src/coexist/receiver/handoff';
import type { SyncEvent } from '../../src/coexist/sync-event';
import { syncStatsQuery, type SyncStats } from '../../workflows/coexist';
import { useCoexistRig } from '../helpers/coexist-rig';
import { waitFor } from '../helpers/wait-for';
import { replayEveryRun } from '../helpers/replay';

/** Mirrors of these msg ids take this long (ms): the messages after them pile up, ready, into one batch. */
const slow = new Set<string>();
/** Each mirrorBatch execution's events (`<msgId>` and `'` for an edit), by conversation, the first attempt's only. */
const batches = new Map<string, string[][]>();
/** The slow mirrors that started. */
const started = new Set<string>();
/** The batch holding this event key fails: its execution, and when (a promise the test resolves; none: at once). */
const failAt = new Map<string, { gate?: Promise<void>; execution?: string }>();

describe('one message under two event keys in batches', { timeout: 120_000 }, () => {
  const rig = useCoexistRig({
    name: 'batch-duplicate',
    users: ['ann', 'bob', 'cy', 'dee', 'eve', 'fay'],
    worker: {
      activities: (acts) => ({
        ...acts,
        mirrorToLegacy: async (e, adopt) => {
          if (slow.has(e.msgId!)) {
            started.add(e.msgId!);
            await new Promise((r) => setTimeout(r, 1_500));
          }
          return acts.mirrorToLegacy(e, adopt);
        },
        mirrorBatch: async (events, adopt) => {
          const { workflowExecution, activityId, attempt } = activityInfo();
          if (attempt === 1)
            batches.set(events[0]!.conv, [
              ...(batches.get(events[0]!.conv) ?? []),
              events.map((e) => `${e.msgId!}${e.eventKey.endsWith(':v2') ? "'" : ''}`),
            ]);
          const execution = `${workflowExecution?.runId ?? ''}/${activityId}`;
          const fail = events.map((e) => failAt.get(e.eventKey)).find((f) => f !== undefined && !f.execution);
          if (fail) fail.execution = execution;
          const outcomes = await acts.mirrorBatch(events, adopt);
          if (fail?.execution !== execution) return outcomes;
          // Sent and recorded, then the worker is gone before reporting (mirrorAttempts 1: failed for good).
          await fail.gate;
          throw new Error('the worker died');
        },
      }),
    },
    receiver: { settleEchoes: true },
  });

  let order = 0;
  /** A ZIM message of `from` to `to`, its body put as the receiver does; `edit`: the same message edited. */
  const zimMessage = async (from: string, to: string, id: string, edit = false): Promise<SyncEvent> => ({
    eventKey: `zim:msg:${id}:${edit ? 'v2' : 'v1'}`,
    origin: 'zim',
    conv: `peer:${[from, to].sort().join(':')}`,
    kind: 'message',
    occurredAt: 1_700_000_000_000 + Number(id.replace(/\D/g, '')),
    order: ++order,
    from,
    to,
    msgId: id,
    bodyRef: await rig.store.putBody(`${id}${edit ? ' (edited)' : ''}`, [{ origin: 'zim', originId: id }]),
  });
  const handoff = (mirrorAttempts?: number) =>
    temporalHandoff(rig.t.client, {
      taskQueue: rig.worker.taskQueue,
      workflowInput: { settleMs: 200, ...(mirrorAttempts ? { mirrorAttempts } : {}) },
    });
  const stats = (conv: string): Promise<SyncStats> =>
    rig.t.client.workflow.getHandle(`coexist:${conv}`).query(syncStatsQuery);
  const legacyBodies = async (conv: string) => (await rig.legacyClient.page(conv, 0, 100)).messages.map((m) => m.body);

  /** Waits for the 4 events of a case (3 messages, one of them twice) to be handled. */
  const allHandled = (conv: string) =>
    waitFor(
      'every event handled',
      async () => {
        const s = await stats(conv);
        return s.queued === 0 && s.mirroredToLegacy + s.alreadyMirrored + (s.parkedTotal ?? 0) === 4;
      },
      30_000,
      async () => JSON.stringify(await stats(conv))
    );

  /**
   * Sends `head` (its mirror slow), then `rest` while it is in flight, then `during` if given (after `rest`), and
   * waits for all to be handled: 4 messages, one of them twice.
   */
  async function run(conv: string, send: (e: SyncEvent) => Promise<unknown>, head: SyncEvent, rest: SyncEvent[]) {
    slow.add(head.msgId!);
    await send(head);
    await waitFor('the head in flight', async () => started.has(head.msgId!), 10_000);
    for (const e of rest) await send(e);
    await allHandled(conv);
  }

  const assertOnce = async (conv: string, bodies: string[]) => {
    assert.deepEqual(await legacyBodies(conv), bodies, 'each message once on the legacy side, in order');
    const s = await stats(conv);
    assert.deepEqual(s.parked, []);
    assert.deepEqual(
      [s.mirroredToLegacy, s.alreadyMirrored],
      [3, 1],
      'three messages mirrored, the edit of one counted as already mirrored'
    );
    assert.equal(s.lags?.zim.length, 3, 'a lag for each message mirrored');
  };

  it('in one batch: the message and its edit', async () => {
    const conv = 'peer:ann:bob';
    const m = await Promise.all(['a0', 'a1', 'a2'].map((id) => zimMessage('bob', 'ann', id)));
    await run(conv, handoff(), m[0]!, [m[1]!, await zimMessage('bob', 'ann', 'a1', true), m[2]!]);
    assert.deepEqual(batches.get(conv), [['a1', "a1'", 'a2']]);
    await assertOnce(conv, ['a0', 'a1', 'a2']);
  });

  it('in a batch that fails for good after sending: its first message alone, the edit with the rest (adopt)', async () => {
    const conv = 'peer:cy:dee';
    const m = await Promise.all(['c0', 'c1', 'c2'].map((id) => zimMessage('cy', 'dee', id)));
    const fail = {};
    failAt.set(m[1]!.eventKey, fail);
    await run(conv, handoff(1), m[0]!, [m[1]!, await zimMessage('cy', 'dee', 'c1', true), m[2]!]);
    assert.ok('execution' in fail, 'the batch failed');
    // c1 then settled alone (its single mirror), and the rest went in a batch naming the failed one.
    assert.deepEqual(batches.get(conv), [
      ['c1', "c1'", 'c2'],
      ["c1'", 'c2'],
    ]);
    await assertOnce(conv, ['c0', 'c1', 'c2']);
  });

  it('the edit arriving while the batch that sent the message fails: it joins the rest (adopt)', async () => {
    const conv = 'peer:eve:fay';
    const send = handoff(1);
    const m = await Promise.all(['e0', 'e1', 'e2'].map((id) => zimMessage('eve', 'fay', id)));
    let open = () => {};
    const fail: { gate?: Promise<void>; execution?: string } = { gate: new Promise<void>((r) => (open = r)) };
    failAt.set(m[1]!.eventKey, fail);
    const edit = await zimMessage('eve', 'fay', 'e1', true);
    slow.add(m[0]!.msgId!);
    await send(m[0]!);
    await waitFor('the head in flight', async () => started.has(m[0]!.msgId!), 10_000);
    await send(m[1]!);
    await send(m[2]!);
    // The batch [e1, e2] has sent both; the edit arrives before it fails.
    await waitFor('e1 and e2 sent', async () => (await legacyBodies(conv)).length === 3, 10_000);
    await send(edit);
    try {
      await waitFor(
        'the edit queued',
        async () => (await stats(conv)).queued === 3,
        10_000,
        async () => JSON.stringify(await stats(conv))
      );
    } finally {
      open();
    }
    await allHandled(conv);
    assert.ok(fail.execution, 'the batch failed');
    assert.deepEqual(batches.get(conv), [
      ['e1', 'e2'],
      ["e1'", 'e2'],
    ]);
    await assertOnce(conv, ['e0', 'e1', 'e2']);
    await replayEveryRun(rig.t.client, `WorkflowType = "conversationSyncWorkflow"`);
  });
});
