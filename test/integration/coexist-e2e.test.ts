/**
 * Two-way coexistence end to end over real HTTP: the reference legacy server and the ZIM emulator both post to the
 * receiver (signed), which hands each event to its conversation's workflow on a real Temporal dev server; the
 * worker's activities mirror through ZIM's send APIs and the legacy write API. Callbacks and routing webhooks are
 * redelivered, duplicated and reordered (seeded). At the end both sides hold every message of every conversation
 * exactly once, each side's messages in their order, nothing was mirrored back, and no message text is in any
 * workflow history.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Origin } from '../../src/coexist/coexist-store';
import { historyContains } from '../../src/testing/history-search';
import { syncStatsQuery, type SyncStats } from '../../workflows/coexist';
import { groupOnBothSides, useCoexistRig } from '../helpers/coexist-rig';
import { post } from '../helpers/coexist-sides';
import { waitFor } from '../helpers/wait-for';
import { registerUsers } from '../helpers/zim';
import { replayEveryRun } from '../helpers/replay';

const USERS = ['ann', 'bob', 'cy', 'dee'];
const PAIRS = [
  ['ann', 'bob'],
  ['bob', 'cy'],
  ['cy', 'dee'],
] as const;
const GROUP = 'g-team';
const CANARY = `CANARY-${randomUUID()}`;

describe('two-way coexistence over HTTP with a real Temporal server', { timeout: 240_000 }, () => {
  /** The next record of a send from this side fails, as if the worker died between the send and its record. */
  const dieAfterSend = new Set<Origin>();
  const rig = useCoexistRig({
    name: 'e2e',
    users: USERS,
    legacyFaults: { duplicateRate: 0.25, seed: 11 },
    zimFaults: { seed: 5, duplicateRate: 0.25, reorderRate: 0.25, reorderDelayMs: 150, echoBeforeResponseRate: 0.2 },
    // ZIM's sends and reads take their slots in the call schedule, as in production.
    scheduler: { headroom: 0.02 },
    worker: {
      store: (store) => ({
        ...store,
        markSent: async (origin, ...rest) => {
          if (dieAfterSend.delete(origin)) throw new Error('worker died between the send and its record');
          return store.markSent(origin, ...rest);
        },
      }),
    },
    // A short settle window and small runs, so continue-as-new happens during the test.
    // As in production: the echo of a mirror already recorded SENT is settled by the receiver, without a hand-off.
    receiver: { workflowInput: { settleMs: 1_000, eventsPerRun: 8 }, settleEchoes: true },
    // Both sides know the users and the group before capture starts.
    beforeCapture: (r) =>
      groupOnBothSides(r, { id: GROUP, owner: 'ann', members: ['bob', 'cy', 'dee'], name: 'Team', zimName: false }),
  });

  it('mirrors one-to-one and group messages both ways, each exactly once, none mirrored back', async () => {
    // Traffic on both sides at once: App 1.0 users through the legacy server, App 2.0 users through ZIM's SDK.
    const fromLegacy: string[] = [];
    const fromZim: string[] = [];
    const conversations = [...PAIRS.map(([a, b]) => ({ a, b })), { group: GROUP }];
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 12; i++) {
      for (const [k, c] of conversations.entries()) {
        const sender = 'group' in c ? USERS[i % USERS.length]! : i % 2 ? c.a : c.b;
        const peer = 'group' in c ? undefined : sender === c.a ? c.b : c.a;
        const target = 'group' in c ? { groupId: c.group } : { to: peer };
        const lBody = `L${i}.${k} from ${sender} ${CANARY}`;
        const zBody = `Z${i}.${k} from ${sender} ${CANARY}`;
        fromLegacy.push(lBody);
        fromZim.push(zBody);
        sends.push(post(`${rig.legacy.url}/_test/app1/send`, { from: sender, ...target, body: lBody }));
        sends.push(post(`${rig.zim.emulator.url}/_emulator/sdk/send`, { from: sender, ...target, body: zBody }));
      }
      // Sends within a conversation are sequential on each side; conversations and sides run concurrently.
      await Promise.all(sends.splice(0));
    }

    const legacyBodies = async (conv: string) =>
      (await rig.legacyClient.page(conv, 0, 1000)).messages.map((m) => m.body);
    const zimBodies = async (c: (typeof conversations)[number]) => {
      const page =
        'group' in c
          ? await rig.zim.client.queryGroupMsg({ GroupId: c.group, Limit: 100 })
          : await rig.zim.client.queryPeerMsg({ FromUserId: c.a, ToUserId: c.b, Limit: 100 });
      return page.messages.map((m) => m.msgBody).reverse();
    };
    const key = (c: (typeof conversations)[number]) =>
      'group' in c ? `group:${c.group}` : `peer:${[c.a, c.b].sort().join(':')}`;
    const expected = 2 * 12;

    await waitFor('every message on both sides', async () => {
      for (const c of conversations) {
        if ((await legacyBodies(key(c))).length < expected) return false;
        if ((await zimBodies(c)).length < expected) return false;
      }
      return true;
    });
    // Let every redelivery, duplicate and echo reach its workflow and be handled; then give strays a moment.
    const statsOf = async (c: (typeof conversations)[number]) =>
      rig.t.client.workflow.getHandle(`coexist:${key(c)}`).query(syncStatsQuery);
    await rig.legacy.webhook.idle();
    await rig.zim.emulator.callbacks.idle();
    await waitFor('every echo handled', async () => {
      let echoes = await rig.store.echoesSettledByReceivers('');
      for (const c of conversations) {
        const s = await statsOf(c);
        if (s.queued > 0) return false;
        echoes += s.echoesSuppressed;
      }
      return echoes >= 2 * 12 * conversations.length;
    });
    await new Promise((r) => setTimeout(r, 1_000));

    for (const [k, c] of conversations.entries()) {
      const conv = key(c);
      const mine = (bodies: string[]) => bodies.filter((b) => new RegExp(`^[LZ]\\d+\\.${k} `).test(b));
      const inLegacy = mine(await legacyBodies(conv));
      const inZim = mine(await zimBodies(c));
      const wantL = fromLegacy.filter((b) => b.includes(`.${k} `));
      const wantZ = fromZim.filter((b) => b.includes(`.${k} `));
      // Exactly once each, on both sides (a message mirrored back would appear twice on its own side).
      for (const [side, bodies] of [
        ['legacy', inLegacy],
        ['ZIM', inZim],
      ] as const) {
        assert.equal(bodies.length, expected, `${conv} in ${side}: ${bodies.length} messages`);
        assert.deepEqual([...bodies].sort(), [...wantL, ...wantZ].sort(), `${conv} in ${side}: each message once`);
      }
      // Each side's messages keep their order on the other side.
      assert.deepEqual(
        inZim.filter((b) => b.startsWith('L')),
        inLegacy.filter((b) => b.startsWith('L')),
        `${conv}: legacy order kept in ZIM`
      );
      assert.deepEqual(
        inLegacy.filter((b) => b.startsWith('Z')),
        inZim.filter((b) => b.startsWith('Z')),
        `${conv}: ZIM order kept in legacy`
      );
    }

    // The workflows' account: every message mirrored once, every echo suppressed, redeliveries dropped.
    const totals: Partial<Record<keyof SyncStats, number>> = {};
    for (const c of conversations) {
      const stats = await statsOf(c);
      assert.deepEqual(stats.refused, [], `${key(c)}: nothing refused`);
      for (const [name, value] of Object.entries(stats))
        if (typeof value === 'number') totals[name as keyof SyncStats] = (totals[name as keyof SyncStats] ?? 0) + value;
    }
    const perSide = 12 * conversations.length;
    assert.equal(totals.mirroredToZim, perSide);
    assert.equal(totals.mirroredToLegacy, perSide);
    // Settled by the receiver or by the workflow, each once, redeliveries and duplicates included.
    const byReceiver = await rig.store.echoesSettledByReceivers('');
    assert.equal(
      (totals.echoesSuppressed ?? 0) + byReceiver,
      2 * perSide,
      'each mirror came back once as an echo, and stopped there'
    );
    assert.ok(byReceiver > 0, 'echoes of recorded mirrors were settled by the receiver');
    assert.ok((totals.duplicatesDropped ?? 0) > 0, 'duplicates were delivered and dropped');
    assert.ok((totals.runs ?? 0) > conversations.length, 'conversations continued as new');
    const records = await rig.store.records();
    assert.equal(records.length, 2 * perSide);
    assert.ok(records.every((r) => r.state === 'SENT' && r.targetId !== null && r.attempts === 1));

    // No message text in any run's history; the search itself finds what is there (the conversation key).
    let runs = 0;
    for await (const wf of rig.t.client.workflow.list({ query: `WorkflowType = "conversationSyncWorkflow"` })) {
      const history = await rig.t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      assert.ok(historyContains(history, wf.workflowId.slice('coexist:'.length)), 'the search sees payloads');
      assert.ok(!historyContains(history, CANARY), `no message text in ${wf.workflowId} run ${wf.runId}`);
      runs++;
    }
    assert.ok(runs > conversations.length, `every run searched (${runs})`);

    // Deterministic: every run replays from its history.
    const replayed = await replayEveryRun(rig.t.client, `WorkflowType = "conversationSyncWorkflow"`);
    assert.equal(replayed, runs);
  });

  it('a worker that dies between a send and its record: the retry finds the message and sends nothing more', async () => {
    await registerUsers(rig.zim.client, ['eve', 'fay']);
    await post(`${rig.legacy.url}/_test/users`, { users: ['eve', 'fay'] });
    dieAfterSend.add('legacy');
    await post(`${rig.legacy.url}/_test/app1/send`, { from: 'eve', to: 'fay', body: `to ZIM ${CANARY}` });
    dieAfterSend.add('zim');
    await post(`${rig.zim.emulator.url}/_emulator/sdk/send`, { from: 'fay', to: 'eve', body: `to legacy ${CANARY}` });
    const handle = rig.t.client.workflow.getHandle('coexist:peer:eve:fay');
    const receiverEchoes = await rig.store.echoesSettledByReceivers('');
    await waitFor('both mirrors settled, with both echoes', async () => {
      const s = await handle.query(syncStatsQuery).catch(() => undefined);
      const echoes = (s?.echoesSuppressed ?? 0) + (await rig.store.echoesSettledByReceivers('')) - receiverEchoes;
      return s !== undefined && s.mirroredToZim + s.mirroredToLegacy === 2 && echoes === 2;
    });
    const stats = await handle.query(syncStatsQuery);
    assert.equal(stats.resolvedByTail, 2, 'each retry found its message in the target tail');
    assert.equal(dieAfterSend.size, 0, 'both failures were injected');
    const zimSide = await rig.zim.client.queryPeerMsg({ FromUserId: 'eve', ToUserId: 'fay', Limit: 10 });
    const legacySide = (await rig.legacyClient.page('peer:eve:fay', 0, 10)).messages;
    assert.deepEqual(zimSide.messages.map((m) => m.msgBody).sort(), [`to ZIM ${CANARY}`, `to legacy ${CANARY}`].sort());
    assert.deepEqual(legacySide.map((m) => m.body).sort(), [`to ZIM ${CANARY}`, `to legacy ${CANARY}`].sort());
  });
});
