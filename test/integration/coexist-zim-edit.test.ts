/**
 * A ZIM edit end to end over real HTTP: an App 2.0 user sends through the ZIM emulator's SDK, its signed send_msg
 * callback reaches the receiver, which hands it to the conversation's workflow on a real Temporal dev server, and the
 * worker mirrors it to the reference legacy server. Then the user edits the message through the SDK, which fires
 * send_msg again (coexistence.md §3, §6).
 *
 * - The edit reuses the msg_id (ZIM's documented id; the emulator's default): another event key, but the ledger
 *   holds the message SENT, so it is counted as already mirrored and nothing is written. Edits are not propagated:
 *   the legacy side keeps the original body.
 * - The edit carries a new msg_id (`editReusesMsgId: false`, UNCONFIRMED): nothing tells it from a new message, so it
 *   is mirrored as one; the legacy side then holds the original and the edited body.
 *
 * In both, nothing comes back to ZIM: ZIM holds the one message, with the edited body.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SyncEvent } from '../../src/coexist/sync-event';
import { syncStatsQuery, type SyncStats } from '../../workflows/coexist';
import { groupOnBothSides, useCoexistRig } from '../helpers/coexist-rig';
import { post } from '../helpers/coexist-sides';
import { waitFor } from '../helpers/wait-for';

describe('a ZIM SDK edit through the receiver and Temporal to the legacy server', { timeout: 120_000 }, () => {
  /** Conversations whose next single mirror to the legacy side waits for the test (`hold`). */
  const gates = new Map<string, { entered: () => void; released: Promise<void> }>();
  const rig = useCoexistRig({
    name: 'zim-edit',
    users: ['ann', 'bob', 'cy', 'dee'],
    worker: {
      activities: (acts) => ({
        ...acts,
        mirrorToLegacy: async (e: SyncEvent, adopt?: string[]) => {
          const gate = gates.get(e.conv);
          gates.delete(e.conv);
          if (gate) {
            gate.entered();
            await gate.released;
          }
          return acts.mirrorToLegacy(e, adopt);
        },
      }),
    },
    // Settled by the receiver as `zim-migrate receiver` does: the echo of a mirror the store holds SENT.
    receiver: { workflowInput: { settleMs: 200 }, settleEchoes: true },
    beforeCapture: async (r) => {
      await groupOnBothSides(r, { id: 'g-same', owner: 'ann', members: ['bob'], name: 'Same' });
      await groupOnBothSides(r, { id: 'g-new', owner: 'cy', members: ['dee'], name: 'New' });
      await groupOnBothSides(r, { id: 'g-batch', owner: 'bob', members: ['cy'], name: 'Batch' });
    },
  });

  const sdk = (action: 'send' | 'edit', body: object) => post(`${rig.zim.emulator.url}/_emulator/sdk/${action}`, body);
  const statsOf = (conv: string): Promise<SyncStats> =>
    rig.t.client.workflow.getHandle(`coexist:${conv}`).query(syncStatsQuery);
  /** Each conversation handled `n` events one way or another (a duplicate dropped too: the assertions say which). */
  const allHandled = async (convs: Conv[], n: number) => {
    for (const c of convs) {
      const s = await statsOf(c.key);
      if (s.queued > 0 || s.mirroredToLegacy + s.alreadyMirrored + s.duplicatesDropped < n) return false;
    }
    return true;
  };
  const legacyBodies = async (conv: string) => (await rig.legacyClient.page(conv, 0, 100)).messages.map((m) => m.body);
  const zimBodies = async (c: Conv) =>
    (c.groupId !== undefined
      ? await rig.zim.client.queryGroupMsg({ GroupId: c.groupId, Limit: 100 })
      : await rig.zim.client.queryPeerMsg({ FromUserId: c.from, ToUserId: c.to!, Limit: 100 })
    ).messages.map((m) => m.msgBody ?? '');
  /** The legacy server's own message.created routing events, all conversations: each a message written to it. */
  const legacyWrites = () =>
    new Set(rig.legacy.webhook.log.filter((d) => d.type === 'message.created').map((d) => d.eventId)).size;
  /** Every echo of a mirror handled: by the receiver (the store) or by the conversations' workflows. */
  const echoes = async (convs: Conv[]) => {
    let n = await rig.store.echoesSettledByReceivers('');
    for (const c of convs) n += (await statsOf(c.key).catch(() => undefined))?.echoesSuppressed ?? 0;
    return n;
  };

  /** What a wait that timed out saw: each conversation's legacy bodies and counts. */
  const account = (convs: Conv[]) => async () =>
    JSON.stringify(
      await Promise.all(
        convs.map(async (c) => [c.key, await legacyBodies(c.key), await statsOf(c.key).catch(() => undefined)])
      )
    );

  interface Conv {
    key: string;
    from: string;
    to?: string;
    groupId?: string;
  }
  const target = (c: Conv) => (c.groupId !== undefined ? { groupId: c.groupId } : { to: c.to });

  /**
   * Sends one message in each conversation through the SDK, waits until each is mirrored, then edits each and waits
   * until the edits are handled. Returns the ids each send and each edit's callback carried.
   */
  async function sendThenEdit(convs: Conv[], mirroredAfterEdit: number) {
    const ids: string[] = [];
    const editIds: string[] = [];
    // The receivers' count is the rig's, over the earlier tests too.
    const echoesAtStart = await echoes(convs);
    for (const c of convs) {
      const sent = await sdk('send', { from: c.from, ...target(c), body: `original in ${c.key}` });
      ids.push(String(sent['msgId']));
    }
    await waitFor(
      'each message mirrored once, its echo handled',
      async () => {
        for (const c of convs) if ((await statsOf(c.key).catch(() => undefined))?.mirroredToLegacy !== 1) return false;
        return (await echoes(convs)) === echoesAtStart + convs.length;
      },
      30_000,
      account(convs)
    );
    const echoesBefore = await echoes(convs);
    for (const [i, c] of convs.entries()) {
      const edited = await sdk('edit', { from: c.from, ...target(c), msgId: ids[i], body: `edited in ${c.key}` });
      editIds.push(String(edited['msgId']));
    }
    await rig.zim.emulator.callbacks.idle();
    await waitFor('each edit handled by its conversation', () => allHandled(convs, 2), 30_000, account(convs));
    await rig.legacy.webhook.idle();
    await waitFor(
      'every echo handled',
      async () => (await echoes(convs)) === echoesBefore + mirroredAfterEdit,
      30_000,
      account(convs)
    );
    // Give a stray redelivery or echo a moment to show up.
    await new Promise((r) => setTimeout(r, 500));
    await rig.zim.emulator.callbacks.idle();
    await rig.legacy.webhook.idle();
    return { ids, editIds };
  }

  it('an edit reusing its msg_id is counted as already mirrored: the legacy side keeps the original once', async () => {
    const convs: Conv[] = [
      { key: 'peer:ann:bob', from: 'ann', to: 'bob' },
      { key: 'group:g-same', from: 'ann', groupId: 'g-same' },
    ];
    const writesBefore = legacyWrites();
    const { ids, editIds } = await sendThenEdit(convs, 0);
    assert.deepEqual(editIds, ids, 'each edit reused its msg_id');
    // The edit's callback carried the original msg_id and the new body, and the receiver took it (200).
    for (const [i, c] of convs.entries()) {
      const calls = rig.zim.emulator.callbacks
        .deliveries()
        .filter((d) => d.event === 'send_msg' && d.fields['msg_id'] === ids[i]);
      assert.deepEqual(
        calls.map((d) => [d.fields['msg_body'], d.outcome, d.attempts]),
        [
          [`original in ${c.key}`, 'delivered', [200]],
          [`edited in ${c.key}`, 'delivered', [200]],
        ],
        `${c.key}: the send and the edit, each delivered once`
      );
    }
    for (const c of convs) {
      // Not propagated: the original body, once; the edit wrote nothing there.
      assert.deepEqual(await legacyBodies(c.key), [`original in ${c.key}`], `${c.key} on the legacy side`);
      // ZIM edited its one copy in place, and nothing was mirrored back.
      assert.deepEqual(await zimBodies(c), [`edited in ${c.key}`], `${c.key} in ZIM`);
      const s = await statsOf(c.key);
      assert.deepEqual(
        {
          mirroredToLegacy: s.mirroredToLegacy,
          alreadyMirrored: s.alreadyMirrored,
          mirroredToZim: s.mirroredToZim,
          duplicatesDropped: s.duplicatesDropped,
          refused: s.refused,
          parked: s.parked,
        },
        { mirroredToLegacy: 1, alreadyMirrored: 1, mirroredToZim: 0, duplicatesDropped: 0, refused: [], parked: [] },
        `${c.key}: the edit counted as already mirrored`
      );
    }
    assert.equal(legacyWrites() - writesBefore, 2, 'the two sends written to the legacy side, the edits not');
    // One ledger row per message, sent once.
    const rows = (await rig.store.records()).filter((r) => ids.includes(r.originId));
    assert.deepEqual(
      rows.map((r) => [r.origin, r.state, r.attempts]),
      ids.map(() => ['zim', 'SENT', 1])
    );
  });

  it('an edit under a new msg_id (editReusesMsgId false) cannot be told from a new message: mirrored as one', async () => {
    rig.zim.emulator.callbacks.configure({ switches: { editReusesMsgId: false } });
    try {
      const convs: Conv[] = [
        { key: 'peer:cy:dee', from: 'cy', to: 'dee' },
        { key: 'group:g-new', from: 'cy', groupId: 'g-new' },
      ];
      const writesBefore = legacyWrites();
      const { ids, editIds } = await sendThenEdit(convs, convs.length);
      assert.ok(
        editIds.every((id, i) => id !== ids[i]),
        'each edit came under a new msg_id'
      );
      assert.equal(legacyWrites() - writesBefore, 4, 'the two sends and the two edits written to the legacy side');
      // A ledger row for each, sent once.
      const rows = (await rig.store.records()).filter((r) => ids.includes(r.originId) || editIds.includes(r.originId));
      assert.deepEqual(
        rows.map((r) => [r.origin, r.state, r.attempts]),
        [...ids, ...editIds].map(() => ['zim', 'SENT', 1])
      );
      for (const c of convs) {
        // Both bodies, each once, in order: the legacy side cannot tell this was an edit.
        assert.deepEqual(
          await legacyBodies(c.key),
          [`original in ${c.key}`, `edited in ${c.key}`],
          `${c.key} on the legacy side`
        );
        assert.deepEqual(await zimBodies(c), [`edited in ${c.key}`], `${c.key} in ZIM: nothing mirrored back`);
        const s = await statsOf(c.key);
        assert.deepEqual(
          [s.mirroredToLegacy, s.alreadyMirrored, s.mirroredToZim, s.refused, s.parked],
          [2, 0, 0, [], []],
          `${c.key}: the edit mirrored as a new message`
        );
      }
    } finally {
      rig.zim.emulator.callbacks.configure({ switches: { editReusesMsgId: true } });
    }
  });

  it('an edit arriving before its message is mirrored, in one batch with it: counted as already mirrored', async () => {
    const convs: Conv[] = [
      { key: 'peer:bob:cy', from: 'bob', to: 'cy' },
      { key: 'group:g-batch', from: 'bob', groupId: 'g-batch' },
    ];
    const echoesAtStart = await echoes(convs);
    for (const c of convs) {
      // A first message whose mirror waits: the message and its edit queue behind it and settle, then go together.
      let entered!: () => void;
      let release!: () => void;
      const inMirror = new Promise<void>((r) => (entered = r));
      gates.set(c.key, { entered, released: new Promise<void>((r) => (release = r)) });
      await sdk('send', { from: c.from, ...target(c), body: `first in ${c.key}` });
      await inMirror;
      const sent = await sdk('send', { from: c.from, ...target(c), body: `original in ${c.key}` });
      await sdk('edit', { from: c.from, ...target(c), msgId: sent['msgId'], body: `edited in ${c.key}` });
      await rig.zim.emulator.callbacks.idle();
      // Both in the workflow's queue behind the held first (not a fixed wait: a loaded machine runs the signals'
      // workflow task late), then past the settle window (200 ms): ready together when the first is done.
      await waitFor(
        `${c.key}: the message and its edit queued`,
        async () => (await statsOf(c.key)).queued >= 3,
        30_000
      );
      await new Promise((r) => setTimeout(r, 400));
      release();
    }
    await waitFor(
      'each conversation handled its three events, every echo handled',
      async () => (await allHandled(convs, 3)) && (await echoes(convs)) >= echoesAtStart + 2 * convs.length,
      30_000,
      account(convs)
    );
    await new Promise((r) => setTimeout(r, 500));
    await rig.zim.emulator.callbacks.idle();
    await rig.legacy.webhook.idle();
    for (const c of convs) {
      // The batch sent the message once, with the body of the event first in line (the original: the edit is later).
      assert.deepEqual(
        await legacyBodies(c.key),
        [`first in ${c.key}`, `original in ${c.key}`],
        `${c.key} on the legacy side`
      );
      assert.deepEqual(
        (await zimBodies(c)).sort(),
        [`edited in ${c.key}`, `first in ${c.key}`],
        `${c.key} in ZIM: nothing mirrored back`
      );
      const s = await statsOf(c.key);
      assert.deepEqual(
        [s.mirroredToLegacy, s.alreadyMirrored, s.duplicatesDropped, s.mirroredToZim, s.refused, s.parked],
        [2, 1, 0, 0, [], []],
        `${c.key}: the edit in the message's batch counted as already mirrored`
      );
      // The case meant: the first alone, then the message and its edit in one batch.
      assert.deepEqual(await mirrorActivities(c.key), ['mirrorToLegacy', 'mirrorBatch'], `${c.key}: the activities`);
    }
    assert.equal(await echoes(convs), echoesAtStart + 2 * convs.length, 'one echo for each message written');
  });

  /** The mirror activities the conversation's workflow scheduled, in order. */
  async function mirrorActivities(conv: string): Promise<string[]> {
    const scheduled: string[] = [];
    for await (const wf of rig.t.client.workflow.list({ query: `WorkflowId = "coexist:${conv}"` }))
      for (const ev of (await rig.t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? []) {
        const type = ev.activityTaskScheduledEventAttributes?.activityType?.name;
        if (type?.startsWith('mirror')) scheduled.push(type);
      }
    return scheduled;
  }
});
