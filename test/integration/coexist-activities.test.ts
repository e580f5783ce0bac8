/**
 * Exactly-once mirroring against non-idempotent sends (the "worker killed between a send and its record" rows of
 * coexistence.md §5.10), with the activities called directly against the ZIM emulator and the reference legacy
 * server over HTTP: an intent left by a dead attempt is settled by the tail or the echo, never by a blind resend.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCoexistActivities, type BatchOutcome } from '../../activities/coexist';
import { SqliteCallScheduler, type CallPriority, type CallScheduler } from '../../src/rate-limit/call-scheduler';
import { openSqliteCoexistStore, type CoexistStore } from '../../src/coexist/coexist-store';
import { LegacyClient } from '../../src/coexist/legacy-client';
import { zimExtendedData, type SyncEvent } from '../../src/coexist/sync-event';
import { ZimRetryableError, type ZimClient } from '../../src/zim-client';
import { startLegacyServer, type LegacyServer } from '../../src/legacy-server/server';
import { registerUsers, useZimTestEnv } from '../helpers/zim';

const TOKEN = 'legacy-token-acts';

describe('coexistence activities: exactly once against non-idempotent sends', { timeout: 60_000 }, () => {
  const t = useZimTestEnv();
  let legacy: LegacyServer;
  let legacyClient: LegacyClient;
  let store: CoexistStore;
  let dir: string;
  let acts: ReturnType<typeof createCoexistActivities>;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'coexist-acts-'));
    store = openSqliteCoexistStore(path.join(dir, 'c.sqlite'));
    legacy = await startLegacyServer({ apiToken: TOKEN, webhookSecret: 'x' });
    legacy.store.addUsers(['ann', 'bob']);
    legacy.store.createGroup({ operator: 'ann', groupId: 'g', name: 'G', members: ['bob'] });
    legacyClient = new LegacyClient(legacy.url, TOKEN);
    await registerUsers(t.client, ['ann', 'bob']);
    await t.client.createGroup({ GroupId: 'g', GroupOwner: 'ann', UserId: ['bob'] });
    acts = createCoexistActivities({ store, zim: t.client, legacy: legacyClient });
  });
  after(async () => {
    await legacyClient.close();
    await legacy.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const legacyMsg = async (lid: string, text: string, groupId?: string): Promise<SyncEvent> => ({
    eventKey: `lg:msg:${lid}`,
    origin: 'legacy',
    conv: groupId ? `group:${groupId}` : 'peer:ann:bob',
    kind: 'message',
    occurredAt: Date.now(),
    order: 1,
    from: 'ann',
    ...(groupId ? { groupId } : { to: 'bob' }),
    bodyRef: await store.putBody(text, [{ origin: 'legacy', originId: lid }]),
    msgId: lid,
  });
  const zimMsg = async (zid: string, text: string): Promise<SyncEvent> => ({
    eventKey: `zim:msg:${zid}:v`,
    origin: 'zim',
    conv: 'peer:ann:bob',
    kind: 'message',
    occurredAt: Date.now(),
    order: 1,
    from: 'bob',
    to: 'ann',
    bodyRef: await store.putBody(text, [{ origin: 'zim', originId: zid }]),
    msgId: zid,
  });
  const inZim = async (text: string, groupId?: string) => {
    const page = groupId
      ? await t.client.queryGroupMsg({ GroupId: groupId, Limit: 100 })
      : await t.client.queryPeerMsg({ FromUserId: 'ann', ToUserId: 'bob', Limit: 100 });
    return page.messages.filter((m) => m.msgBody === text);
  };
  const inLegacy = async (text: string, conv = 'peer:ann:bob') =>
    (await legacyClient.page(conv, 0, 1000)).messages.filter((m) => m.body === text);
  /** What a dead attempt did: recorded the intent and sent, but never recorded the result. */
  const deadZimAttempt = async (lid: string, text: string, groupId?: string) => {
    await store.recordIntent('legacy', lid, groupId ? `group:${groupId}` : 'peer:ann:bob');
    const message = { FromUserId: 'ann', MessageType: 1, Priority: 1 };
    const body = { Message: text, ExtendedData: zimExtendedData(lid) };
    if (groupId) return (await t.client.sendGroupMessage({ ...message, GroupId: groupId, MessageBody: body })).msgId;
    return (await t.client.sendPeerMessage({ ...message, ToUserId: ['bob'], MessageBody: body })).sent[0]!.msgId;
  };

  it('sends once, and a repeat finds it done', async () => {
    const e = await legacyMsg('L1', 'one');
    assert.equal(await acts.mirrorToZim(e), 'sent');
    assert.equal(await acts.mirrorToZim(e), 'already');
    assert.equal((await inZim('one')).length, 1);
    assert.equal((await inZim('one'))[0]!.payload, zimExtendedData('L1'));
  });

  it("asks the call schedule for its live lane (ahead of an import's backlog)", async () => {
    const schedule = new SqliteCallScheduler(':memory:', { appId: 1 });
    const asked: string[] = [];
    const scheduler: CallScheduler = Object.assign(Object.create(schedule) as CallScheduler, {
      acquire: (action: string, key?: string, signal?: AbortSignal, priority?: CallPriority) => {
        asked.push(`${action} ${priority ?? 'backfill'}`);
        return schedule.acquire(action, key, signal, priority);
      },
    });
    try {
      const scheduled = createCoexistActivities({ store, zim: t.client, legacy: legacyClient, scheduler });
      const e = await legacyMsg('L1s', 'one-s');
      assert.equal(
        await new MockActivityEnvironment({ startToCloseTimeoutMs: 0 }).run(
          (x: SyncEvent) => scheduled.mirrorToZim(x),
          e
        ),
        'sent'
      );
      assert.deepEqual(asked, ['SendPeerMessage live']);
    } finally {
      await schedule.close();
    }
  });

  it('killed after its record, before reporting: the retry counts the send as its own; another execution as a repeat', async () => {
    const e = await legacyMsg('L1b', 'one-b');
    const execution = (runId: string, attempt: number) =>
      new MockActivityEnvironment({
        activityId: '7',
        attempt,
        workflowExecution: { workflowId: 'coexist:peer:ann:bob', runId },
        startToCloseTimeoutMs: 0,
      });
    const mirror = (env: MockActivityEnvironment) => env.run((x: SyncEvent) => acts.mirrorToZim(x), e);
    assert.equal(await mirror(execution('r1', 1)), 'sent');
    // Attempt 2 of the same execution: the first one's outcome never reached the workflow.
    assert.equal(await mirror(execution('r1', 2)), 'sent');
    // A redelivery or repair in another run (or activity): mirrored before, not counted again.
    assert.equal(await mirror(execution('r2', 1)), 'already');
    assert.equal(await acts.mirrorToZim(e), 'already');
    assert.equal((await inZim('one-b')).length, 1);
  });

  it('a mirror counts as its own what a batch execution failed for good recorded SENT (adopt), nothing else', async () => {
    const e = await legacyMsg('A1', 'adopt-1');
    const execution = (activityId: string) =>
      new MockActivityEnvironment({
        activityId,
        workflowExecution: { workflowId: 'coexist:peer:ann:bob', runId: 'ra' },
        startToCloseTimeoutMs: 0,
      });
    const batch = async (activityId: string, events: SyncEvent[], adopt?: string[]) => {
      const outcomes: BatchOutcome[] = await execution(activityId).run(
        (x: SyncEvent[]) => acts.mirrorBatch(x, adopt),
        events
      );
      return outcomes.map((o) => ('refused' in o ? 'refused' : o.outcome));
    };
    // The batch execution 11 sent it and died before reporting it (its attempts ran out).
    assert.deepEqual(await batch('11', [e]), ['sent']);
    // The workflow's next mirror of it, naming that execution: its send, counted as mirrored; naming none or another
    // one: a message mirrored before.
    const again = (adopt?: string[]) => execution('12').run((x: SyncEvent) => acts.mirrorToZim(x, adopt), e);
    assert.equal(await again(['ra/11']), 'sent');
    assert.equal(await again(), 'already');
    assert.equal(await again(['ra/10', 'rb/11']), 'already');
    assert.deepEqual(await batch('13', [e, await legacyMsg('A2', 'adopt-2')], ['ra/11']), ['sent', 'sent']);
    assert.equal((await inZim('adopt-1')).length, 1);
    assert.equal((await inZim('adopt-2')).length, 1);
  });

  it("killed after the send, before its record: the retry finds it in ZIM's tail and does not resend", async () => {
    for (const groupId of [undefined, 'g']) {
      const text = `two-${groupId ?? 'peer'}`;
      const lid = `L2-${groupId ?? 'peer'}`;
      const msgId = await deadZimAttempt(lid, text, groupId);
      assert.equal(await acts.mirrorToZim(await legacyMsg(lid, text, groupId)), 'resolved');
      assert.equal((await inZim(text, groupId)).length, 1, 'exactly one copy');
      const record = await store.record('legacy', lid);
      assert.deepEqual([record?.state, record?.targetId], ['SENT', msgId]);
    }
  });

  it('killed after the intent, before the send: the retry finds nothing and sends once', async () => {
    await store.recordIntent('legacy', 'L3', 'peer:ann:bob');
    assert.equal(await acts.mirrorToZim(await legacyMsg('L3', 'three')), 'sent');
    assert.equal((await inZim('three')).length, 1);
    assert.equal((await store.record('legacy', 'L3'))?.attempts, 2);
  });

  it('the echo settles an ambiguous send before any retry', async () => {
    const msgId = await deadZimAttempt('L4', 'four');
    const echo: SyncEvent = {
      eventKey: `zim:msg:${msgId}:e`,
      origin: 'zim',
      conv: 'peer:ann:bob',
      kind: 'echo',
      occurredAt: Date.now(),
      order: 0,
      msgId,
      echoOf: 'L4',
    };
    assert.equal(await acts.confirmEcho(echo), 'resolved');
    assert.equal(await acts.confirmEcho(echo), 'known');
    assert.equal(await acts.mirrorToZim(await legacyMsg('L4', 'four')), 'already');
    assert.equal((await inZim('four')).length, 1);
    assert.equal(await acts.confirmEcho({ ...echo, echoOf: 'never-sent' }), 'unknown');
  });

  it('the same both ways: a legacy write left ambiguous is found by its client id', async () => {
    assert.equal(await acts.mirrorToLegacy(await zimMsg('9001', 'z-one')), 'sent');
    assert.equal(await acts.mirrorToLegacy(await zimMsg('9001', 'z-one')), 'already');
    const [stored] = await inLegacy('z-one');
    assert.equal(stored?.clientMsgId, 'zim:9001');
    assert.equal(stored?.originTag, 'zim-migrate:9001');
    // The dead attempt: intent, then the write, no record.
    await store.recordIntent('zim', '9002', 'peer:ann:bob');
    const written = await legacyClient.send({
      from: 'bob',
      to: 'ann',
      body: 'z-two',
      originTag: 'zim-migrate:9002',
      clientMsgId: 'zim:9002',
    });
    assert.equal(await acts.mirrorToLegacy(await zimMsg('9002', 'z-two')), 'resolved');
    assert.equal((await inLegacy('z-two')).length, 1);
    assert.equal((await store.record('zim', '9002'))?.targetId, written.message.id);
  });

  it("looks back past the first page of the tail, to the intent's time", async () => {
    const smallPages = createCoexistActivities({ store, zim: t.client, legacy: legacyClient, tailSize: 5 });
    const msgId = await deadZimAttempt('L6', 'six');
    await store.recordIntent('zim', '9006', 'peer:ann:bob');
    const written = await legacyClient.send({ from: 'bob', to: 'ann', body: 'z-six', clientMsgId: 'zim:9006' });
    // Twelve more messages on each side bury both below two pages of five.
    for (let i = 0; i < 12; i++) {
      await t.client.sendPeerMessage({
        FromUserId: 'bob',
        ToUserId: ['ann'],
        MessageType: 1,
        Priority: 1,
        MessageBody: { Message: `later ${i}` },
      });
      await legacyClient.send({ from: 'ann', to: 'bob', body: `later ${i}` });
    }
    assert.equal(await smallPages.mirrorToZim(await legacyMsg('L6', 'six')), 'resolved');
    assert.equal((await store.record('legacy', 'L6'))?.targetId, msgId);
    assert.equal((await inZim('six')).length, 1);
    assert.equal(await smallPages.mirrorToLegacy(await zimMsg('9006', 'z-six')), 'resolved');
    assert.equal((await store.record('zim', '9006'))?.targetId, written.message.id);
    assert.equal((await inLegacy('z-six')).length, 1);
  });

  it('an attempt whose send lease another attempt took after its tail check does not send', async () => {
    // The other attempt (one Temporal started while this one waited for its call) takes the lease in between.
    const racing = (origin: 'legacy' | 'zim', id: string) =>
      createCoexistActivities({
        store: {
          ...store,
          recordIntent: async (...args) => {
            const record = await store.recordIntent(...args);
            assert.equal(await store.markSending(origin, id, Date.now(), null), true);
            return record;
          },
        },
        zim: t.client,
        legacy: legacyClient,
      });
    await assert.rejects(
      racing('legacy', 'L7').mirrorToZim(await legacyMsg('L7', 'seven')),
      (err: unknown) => err instanceof ApplicationFailure && !err.nonRetryable && /send lease/.test(err.message)
    );
    await assert.rejects(racing('zim', '9007').mirrorToLegacy(await zimMsg('9007', 'z-seven')), /send lease/);
    assert.equal((await inZim('seven')).length, 0);
    assert.equal((await inLegacy('z-seven')).length, 0);
    assert.equal((await store.record('legacy', 'L7'))?.state, 'INTENT');
  });

  it('a send ZIM answered with a failure releases its lease: the retry does not wait; one left unanswered keeps it', async () => {
    const failing = (error: Error) => {
      let failed = false;
      const zim: Pick<ZimClient, 'queryPeerMsg' | 'sendPeerMessage'> = {
        queryPeerMsg: (request) => t.client.queryPeerMsg(request),
        sendPeerMessage: async (request) => {
          if (failed) return t.client.sendPeerMessage(request);
          failed = true;
          throw error;
        },
      };
      return createCoexistActivities({ store, zim: zim as ZimClient, legacy: legacyClient });
    };
    const busy = new ZimRetryableError({
      action: 'SendPeerMessage',
      code: 1,
      zimMessage: 'busy',
      reason: 'server-busy',
    });
    const answered = failing(busy);
    await assert.rejects(answered.mirrorToZim(await legacyMsg('L8', 'eight')), /busy/);
    assert.ok(((await store.record('legacy', 'L8'))?.sendingAt ?? 0) < 0, 'released');
    const started = Date.now();
    assert.equal(await answered.mirrorToZim(await legacyMsg('L8', 'eight')), 'sent');
    assert.ok(Date.now() - started < 10_000, 'the retry did not wait out the lease');
    assert.equal((await inZim('eight')).length, 1);

    const timeout = new ZimRetryableError({ action: 'SendPeerMessage', code: -2, zimMessage: 't', reason: 'timeout' });
    await assert.rejects(failing(timeout).mirrorToZim(await legacyMsg('L9', 'nine')), /SendPeerMessage/);
    assert.ok(((await store.record('legacy', 'L9'))?.sendingAt ?? 0) > 0, 'kept: the request may still land');
  });

  it('a retry finds a send whose answer was lost in the tail at once, without waiting out its lease', async () => {
    let dropped = false;
    const zim: Pick<ZimClient, 'queryPeerMsg' | 'sendPeerMessage'> = {
      queryPeerMsg: (request) => t.client.queryPeerMsg(request),
      sendPeerMessage: async (request) => {
        const r = await t.client.sendPeerMessage(request);
        if (dropped) return r;
        dropped = true;
        // Landed, and the answer lost on the way back: the lease is kept (the request might still be in flight).
        throw new ZimRetryableError({ action: 'SendPeerMessage', code: -2, zimMessage: 'reset', reason: 'timeout' });
      },
    };
    const lossy = createCoexistActivities({ store, zim: zim as ZimClient, legacy: legacyClient });
    await assert.rejects(lossy.mirrorToZim(await legacyMsg('L10', 'ten')), /SendPeerMessage/);
    assert.ok(((await store.record('legacy', 'L10'))?.sendingAt ?? 0) > 0, 'the lease is kept');
    const started = Date.now();
    assert.equal(await lossy.mirrorToZim(await legacyMsg('L10', 'ten')), 'resolved');
    assert.ok(Date.now() - started < 10_000, `waited ${Date.now() - started} ms: the lease was waited out`);
    assert.equal((await inZim('ten')).length, 1);
  });

  it('a batch: in order, a refusal its outcome and the rest sent; a retry after a death mid-batch resumes, sending nothing twice', async () => {
    const events = [
      await legacyMsg('B1', 'batch-1'),
      await legacyMsg('B2', 'batch-2'),
      { ...(await legacyMsg('B3', 'batch-3')), from: 'nobody' },
      await legacyMsg('B4', 'batch-4'),
      await legacyMsg('B5', 'batch-5'),
    ];
    const attempt = (n: number) =>
      new MockActivityEnvironment({
        activityId: '9',
        attempt: n,
        workflowExecution: { workflowId: 'coexist:peer:ann:bob', runId: 'rb' },
        startToCloseTimeoutMs: 0,
      });
    // Attempt 1 is taken for dead once B2 is recorded: it starts no further send.
    const first = attempt(1);
    const dying = createCoexistActivities({
      store: {
        ...store,
        markSent: async (...args: Parameters<CoexistStore['markSent']>) => {
          await store.markSent(...args);
          if (args[1] === 'B2') first.cancel();
        },
      },
      zim: t.client,
      legacy: legacyClient,
    });
    await assert.rejects(first.run((x: SyncEvent[]) => dying.mirrorBatch(x), events));
    assert.equal((await store.record('legacy', 'B3')) ?? null, null, 'nothing after the death');
    // Its retry: B1 and B2 are this execution's own sends, B3 refused, B4 and B5 sent.
    const outcomes: BatchOutcome[] = await attempt(2).run((x: SyncEvent[]) => acts.mirrorBatch(x), events);
    assert.deepEqual(
      outcomes.map((o) => ('refused' in o ? 'refused' : o.outcome)),
      ['sent', 'sent', 'refused', 'sent', 'sent']
    );
    const bodies = (await t.client.queryPeerMsg({ FromUserId: 'ann', ToUserId: 'bob', Limit: 100 })).messages
      .map((m) => m.msgBody)
      .filter((b) => b.startsWith('batch-'))
      .reverse();
    assert.deepEqual(bodies, ['batch-1', 'batch-2', 'batch-4', 'batch-5'], 'once each, in order');
  });

  it('a batch that fails retryably past its first message returns what it did; at its first, it fails', async () => {
    const events = [await legacyMsg('C1', 'cut-1'), await legacyMsg('C2', 'cut-2')];
    let failing = true;
    const flaky = createCoexistActivities({
      store: {
        ...store,
        recordIntent: async (...args: Parameters<CoexistStore['recordIntent']>) => {
          if (args[1] === 'C2' && failing) throw new Error('the store is away');
          return store.recordIntent(...args);
        },
      },
      zim: t.client,
      legacy: legacyClient,
    });
    const outcomes = await flaky.mirrorBatch(events);
    assert.deepEqual(
      outcomes.map((o) => ('refused' in o ? 'refused' : o.outcome)),
      ['sent']
    );
    await assert.rejects(flaky.mirrorBatch(events.slice(1)), /the store is away/);
    failing = false;
    assert.deepEqual(
      (await flaky.mirrorBatch(events.slice(1))).map((o) => ('refused' in o ? 'refused' : o.outcome)),
      ['sent']
    );
  });

  it('a refusal for good is a non-retryable failure, and nothing is recorded as sent', async () => {
    const e = { ...(await legacyMsg('L5', 'five')), from: 'nobody' };
    await assert.rejects(acts.mirrorToZim(e), (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable);
    assert.equal((await store.record('legacy', 'L5'))?.state, 'INTENT');
    const z = { ...(await zimMsg('9003', 'z-three')), to: 'nobody' };
    await assert.rejects(
      acts.mirrorToLegacy(z),
      (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable
    );
    // Settled for good (not retried, not parked): their bodies may go once a prune finds them old enough.
    const open = await zimMsg('9004', 'z-four, not mirrored yet');
    await store.pruneBodies(Date.now() + 1);
    await assert.rejects(store.body(e.bodyRef!), /no stored body/);
    await assert.rejects(store.body(z.bodyRef!), /no stored body/);
    assert.equal(await store.body(open.bodyRef!), 'z-four, not mirrored yet');
  });
});
