/**
 * The historical-import handoff over real HTTP with a real Temporal server: capture (the reference legacy server's
 * routing webhook and ZIM's callbacks into the receiver) starts before the export is taken; the export is staged
 * and imported by the real migration into the ZIM emulator, writing the real staging ledger. Live legacy messages
 * of a conversation whose history is not imported are held; once it is, those the history holds are dropped and
 * the rest mirrored, once; each check passes the held messages' times (their bodies settled when dropped as older)
 * and the held events' body references (marked used). A conversation the staging does not hold waits only for the accounts. A conversation
 * whose handoff released one message at a time (recorded before batches of released messages) replays.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { handoffSetting, type HandoffSetting } from '../../src/coexist/handoff-setting';
import { historyContains } from '../../src/testing/history-search';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import { FAST_BUDGETS } from '../../src/testing/migration-rig';
import { workflowBundle } from '../../src/worker/workflow-bundle';
import { syncEventSignal, syncStatsQuery, closeSignal, type SyncStats } from '../../workflows/coexist';
import { useCoexistRig } from '../helpers/coexist-rig';
import { post } from '../helpers/coexist-sides';
import { stageExport, writeExport } from '../helpers/exports';
import { waitFor } from '../helpers/wait-for';
import { replayEveryRun } from '../helpers/replay';

const CANARY = `CANARY-${randomUUID()}`;
const USERS = ['ann', 'bob', 'cy', 'dee'];
const GROUP = 'g-crew';
const AB = 'peer:ann:bob';
const CD = 'peer:cy:dee';
const G = `group:${GROUP}`;
/** Not in the export: six messages written after it wait for the accounts, then go in one batch. */
const BC = 'peer:bob:cy';
const BC_SENT = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6'];

describe('the historical-import handoff', { timeout: 300_000 }, () => {
  let setting: HandoffSetting;
  const rig = useCoexistRig({
    name: 'handoff',
    // The real migration imports into this emulator.
    emulator: 'migration',
    worker: { handoff: true },
    receiver: {
      workflowInput: { settleMs: 300 },
      importHandoff: ({ dir }) => {
        // The staging does not exist yet: capture starts before the export is taken.
        setting = handoffSetting(path.join(dir, 'staging.db'), { checkEveryMs: 500 });
        return () => Promise.resolve(setting);
      },
    },
    // The legacy side only: ZIM gets the users and the group from the import.
    beforeCapture: async ({ zim, legacy }) => {
      await post(`${legacy.url}/_test/users`, { users: USERS });
      await post(`${legacy.url}/_test/app1/createGroup`, {
        operator: 'ann',
        groupId: GROUP,
        name: 'Crew',
        members: ['bob', 'cy'],
      });
      // The account our group writes name as operator (docs/coexistence.md §3.1), registered before coexistence.
      await zim.client.userRegister({ UserInfo: [{ UserId: '__migration_bot' }] });
    },
  });

  const stats = (conv: string): Promise<SyncStats> =>
    rig.t.client.workflow.getHandle(`coexist:${conv}`).query(syncStatsQuery);
  const send = (from: string, target: { to: string } | { groupId: string }, body: string) =>
    post(`${rig.legacy.url}/_test/app1/send`, { from, ...target, body: `${body} ${CANARY}` });
  const zimBodies = async (c: { a: string; b: string } | { group: string }) => {
    const page =
      'group' in c
        ? await rig.zim.client.queryGroupMsg({ GroupId: c.group, Limit: 100 })
        : await rig.zim.client.queryPeerMsg({ FromUserId: c.a, ToUserId: c.b, Limit: 100 });
    return page.messages.map((m) => m.msgBody.replace(` ${CANARY}`, '')).sort();
  };
  const legacyBodies = async (conv: string) =>
    (await rig.legacyClient.page(conv, 0, 100)).messages.map((m) => m.body.replace(` ${CANARY}`, '')).sort();

  /** The export the legacy system would give: every message it holds now, but none zim-migrate wrote into it. */
  async function takeExport(): Promise<string> {
    const state = rig.legacy.store.snapshot();
    const peer: object[] = [];
    const group: object[] = [];
    for (const c of state.conversations)
      for (const m of c.messages) {
        if (m.originTag !== undefined || m.clientMsgId !== undefined) continue;
        const common = { id: m.id, from: m.from, sentAt: m.sentAt, type: 'text', body: { text: m.body } };
        if (c.conversation.kind === 'group') group.push({ ...common, group: c.conversation.groupId });
        else peer.push({ ...common, to: m.to });
      }
    const exportDir = writeExport(path.join(rig.dir, 'export'), {
      'users.ndjson': state.users.map((id) => ({ id })),
      'groups.ndjson': state.groups.map((g) => ({ id: g.id, name: g.name, owner: g.owner })),
      'group_members.ndjson': state.groups.flatMap((g) => g.members.map((user) => ({ group: g.id, user }))),
      'peer_messages.ndjson': peer,
      'group_messages.ndjson': group,
    });
    return stageExport(exportDir, setting.staging, Date.now());
  }

  it('holds live legacy messages until their history is imported, then drops what it holds and mirrors the rest once', async () => {
    // Capture is on; the export is not taken yet. These are in the export AND arrive live.
    await send('ann', { to: 'bob' }, 'A1');
    await send('bob', { to: 'ann' }, 'A2');
    await send('ann', { groupId: GROUP }, 'G1');
    await waitFor('the live copies held', async () => {
      const [ab, g] = await Promise.all([stats(AB), stats(G)]).catch(() => [undefined, undefined]);
      return ab?.handoff?.held === 2 && g?.handoff?.held === 1;
    });
    assert.match((await stats(AB)).handoff?.waiting ?? '', /no staging at .* yet/);

    await takeExport();
    // After the export: not in the history. cy and dee never talked before it (their conversation is not staged).
    await send('ann', { to: 'bob' }, 'A3');
    await send('bob', { groupId: GROUP }, 'G2');
    await send('cy', { to: 'dee' }, 'C1');
    for (const body of BC_SENT) await send('bob', { to: 'cy' }, body);
    // dee joins the group after the export, and writes: applied to ZIM before the import created the group, the
    // join would be refused there (and the message after it).
    await post(`${rig.legacy.url}/_test/app1/groups/${GROUP}/join`, { operator: 'dee' });
    await send('dee', { groupId: GROUP }, 'G3');
    await waitFor('held, waiting for the import', async () => {
      const [ab, g, cd, bc] = await Promise.all([stats(AB), stats(G), stats(CD), stats(BC)]).catch(() => []);
      return ab?.handoff?.held === 3 && g?.handoff?.held === 4 && cd?.handoff?.held === 1 && bc?.handoff?.held === 6;
    });
    const before = await stats(AB);
    assert.match(before.handoff?.waiting ?? '', /import not started yet|accounts: 0 of 4 users imported/);
    assert.equal(before.mirroredToZim, 0, 'nothing mirrored before the import');
    assert.equal((await stats(CD)).mirroredToZim, 0, 'a conversation not staged waits for the accounts');

    const result = await migrateIntoEmulator({
      connection: rig.t.server.env.nativeConnection,
      client: rig.t.client,
      emulator: rig.zim.emulator,
      stagingPath: setting.staging,
      migrationId: 'handoff',
      budgets: FAST_BUDGETS,
      input: { stages: ['accounts', 'peer-messages', 'groups', 'group-messages'] },
    });
    assert.equal(result.status, 'completed');

    await waitFor('released after the import', async () => {
      const [ab, g, cd, bc] = await Promise.all([stats(AB), stats(G), stats(CD), stats(BC)]);
      return ab.mirroredToZim === 1 && g.mirroredToZim === 2 && cd.mirroredToZim === 1 && bc.mirroredToZim === 6;
    });
    // After the handoff: straight through, both ways (App 2.0 users write to ZIM).
    await send('bob', { to: 'ann' }, 'A4');
    await post(`${rig.zim.emulator.url}/_emulator/sdk/send`, { from: 'ann', to: 'bob', body: `Z1 ${CANARY}` });
    await waitFor('live traffic both ways', async () => {
      const ab = await stats(AB);
      return ab.mirroredToZim === 2 && ab.mirroredToLegacy === 1 && ab.queued === 0;
    });

    assert.deepEqual(await zimBodies({ a: 'ann', b: 'bob' }), ['A1', 'A2', 'A3', 'A4', 'Z1']);
    assert.deepEqual(await legacyBodies(AB), ['A1', 'A2', 'A3', 'A4', 'Z1']);
    assert.deepEqual(await zimBodies({ group: GROUP }), ['G1', 'G2', 'G3']);
    const members = await rig.zim.client.queryGroupMemberList({ GroupId: GROUP, Limit: 100 });
    assert.ok(
      members.members.some((m) => m.userId === 'dee'),
      'the join after the export applied'
    );
    assert.deepEqual(await zimBodies({ a: 'cy', b: 'dee' }), ['C1']);
    const ab = await stats(AB);
    assert.deepEqual({ ...ab.handoff }, { held: 3, dropped: 2, released: 1, parked: 0 });
    const g = await stats(G);
    assert.deepEqual({ ...g.handoff }, { held: 4, dropped: 1, released: 3, parked: 0 });
    assert.equal(g.groupChangesToZim, 1);
    assert.deepEqual(g.refused, []);
    assert.deepEqual({ ...(await stats(CD)).handoff }, { held: 1, dropped: 0, released: 1, parked: 0 });
    // Released together: once each, in order, in one mirror activity (six without batches).
    const bc = await rig.zim.client.queryPeerMsg({ FromUserId: 'bob', ToUserId: 'cy', Limit: 100 });
    assert.deepEqual(bc.messages.map((m) => m.msgBody.replace(` ${CANARY}`, '')).reverse(), BC_SENT);
    assert.deepEqual({ ...(await stats(BC)).handoff }, { held: 6, dropped: 0, released: 6, parked: 0 });
    const bcActivities: string[] = [];
    for await (const wf of rig.t.client.workflow.list({ query: `WorkflowId = "coexist:${BC}"` }))
      for (const ev of (await rig.t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? [])
        if (ev.activityTaskScheduledEventAttributes?.activityType?.name?.startsWith('mirror'))
          bcActivities.push(ev.activityTaskScheduledEventAttributes.activityType.name);
    assert.deepEqual(bcActivities, ['mirrorBatch']);
    // Each check passes the held messages' times with their ids, for the activity to settle the bodies of those
    // dropped as older than the history's newest (test/integration/coexist-handoff-history.test.ts).
    const abChecks: [string, string, string[], Record<string, number> | undefined, string[] | undefined][] = [];
    for await (const wf of rig.t.client.workflow.list({ query: `WorkflowId = "coexist:${AB}"` }))
      for (const ev of (await rig.t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? []) {
        const scheduled = ev.activityTaskScheduledEventAttributes;
        if (scheduled?.activityType?.name !== 'handoffHistory') continue;
        const args = (scheduled.input?.payloads ?? []).map((p) => defaultPayloadConverter.fromPayload(p));
        abChecks.push(args as (typeof abChecks)[number]);
      }
    // And the body references of all it holds, marked used so they outlive the unused bound (coexistence.md §4):
    // each held body's once, not at every check (at most once an hour, KEEP_BODY_EVERY_MS).
    assert.ok(
      abChecks.some(([, , ids]) => ids.length === 3),
      'the import checked with A1, A2, A3 held'
    );
    const refsPassed = abChecks.flatMap(([, , , , refs]) => refs ?? []);
    assert.equal(refsPassed.length, 3, `each of the 3 held bodies' references passed once: ${refsPassed.join(', ')}`);
    assert.equal(new Set(refsPassed).size, 3);
    assert.ok(refsPassed.every((r) => /^b:/.test(r)));
    assert.ok(abChecks.length > 3, 'more checks than references: later checks pass none again');
    for (const [, , ids, times] of abChecks) {
      assert.deepEqual(Object.keys(times ?? {}).sort(), [...ids].sort(), 'a time per message asked about');
      assert.ok(Object.values(times ?? {}).every((t) => Number.isFinite(t) && t > 0));
    }

    // No message text in any history, and every run replays.
    const query = `WorkflowType = "conversationSyncWorkflow"`;
    for await (const wf of rig.t.client.workflow.list({ query })) {
      const history = await rig.t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      assert.ok(!historyContains(history, CANARY), `no message text in ${wf.workflowId}`);
    }
    await replayEveryRun(rig.t.client, query);
  });

  it('parks what is beyond the hold limit and what is still held when the sync stops', async () => {
    const conv = 'peer:eve:fay';
    const handle = await rig.t.client.workflow.start('conversationSyncWorkflow', {
      workflowId: `coexist:${conv}`,
      taskQueue: rig.worker.taskQueue,
      args: [{ conv, settleMs: 50, handoff: { ...setting, staging: path.join(rig.dir, 'never.db'), holdLimit: 2 } }],
    });
    for (let i = 1; i <= 3; i++)
      await handle.signal(syncEventSignal, {
        eventKey: `lg:msg:ef-${i}`,
        origin: 'legacy',
        conv,
        kind: 'message',
        occurredAt: Date.now(),
        order: i,
        from: 'eve',
        to: 'fay',
        msgId: `ef-${i}`,
        bodyRef: 'b:none',
      });
    await waitFor('two held, one parked', async () => {
      const s = await handle.query(syncStatsQuery);
      return s.handoff?.held === 2 && s.handoff.parked === 1;
    });
    await handle.signal(closeSignal);
    const final = (await handle.result()) as SyncStats;
    assert.deepEqual(
      { ...final.handoff, waiting: undefined },
      { held: 2, dropped: 0, released: 0, parked: 3, waiting: undefined }
    );
    assert.equal(final.mirroredToZim, 0);
    const parked = (await rig.store.parked()).filter((p) => p.conv === conv);
    assert.deepEqual(parked.map((p) => p.subject).sort(), ['ef-1', 'ef-2', 'ef-3']);
    assert.match(parked.find((p) => p.subject === 'ef-3')!.reason, /2 live legacy messages already held/);
    assert.match(parked.find((p) => p.subject === 'ef-1')!.reason, /the sync stopped before/);
    assert.match(parked[0]!.action, /coexist parked --retry/);
  });

  it('replays a conversation whose handoff released its held messages one at a time (before handoff-release-batch)', async () => {
    // Recorded with the conversation workflow of commit e6dd71f, f0771ca's parent (binary protobuf, 157 events), on
    // this rig with users ann and bob only: A1, A2 held before the export, A3-A6 after it; handoffHistory checked
    // five times (no staging, import not started, accounts, messages, imported), dropped A1, A2 (in the history) and
    // released A3-A6 in a mirrorToZim each, their echoes arriving meanwhile; then A7 and a ZIM message live, in one
    // mirrorBatch, and the close signal. Markers: import-handoff, echo-of-known-mirror, mirror-batch-either-side,
    // mirror-batch, and no handoff-release-batch: releasing the four in one batch would not replay.
    const file = path.join(__dirname, '../fixtures/coexist-conversation-handoff-before-release-batch.history.pb');
    const history = temporal.api.history.v1.History.decode(readFileSync(file));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'coexist:peer:ann:bob');
  });
});
