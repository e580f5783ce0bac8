/**
 * Group mirroring end to end over real HTTP: the reference legacy server and the ZIM emulator post to the receiver,
 * which hands each event to the group's conversation workflow on a real Temporal dev server; the worker applies
 * group creation, profile changes, joins, leaves and dismissal to the other side. Routing events and callbacks are
 * duplicated and reordered (seeded). Each change is applied once on the other side (counted there: ZIM's own group
 * callbacks, the legacy server's own routing events), our writes coming back are suppressed, with ZIM's group
 * callbacks for server-API operations on and off, and a worker that dies between a group write and its record
 * settles on the retry without doubling anything.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { temporalHandoff } from '../../src/coexist/receiver/handoff';
import { historyContains } from '../../src/testing/history-search';
import { ZimPermanentError } from '../../src/zim-client';
import { syncStatsQuery, type SyncStats } from '../../workflows/coexist';
import { useCoexistRig } from '../helpers/coexist-rig';
import { post } from '../helpers/coexist-sides';
import { waitFor } from '../helpers/wait-for';
import { registerUsers } from '../helpers/zim';

const BOT = '__migration_bot';
const USERS = ['ann', 'bob', 'cy', 'dee', 'eve'];
// Short: ZIM takes group names of 50 bytes at most.
const CANARY = `CANARY-${randomUUID().slice(0, 13)}`;

describe('group mirroring both ways over HTTP with a real Temporal server', { timeout: 240_000 }, () => {
  /** Group ids whose next state record fails, as if the worker died between the group write and its record. */
  const dieAfterWrite = new Set<string>();
  const dying = <A extends unknown[]>(f: (gid: string, ...rest: A) => Promise<void>) => {
    return async (gid: string, ...rest: A) => {
      if (dieAfterWrite.delete(gid)) throw new Error('worker died between the group write and its record');
      return f(gid, ...rest);
    };
  };
  const rig = useCoexistRig({
    name: 'groups',
    users: USERS,
    legacyFaults: { duplicateRate: 0.3, seed: 7 },
    zimFaults: { seed: 3, duplicateRate: 0.3, reorderRate: 0.3, reorderDelayMs: 150 },
    worker: {
      store: (store) => ({
        ...store,
        setGroup: dying((gid, change) => store.setGroup(gid, change)),
        setMembers: dying((gid, users, change) => store.setMembers(gid, users, change)),
      }),
      zimGroupOperator: BOT,
    },
    receiver: { workflowInput: { settleMs: 800 } },
    beforeCapture: ({ zim }) => registerUsers(zim.client, [BOT]),
  });

  const statsOf = (gid: string) => rig.t.client.workflow.getHandle(`coexist:group:${gid}`).query(syncStatsQuery);
  const zimMembers = async (gid: string) =>
    (await rig.zim.client.queryGroupMemberList({ GroupId: gid, Limit: 100 })).members.map((m) => m.userId).sort();
  const zimGone = async (gid: string) =>
    rig.zim.client.queryGroupInfo({ FromUserId: BOT, GroupId: gid }).then(
      () => false,
      (e: unknown) => e instanceof ZimPermanentError
    );
  const legacyGroup = async (gid: string) =>
    (
      (await (await request(`${rig.legacy.url}/_test/state`)).body.json()) as {
        groups: Array<{ id: string; name: string; members: string[] }>;
      }
    ).groups.find((g) => g.id === gid);
  /** ZIM's own group callbacks for a group (each a change ZIM made), duplicates left out. */
  const zimGroupEvents = (gid: string) =>
    rig.zim.emulator.callbacks
      .deliveries()
      .filter((r) => r.event !== 'send_msg' && r.duplicateOf === undefined && r.fields['group_id'] === gid)
      .map(
        (r) =>
          `${r.event}:${JSON.stringify(r.fields['new_user_ids'] ?? r.fields['exit_user_ids'] ?? r.fields['user_ids'])}`
      );
  /** The legacy server's own routing events by type (each a change it made), duplicates left out. */
  const legacyEventCounts = () => {
    const seen = new Map<string, string>();
    for (const d of rig.legacy.webhook.log) seen.set(d.eventId, d.type);
    const counts: Record<string, number> = {};
    for (const type of seen.values()) counts[type] = (counts[type] ?? 0) + 1;
    return counts;
  };
  const settled = async (gid: string, want: (s: SyncStats) => boolean) => {
    await rig.legacy.webhook.idle();
    await rig.zim.emulator.callbacks.idle();
    await waitFor(
      `${gid} settled`,
      async () => {
        const s = await statsOf(gid).catch(() => undefined);
        return s !== undefined && s.queued === 0 && want(s);
      },
      30_000,
      async () => JSON.stringify(await statsOf(gid).catch((e: unknown) => String(e)))
    );
  };

  for (const serverOpsFire of [true, false]) {
    it(`legacy → ZIM: create, join and the joiner's message, profile, leave, dismiss (server-op callbacks ${serverOpsFire ? 'on' : 'off'})`, async () => {
      rig.zim.emulator.callbacks.configure({ switches: { groupCallbacksOnServerOps: serverOpsFire } });
      const gid = `g-l-${serverOpsFire ? 'on' : 'off'}`;
      const before = legacyEventCounts();
      const app1 = (op: string, body: unknown) => post(`${rig.legacy.url}/_test/app1/groups/${gid}/${op}`, body);
      await post(`${rig.legacy.url}/_test/app1/createGroup`, {
        operator: 'ann',
        groupId: gid,
        name: `Team ${CANARY}`,
        members: ['bob'],
      });
      await app1('join', { operator: 'cy' });
      // The joiner writes at once: the message must reach ZIM after the join (ZIM refuses a non-member's message).
      await post(`${rig.legacy.url}/_test/app1/send`, { from: 'cy', groupId: gid, body: `hello from cy ${CANARY}` });
      await app1('change', { operator: 'ann', name: `Renamed ${CANARY}`, notice: `Notice ${CANARY}` });
      await app1('leave', { operator: 'bob' });
      await settled(gid, (s) => s.groupChangesToZim === 4 && s.mirroredToZim === 1);

      assert.deepEqual(await zimMembers(gid), ['ann', 'cy']);
      const info = await rig.zim.client.queryGroupInfo({ FromUserId: BOT, GroupId: gid });
      assert.equal(info.groupName, `Renamed ${CANARY}`);
      assert.equal(info.groupNotice, `Notice ${CANARY}`);
      const messages = (await rig.zim.client.queryGroupMsg({ GroupId: gid, Limit: 10 })).messages;
      assert.deepEqual(
        messages.map((m) => m.msgBody),
        [`hello from cy ${CANARY}`]
      );

      await app1('dismiss', { operator: 'ann' });
      // With the switch on, the dismissal's own echo comes after it was applied: wait for it too.
      await settled(gid, (s) => s.groupChangesToZim === 5 && (!serverOpsFire || s.echoesSuppressed >= 5));
      assert.ok(await zimGone(gid), 'dismissed in ZIM');

      const stats = await statsOf(gid);
      assert.deepEqual(stats.refused, []);
      assert.equal(stats.groupChangesToLegacy, 0, 'nothing mirrored back to legacy');
      // With server-op callbacks on, ZIM reported each of our four membership writes once, and each came back as
      // an echo (create, join, leave, dismiss); off, none came back.
      assert.deepEqual(
        zimGroupEvents(gid),
        serverOpsFire
          ? ['group_create:["ann","bob"]', 'group_join:["cy"]', 'group_exit:["bob"]', 'group_destroy:["ann","cy"]']
          : []
      );
      // The mirrored message's send_msg echo, plus, with the switch on, the four group echoes (a redelivered
      // callback may carry a new timestamp, hence a new key, and is then suppressed again: at least).
      if (serverOpsFire) assert.ok(stats.echoesSuppressed >= 5, `echoes suppressed: ${stats.echoesSuppressed}`);
      else assert.equal(stats.echoesSuppressed, 1);
      // Legacy made exactly the App 1.0 changes: none of ours went back into it.
      const now = legacyEventCounts();
      const delta = (type: string) => (now[type] ?? 0) - (before[type] ?? 0);
      assert.deepEqual(
        ['group.created', 'group.members_joined', 'group.members_left', 'group.changed', 'group.dismissed'].map(delta),
        [1, 1, 1, 1, 1]
      );
    });
  }

  it('ZIM → legacy: create, join and the joiner’s message, quit, dismiss', async () => {
    rig.zim.emulator.callbacks.configure({ switches: { groupCallbacksOnServerOps: true } });
    const gid = 'g-z';
    const before = legacyEventCounts();
    const sdk = (op: string, body: unknown) => post(`${rig.zim.emulator.url}/_emulator/sdk/${op}`, body);
    await sdk('create-group', { operator: 'dee', groupId: gid, name: `Z team ${CANARY}`, members: ['eve'] });
    await sdk('join-group', { user: 'ann', groupId: gid });
    await sdk('send', { from: 'ann', groupId: gid, body: `hi from ann ${CANARY}` });
    await sdk('quit-group', { user: 'eve', groupId: gid });
    await settled(gid, (s) => s.groupChangesToLegacy === 3 && s.mirroredToLegacy === 1);

    const g = await legacyGroup(gid);
    assert.equal(g?.name, `Z team ${CANARY}`);
    assert.deepEqual(g?.members, ['ann', 'dee']);
    assert.deepEqual(
      (await rig.legacyClient.page(`group:${gid}`, 0, 10)).messages.map((m) => m.body),
      [`hi from ann ${CANARY}`]
    );

    await sdk('dismiss-group', { operator: 'dee', groupId: gid });
    await settled(gid, (s) => s.groupChangesToLegacy === 4);
    assert.equal(await legacyGroup(gid), undefined, 'dismissed in legacy');
    const stats = await statsOf(gid);
    assert.deepEqual(stats.refused, []);
    assert.equal(stats.groupChangesToZim, 0, 'nothing mirrored back to ZIM');
    // Each of our legacy writes came back once as a routing event and was suppressed: four group changes and
    // the mirrored message.
    assert.equal(stats.echoesSuppressed, 5);
    const now = legacyEventCounts();
    const delta = (type: string) => (now[type] ?? 0) - (before[type] ?? 0);
    assert.deepEqual(
      ['group.created', 'group.members_joined', 'group.members_left', 'group.dismissed'].map(delta),
      [1, 1, 1, 1],
      'legacy changed once per ZIM change'
    );
    // ZIM changed only by its users: no server-API group operation of ours.
    assert.deepEqual(zimGroupEvents(gid), [
      'group_create:["dee","eve"]',
      'group_join:["ann"]',
      'group_exit:["eve"]',
      'group_destroy:["dee","ann"]',
    ]);
  });

  it('a worker that dies between a group write and its record: the retry settles it without doubling', async () => {
    // legacy → ZIM: the create's record fails once; the retry's CreateGroup finds the group (660600011).
    const gl = 'g-kill-l';
    dieAfterWrite.add(gl);
    await post(`${rig.legacy.url}/_test/app1/createGroup`, {
      operator: 'ann',
      groupId: gl,
      name: 'K',
      members: ['bob'],
    });
    await settled(gl, (s) => s.groupChangesToZim === 1);
    assert.equal(dieAfterWrite.has(gl), false, 'the failure was injected');
    assert.deepEqual(await zimMembers(gl), ['ann', 'bob']);
    assert.deepEqual(zimGroupEvents(gl), ['group_create:["ann","bob"]'], 'created once in ZIM');

    // ZIM → legacy: the join's record fails once; the retry's join changes nothing in legacy.
    const gz = 'g-kill-z';
    await post(`${rig.zim.emulator.url}/_emulator/sdk/create-group`, { operator: 'cy', groupId: gz, members: [] });
    await settled(gz, (s) => s.groupChangesToLegacy === 1);
    const before = legacyEventCounts();
    dieAfterWrite.add(gz);
    await post(`${rig.zim.emulator.url}/_emulator/sdk/join-group`, { user: 'dee', groupId: gz });
    await settled(gz, (s) => s.groupChangesToLegacy === 2);
    assert.equal(dieAfterWrite.has(gz), false, 'the failure was injected');
    assert.deepEqual((await legacyGroup(gz))?.members, ['cy', 'dee']);
    const after = legacyEventCounts();
    assert.equal(
      (after['group.members_joined'] ?? 0) - (before['group.members_joined'] ?? 0),
      1,
      'joined once in legacy'
    );
    assert.equal((await statsOf(gz)).echoesSuppressed, 2, 'the create and the join came back once each');
  });

  it('a ZIM-side profile change (as the audit hands it) written to the legacy side once, also when the worker dies after the write', async () => {
    const gid = 'g-kill-z';
    const [before, stats] = [legacyEventCounts(), await statsOf(gid)];
    const handoff = temporalHandoff(rig.t.client, { taskQueue: rig.worker.taskQueue, workflowInput: { settleMs: 0 } });
    dieAfterWrite.add(gid);
    await handoff({
      eventKey: 'test:zim-profile',
      origin: 'zim',
      conv: `group:${gid}`,
      kind: 'group',
      occurredAt: Date.now(),
      order: 0,
      groupId: gid,
      groupEvent: 'changed',
      operator: 'cy',
      bodyRef: await rig.store.putBody(JSON.stringify({ name: `Z ${CANARY}`, notice: 'N' })),
    });
    // Written, the record failed, the retry wrote again (no second routing event); then our write came back.
    await settled(
      gid,
      (s) =>
        s.groupChangesToLegacy === stats.groupChangesToLegacy + 1 && s.echoesSuppressed === stats.echoesSuppressed + 1
    );
    assert.equal(dieAfterWrite.has(gid), false, 'the failure was injected');
    const g = await rig.legacyClient.group(gid);
    assert.deepEqual([g?.name, g?.notice], [`Z ${CANARY}`, 'N']);
    assert.equal((legacyEventCounts()['group.changed'] ?? 0) - (before['group.changed'] ?? 0), 1, 'changed once');
    assert.equal((await statsOf(gid)).groupChangesToZim, stats.groupChangesToZim, 'not mirrored back');
  });

  it('a change older than a later one from the same side, arriving past the settle window, is stale', async () => {
    const gid = 'g-stale';
    await post(`${rig.legacy.url}/_test/app1/createGroup`, {
      operator: 'ann',
      groupId: gid,
      name: 'S',
      members: ['bob'],
    });
    await settled(gid, (s) => s.groupChangesToZim === 1);
    // Handed straight to the workflow: bob left at T+2 s, and the event that he joined at T+1 s comes afterwards.
    const handoff = temporalHandoff(rig.t.client, { taskQueue: rig.worker.taskQueue, workflowInput: { settleMs: 0 } });
    const at = Date.now();
    const change = (groupEvent: 'joined' | 'left', dt: number) => ({
      eventKey: `test:${groupEvent}:${dt}`,
      origin: 'legacy' as const,
      conv: `group:${gid}`,
      kind: 'group' as const,
      occurredAt: at + dt,
      order: 0,
      groupId: gid,
      groupEvent,
      users: ['bob'],
      operator: 'bob',
    });
    await handoff(change('left', 2_000));
    await settled(gid, (s) => s.groupChangesToZim === 2);
    await handoff(change('joined', 1_000));
    await settled(gid, (s) => s.groupStale === 1);
    assert.deepEqual(await zimMembers(gid), ['ann'], 'the older join did not undo the later leave');
    assert.equal((await statsOf(gid)).reordered, 1);
  });

  it('keeps group names and notices out of workflow history', async () => {
    let runs = 0;
    for await (const wf of rig.t.client.workflow.list({ query: `WorkflowType = "conversationSyncWorkflow"` })) {
      const history = await rig.t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      assert.ok(historyContains(history, wf.workflowId.slice('coexist:'.length)), 'the search sees payloads');
      assert.ok(!historyContains(history, CANARY), `no group text in ${wf.workflowId}`);
      runs++;
    }
    assert.ok(runs >= 5);
  });
});
