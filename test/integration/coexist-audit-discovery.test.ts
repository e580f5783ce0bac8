/**
 * The reconciliation audit's discovery over real HTTP with a real Temporal server: a one-to-one conversation whose
 * every ZIM callback was lost and a group conversation whose every legacy routing event was lost have no ledger row
 * and no workflow. The audit lists the known users' conversations on each side (ZIM QueryConversationList in the
 * call schedule, the reference legacy server's GET /v1/users/{id}/conversations), audits the two it did not know
 * and repairs them: each message ends on the other side exactly once, none comes back, no text in any history.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { createAuditActivities } from '../../activities/coexist-audit';
import type { CoexistStore } from '../../src/coexist/coexist-store';
import type { LegacyClient } from '../../src/coexist/legacy-client';
import { temporalHandoff } from '../../src/coexist/receiver/handoff';
import { readCallSchedule } from '../../src/rate-limit/read-call-schedule';
import { historyContains } from '../../src/testing/history-search';
import { workflowBundle } from '../../src/worker/workflow-bundle';
import { syncStatsQuery } from '../../workflows/coexist';
import type { coexistAuditWorkflow, CoexistAuditInput } from '../../workflows/coexist-audit';
import { waitFor } from '../helpers/wait-for';
import { groupOnBothSides, useCoexistRig } from '../helpers/coexist-rig';
import { count, post } from '../helpers/coexist-sides';
import { APP_ID, registerUsers } from '../helpers/zim';
import { replayEveryRun } from '../helpers/replay';

const SYNC = 'discovery-test';
const GROUP = 'g-unknown';
const CANARY = `CANARY-${randomUUID()}`;

describe('reconciliation audit: conversations whose every event was lost are discovered', { timeout: 180_000 }, () => {
  const rig = useCoexistRig({
    name: 'discovery',
    users: ['ann', 'bob', 'dan', 'eve'],
    // ZIM's listings take their slots in the call schedule, as in production.
    scheduler: {},
    worker: { audit: true },
    receiver: { syncName: SYNC, notMirrored: true },
    // A group on both sides that the sync never saw (made before capture), with no message yet.
    beforeCapture: (r) => groupOnBothSides(r, { id: GROUP, owner: 'ann', members: ['dan', 'eve'], name: 'Unknown' }),
  });
  const { zimBodies, legacyBodies, sendZim, sendLegacy } = rig.sides(['ann', 'dan'], GROUP);
  const audit = (from: number, extra: Partial<CoexistAuditInput> = {}) =>
    rig.t.client.workflow.execute<typeof coexistAuditWorkflow>('coexistAuditWorkflow', {
      workflowId: `coexist-audit:${SYNC}:${randomUUID()}`,
      taskQueue: rig.worker.taskQueue,
      // pageSize 1: users and discovered conversations take a page each, and the workflow goes on from its place.
      args: [{ from, until: Date.now(), syncName: SYNC, pageSize: 1, ...extra }],
    });

  it('finds a one-to-one and a group conversation the store never saw, and repairs each message once', async () => {
    const from = Date.now();
    // Delivered normally: the sync knows ann and bob.
    await sendZim('ann', { to: 'bob' }, `known ${CANARY}`);
    await waitFor(
      'the known conversation mirrored',
      async () =>
        count(
          (await rig.legacyClient.page('peer:ann:bob', 0, 100)).messages.map((m) => m.body),
          `known ${CANARY}`
        ) === 1
    );
    await rig.zim.emulator.callbacks.idle();
    await rig.legacy.webhook.idle();
    assert.deepEqual((await rig.store.users()).sort(), ['ann', 'bob']);

    // Every callback of ann and dan's conversation lost in ZIM, every routing event of the group's on the legacy side.
    rig.zim.emulator.callbacks.configure({ faults: { seed: 1, lossRate: 1 } });
    await post(`${rig.legacy.url}/_test/webhook`, { lossRate: 1 });
    const lost = {
      peer: [`dan to ann ${CANARY}`, `ann to dan ${CANARY}`],
      group: [`dan in the group ${CANARY}`, `ann in the group ${CANARY}`],
    };
    await sendZim('dan', { to: 'ann' }, lost.peer[0]!);
    await sendZim('ann', { to: 'dan' }, lost.peer[1]!);
    await sendLegacy('dan', { groupId: GROUP }, lost.group[0]!);
    await sendLegacy('ann', { groupId: GROUP }, lost.group[1]!);
    await rig.zim.emulator.callbacks.idle();
    await rig.legacy.webhook.idle();
    rig.zim.emulator.callbacks.configure({ faults: { seed: 1 } });
    await post(`${rig.legacy.url}/_test/webhook`, { lossRate: 0 });
    assert.equal(rig.zim.emulator.callbacks.deliveries({ outcome: 'lost' }).length, 2);
    assert.equal(rig.legacy.webhook.log.filter((d) => d.outcome === 'lost-on-purpose').length, 2);

    // Without discovery the audit does not know these conversations exist: nothing found, nothing arrives.
    const blind = await audit(from, { discover: false });
    assert.deepEqual([blind.conversations, blind.found, blind.discovered ?? 0], [1, 0, 0]);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(count(await legacyBodies('peer'), lost.peer[0]!), 0);
    assert.equal(count(await zimBodies('group'), lost.group[0]!), 0);

    const first = await audit(from);
    // ann's ZIM listing holds her conversation with dan (the group has no ZIM message); her legacy listing holds
    // the group (the legacy side has no conversation of ann and dan).
    assert.equal(first.discovered, 2, 'the two conversations the store did not know');
    assert.equal(first.conversations, 3);
    assert.deepEqual([first.found, first.repaired, first.listingsCut], [4, 4, 0]);

    await waitFor(
      'every lost message on the other side',
      async () =>
        count(await legacyBodies('peer'), lost.peer[0]!) === 1 &&
        count(await legacyBodies('peer'), lost.peer[1]!) === 1 &&
        count(await zimBodies('group'), lost.group[0]!) === 1 &&
        count(await zimBodies('group'), lost.group[1]!) === 1,
      60_000
    );
    await rig.zim.emulator.callbacks.idle();
    await rig.legacy.webhook.idle();
    await waitFor('the repairs echoed and settled', async () => {
      for (const conv of ['peer:ann:dan', `group:${GROUP}`]) {
        const s = await rig.t.client.workflow.getHandle(`coexist:${conv}`).query(syncStatsQuery);
        if (s.queued > 0 || s.echoesSuppressed < 2) return false;
      }
      return true;
    });
    // Exactly once on both sides: not doubled on the other side, not mirrored back to its own.
    for (const conv of ['peer', 'group'] as const) {
      const [inZim, inLegacy] = [await zimBodies(conv), await legacyBodies(conv)];
      for (const body of lost[conv]) {
        assert.equal(count(inZim, body), 1, `${body} once in ZIM`);
        assert.equal(count(inLegacy, body), 1, `${body} once in legacy`);
      }
      assert.deepEqual([inZim.length, inLegacy.length], [2, 2], `${conv}: nothing else on either side`);
    }
    const divergences = await rig.store.divergences();
    assert.deepEqual(divergences.map((d) => [d.conv, d.origin, d.kind]).sort(), [
      [`group:${GROUP}`, 'legacy', 'missing'],
      [`group:${GROUP}`, 'legacy', 'missing'],
      ['peer:ann:dan', 'zim', 'missing'],
      ['peer:ann:dan', 'zim', 'missing'],
    ]);
    for (const d of divergences)
      assert.match(d.repair ?? '', /^handed to coexist:(peer:ann:dan|group:g-unknown) as audit:(zim|lg):msg:/);

    // Both are known now: a second audit finds nothing and discovers nothing new.
    const second = await audit(from);
    assert.deepEqual([second.found, second.repaired, second.discovered, second.conversations], [0, 0, 0, 3]);

    // ZIM's listing went through the call schedule, under ZIM's 20/s budget for QueryConversationList.
    const listing = readCallSchedule(path.join(rig.dir, 'budgets.sqlite'), APP_ID).find(
      (r) => r.action === 'QueryConversationList'
    );
    assert.equal(listing?.rate, 20);
    assert.ok((listing?.calls ?? 0) >= 2, `listed through the schedule (${listing?.calls})`);

    // No message text in any history, and the audits' histories replay.
    for await (const wf of rig.t.client.workflow.list()) {
      const history = await rig.t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      assert.ok(!historyContains(history, CANARY), `no message text in ${wf.workflowId} run ${wf.runId}`);
    }
    const replayed = await replayEveryRun(rig.t.client, 'WorkflowType = "coexistAuditWorkflow"');
    assert.ok(replayed >= 3, `replayed ${replayed}`);
  });

  it('replays an audit recorded before discovery (it ended after the known conversations)', async () => {
    // Recorded with the audit workflow of commit a043698 (binary protobuf).
    const file = path.join(__dirname, '../fixtures/coexist-audit-before-discovery.history.pb');
    const history = temporal.api.history.v1.History.decode(readFileSync(file));
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle() },
      history,
      'coexist-audit:before-discovery'
    );
  });

  it('creates a discovered group whose creation was lost too, before its messages', async () => {
    const from = Date.now();
    const group = 'g-lost-creation';
    // Our ZIM group writes go as this account (registered before coexistence starts, §3.1).
    await registerUsers(rig.zim.client, ['__migration_bot']);
    // Created on the legacy side with one message, every routing event lost: ZIM never hears of the group.
    await post(`${rig.legacy.url}/_test/webhook`, { lossRate: 1 });
    await post(`${rig.legacy.url}/_test/app1/createGroup`, {
      operator: 'ann',
      groupId: group,
      name: 'New',
      members: ['dan'],
    });
    const body = `first in a new group ${CANARY}`;
    await sendLegacy('dan', { groupId: group }, body);
    await rig.legacy.webhook.idle();
    await post(`${rig.legacy.url}/_test/webhook`, { lossRate: 0 });

    const r = await audit(from);
    // The group's creation and its message.
    assert.deepEqual([r.found, r.repaired, r.discovered], [2, 2, 1]);
    await waitFor(
      'the group and its message in ZIM',
      async () => {
        const inZim = await rig.zim.client.queryGroupMsg({ GroupId: group, Limit: 100 }).catch(() => null);
        return inZim?.messages.some((m) => m.msgBody === body) ?? false;
      },
      60_000
    );
    const members = await rig.zim.client.queryGroupMemberList({ GroupId: group, Limit: 100 });
    assert.deepEqual(members.members.map((m) => m.userId).sort(), ['ann', 'dan']);
    const stats = await rig.t.client.workflow.getHandle(`coexist:group:${group}`).query(syncStatsQuery);
    assert.deepEqual(stats.refused, [], 'the message was not sent before the group existed');
    const found = (await rig.store.divergences()).filter((d) => d.conv === `group:${group}`);
    assert.deepEqual(found.map((d) => [d.origin, d.kind, d.msgId.startsWith('created:')]).sort(), [
      ['legacy', 'group', true],
      ['legacy', 'missing', false],
    ]);
  });

  it('lists the legacy side only when the adapter offers it, and pages what it found', async () => {
    const from = Date.now();
    await registerUsers(rig.zim.client, ['fay', 'gus']);
    await post(`${rig.legacy.url}/_test/users`, { users: ['fay', 'gus'] });
    // Lost: ann and gus's conversation is in ZIM only, ann and fay's on the legacy side only.
    rig.zim.emulator.callbacks.configure({ faults: { seed: 3, lossRate: 1 } });
    await post(`${rig.legacy.url}/_test/webhook`, { lossRate: 1 });
    await sendZim('gus', { to: 'ann' }, `zim only ${CANARY}`);
    await sendLegacy('fay', { to: 'ann' }, `legacy only ${CANARY}`);
    await rig.zim.emulator.callbacks.idle();
    await rig.legacy.webhook.idle();
    rig.zim.emulator.callbacks.configure({ faults: { seed: 3 } });
    await post(`${rig.legacy.url}/_test/webhook`, { lossRate: 0 });

    const caps = await rig.legacyClient.capabilities();
    const withoutListing = {
      capabilities: async () => ({ ...caps, conversationList: false }),
      userConversations: () => assert.fail('not offered: not asked'),
    } as unknown as LegacyClient;
    const discover = (legacyApi: LegacyClient, after?: string) =>
      createAuditActivities({ store: rig.store, zim: rig.zim.client, legacy: legacyApi }).discoverAuditConversations({
        users: ['ann'],
        from,
        limit: 1,
        ...(after !== undefined ? { after } : {}),
      });
    const zimOnly = await discover(withoutListing);
    assert.deepEqual([zimOnly.conversations, zimOnly.more], [['peer:ann:gus'], false], 'ZIM lists its own only');
    const first = await discover(rig.legacyClient);
    assert.deepEqual([first.conversations, first.more, first.cut], [['peer:ann:fay'], true, 0]);
    const second = await discover(rig.legacyClient, first.conversations[0]);
    assert.deepEqual([second.conversations, second.more], [['peer:ann:gus'], false]);
  });

  it('lists a conversation only its workflow knows (echoes of nothing in the ledger: no store row), its workflows listed once per audit', async () => {
    const conv = 'peer:echo-a:echo-b';
    await temporalHandoff(rig.t.client, { taskQueue: rig.worker.taskQueue, syncName: SYNC })({
      eventKey: `zim:echo:${randomUUID()}`,
      origin: 'zim',
      conv,
      kind: 'echo',
      occurredAt: Date.now(),
      order: 1,
      from: 'echo-a',
      to: 'echo-b',
      msgId: 'z-echo',
      echoOf: 'l-not-in-the-ledger',
    });
    const query = `ZimCoexistSync = "${SYNC}" AND WorkflowId = "coexist:${conv}"`;
    await waitFor('its workflow handled the echo and is listed by visibility', async () => {
      const s = await rig.t.client.workflow.getHandle(`coexist:${conv}`).query(syncStatsQuery);
      let listed = false;
      for await (const _ of rig.t.client.workflow.list({ query })) listed = true;
      return s.echoesSuppressed === 1 && listed;
    });
    assert.deepEqual(await rig.store.knownOf([conv]), new Set(), 'the echo left no store row');
    assert.ok(!(await rig.store.conversations()).includes(conv));

    await audit(Date.now() - 60_000, { discover: false });
    assert.deepEqual(
      await rig.store.knownOf([conv]),
      new Set([conv]),
      "the audit's first page added the workflow's key"
    );

    // The pages after the first and discovery read key ranges and the keys found, never every key, and never list
    // workflows: outside an activity (no Temporal client to list with) they still find the conversation.
    const rangesOnly = new Proxy(rig.store, {
      get: (target, name: keyof CoexistStore) =>
        name === 'conversations' || name === 'users'
          ? () => assert.fail(`${name}() reads every key`)
          : (target[name] as (...a: unknown[]) => unknown).bind(target),
    });
    const acts = createAuditActivities({ store: rangesOnly, zim: rig.zim.client, legacy: rig.legacyClient });
    const page = await acts.listAuditConversations({ after: 'peer:echo-a', limit: 1, syncName: SYNC });
    assert.deepEqual(page.conversations, [conv]);
    const users = await acts.listAuditUsers({ after: 'dan', limit: 2 });
    assert.deepEqual(
      users.users,
      (await rig.store.users())
        .sort()
        .filter((u) => u > 'dan')
        .slice(0, 2)
    );
    const found = await acts.discoverAuditConversations({ users: ['ann'], from: Date.now() - 60_000, limit: 10 });
    assert.deepEqual(
      await rig.store.knownOf(found.conversations),
      new Set(),
      'only conversations the store does not know'
    );
  });
});
