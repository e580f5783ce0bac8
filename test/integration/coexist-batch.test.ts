/**
 * A backlog in one conversation over real HTTP with a real Temporal server: a burst of legacy messages to one pair
 * (then one of ZIM messages) piles up behind the mirror in flight, and the conversation's workflow mirrors the ready
 * ones in batches, one activity each (docs/coexistence.md §3). Every message arrives once, in its side's order, in
 * fewer mirror activities than messages; a send whose record failed inside a batch is found in the tail by the
 * retry. Conversation histories recorded before batches, and while a batch took one side only, replay through the
 * current code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/worker/workflow-bundle';
import { syncStatsQuery } from '../../workflows/coexist';
import { useCoexistRig } from '../helpers/coexist-rig';
import { post } from '../helpers/coexist-sides';
import { waitFor } from '../helpers/wait-for';
import { replayEveryRun } from '../helpers/replay';

const FROM_LEGACY = 40;
const FROM_ZIM = 20;
const CONV = 'peer:ann:bob';
const MIRRORS = new Set(['mirrorToZim', 'mirrorToLegacy', 'mirrorBatch']);

describe('a backlog in one conversation', { timeout: 240_000 }, () => {
  /** The record of this many-th legacy→ZIM send fails, as if the worker died between the send and its record. */
  let failRecord = 7;
  const rig = useCoexistRig({
    name: 'batch',
    users: ['ann', 'bob', 'cy'],
    scheduler: { headroom: 0.02 },
    worker: {
      store: (store) => ({
        ...store,
        markSent: async (origin, ...rest) => {
          if (origin === 'legacy' && failRecord > 0 && --failRecord === 0)
            throw new Error('worker died between the send and its record');
          return store.markSent(origin, ...rest);
        },
      }),
    },
    receiver: { settleEchoes: true },
  });

  it('mirrors a burst to one pair once each, in order, in fewer activities than messages', async () => {
    const legacySent: string[] = [];
    for (let i = 0; i < FROM_LEGACY; i++) {
      const from = i % 3 ? 'ann' : 'bob';
      legacySent.push(`L${i}`);
      await post(`${rig.legacy.url}/_test/app1/send`, { from, to: from === 'ann' ? 'bob' : 'ann', body: `L${i}` });
    }
    const zimSent: string[] = [];
    for (let i = 0; i < FROM_ZIM; i++) {
      const from = i % 2 ? 'ann' : 'bob';
      zimSent.push(`Z${i}`);
      await post(`${rig.zim.emulator.url}/_emulator/sdk/send`, {
        from,
        to: from === 'ann' ? 'bob' : 'ann',
        body: `Z${i}`,
      });
    }
    const handle = rig.t.client.workflow.getHandle(`coexist:${CONV}`);
    await waitFor('every message mirrored', async () => {
      const s = await handle.query(syncStatsQuery).catch(() => undefined);
      return s !== undefined && s.mirroredToZim === FROM_LEGACY && s.mirroredToLegacy === FROM_ZIM && s.queued === 0;
    });

    await assertOnceInOrder('ann', 'bob', [...legacySent, ...zimSent]);
    const stats = await handle.query(syncStatsQuery);
    assert.equal(failRecord, 0, 'the failed record was injected');
    assert.deepEqual([stats.resolvedByTail, stats.alreadyMirrored, stats.reordered], [1, 0, 0]);
    assert.deepEqual(stats.refused, []);
    assert.equal(stats.lags?.legacy.length, FROM_LEGACY, 'a lag for each message');
    assert.equal(stats.lags?.zim.length, FROM_ZIM);

    // Fewer mirror activities than messages: a batch for each backlog.
    const scheduled = await mirrorActivities(CONV);
    const batches = scheduled.filter((type) => type === 'mirrorBatch').length;
    console.log(`${FROM_LEGACY + FROM_ZIM} messages in ${scheduled.length} mirror activities (${batches} batches)`);
    assert.ok(batches > 0, 'batches');
    assert.ok(
      scheduled.length < (FROM_LEGACY + FROM_ZIM) / 2,
      `${scheduled.length} mirror activities for ${FROM_LEGACY + FROM_ZIM} messages`
    );

    await replaysEvery(CONV);
  });

  it('takes both sides into one batch: messages written in turn on each side are not a batch each', async () => {
    const conv = 'peer:ann:cy';
    const sent: string[] = [];
    for (let i = 0; i < 15; i++) {
      sent.push(`l${i}`, `z${i}`);
      await post(`${rig.legacy.url}/_test/app1/send`, { from: 'ann', to: 'cy', body: `l${i}` });
      await post(`${rig.zim.emulator.url}/_emulator/sdk/send`, { from: 'cy', to: 'ann', body: `z${i}` });
    }
    const handle = rig.t.client.workflow.getHandle(`coexist:${conv}`);
    await waitFor('every message mirrored', async () => {
      const s = await handle.query(syncStatsQuery).catch(() => undefined);
      return s !== undefined && s.mirroredToZim === 15 && s.mirroredToLegacy === 15 && s.queued === 0;
    });
    await assertOnceInOrder('ann', 'cy', sent);
    // Each side's messages alone make runs of one (no batch): 30 activities.
    const scheduled = await mirrorActivities(conv);
    console.log(`30 messages written in turn in ${scheduled.length} mirror activities`);
    assert.ok(scheduled.length < 10, `${scheduled.length} mirror activities for 30 messages`);
    await replaysEvery(conv);
  });

  /**
   * Both systems hold every message of `peer:<a>:<b>` once, and each side's (told apart by their first letter) in
   * the order it was written.
   */
  async function assertOnceInOrder(a: string, b: string, sent: string[]): Promise<void> {
    const inZim = (await rig.zim.client.queryPeerMsg({ FromUserId: a, ToUserId: b, Limit: 100 })).messages
      .map((m) => m.msgBody)
      .reverse();
    const inLegacy = (await rig.legacyClient.page(`peer:${a}:${b}`, 0, 1000)).messages.map((m) => m.body);
    for (const [side, bodies] of [
      ['ZIM', inZim],
      ['legacy', inLegacy],
    ] as const) {
      assert.equal(bodies.length, sent.length, `${side}: ${bodies.join(' ')}`);
      for (const origin of new Set(sent.map((m) => m[0])))
        assert.deepEqual(
          bodies.filter((m) => m[0] === origin),
          sent.filter((m) => m[0] === origin),
          `${side}: the ${origin}… messages once each, in order`
        );
    }
  }

  /** The mirror activities every run of the conversation's workflow scheduled, by type. */
  async function mirrorActivities(conv: string): Promise<string[]> {
    const scheduled: string[] = [];
    for await (const wf of rig.t.client.workflow.list({ query: `WorkflowId = "coexist:${conv}"` }))
      for (const ev of (await rig.t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? []) {
        const type = ev.activityTaskScheduledEventAttributes?.activityType?.name;
        if (type && MIRRORS.has(type)) scheduled.push(type);
      }
    return scheduled;
  }

  async function replaysEvery(conv: string): Promise<void> {
    await replayEveryRun(rig.t.client, `WorkflowId = "coexist:${conv}"`);
  }

  it('replays a conversation recorded before batches (a backlog mirrored one message at a time)', async () => {
    // Recorded with the conversation workflow of commit b2cae57 (binary protobuf): six legacy messages, then three
    // ZIM ones, signalled at once, each mirror 300 ms long, so that ready messages queued behind each.
    const file = path.join(__dirname, '../fixtures/coexist-conversation-before-batch.history.pb');
    const history = temporal.api.history.v1.History.decode(readFileSync(file));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'coexist:peer:ann:bob');
  });

  it('replays a conversation recorded while batches took one side only (patch marker mirror-batch-either-side)', async () => {
    // Recorded with the conversation workflow of commit 450bfeb, 2a66a45's parent (binary protobuf, 79 events), on
    // this rig: legacy L0's mirror held in flight while L1-L4, Z1, L5, L6, Z2, Z3 arrived (L legacy, Z ZIM), all
    // ready when it returned. Each batch took its head's side only: mirrorToZim L0, mirrorBatch L1-L4, mirrorToLegacy
    // Z1 alone, mirrorBatch L5-L6, mirrorBatch Z2-Z3, then the close signal. Its only marker is mirror-batch. A batch
    // shorter than the current code would take replays as stopped early (the rest go back to the inbox), but the
    // lone Z1 does not: taking L5-L6 in with it would schedule mirrorBatch where the history has mirrorToLegacy.
    const file = path.join(__dirname, '../fixtures/coexist-conversation-one-side-batches.history.pb');
    const history = temporal.api.history.v1.History.decode(readFileSync(file));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'coexist:peer:ann:bob');
  });
});
