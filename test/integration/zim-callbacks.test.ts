/**
 * ZIM's side of coexistence over real HTTP on 127.0.0.1: the send APIs store into the conversations the query APIs
 * read, and the emulator posts signed callbacks to a small local receiver, with retries, drops, duplicates and
 * reordering (coexistence.md §2, §3, §6). Retry delays are shortened to tens of milliseconds.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { verifyCallbackSignature } from '../../src/zim-callbacks';
import { ZimCode, ZimError } from '../../src/zim-client';
import { signZimRequest } from '../../src/zim-client/signature';
import { rawCall, registerUsers, SECRET, text, useZimTestEnv } from '../helpers/zim';

interface Received {
  body: Record<string, unknown>;
  validSignature: boolean;
}

/** A callback receiver: records every POST, answers `status(n)` to the n-th one (200 by default). */
class Receiver {
  readonly received: Received[] = [];
  status: (n: number) => number = () => 200;
  #server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        const validSignature = verifyCallbackSignature(SECRET, {
          timestamp: body.timestamp as number,
          nonce: body.nonce as string,
          signature: body.signature as string,
        });
        this.received.push({ body, validSignature });
        res.writeHead(this.status(this.received.length)).end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/zim/callback`;
  }

  events(name?: string): Array<Record<string, unknown>> {
    return this.received.map((r) => r.body).filter((b) => name === undefined || b.event === name);
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

async function introspect(baseUrl: string, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${baseUrl}/_emulator/${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

const USERS = ['alice', 'bob', 'carol', 'dave'];

describe('ZIM send APIs and callbacks over HTTP', { timeout: 60_000 }, () => {
  const t = useZimTestEnv();
  const receiver = new Receiver();

  before(async () => {
    await receiver.start();
    await registerUsers(t.client, USERS);
  });
  after(() => receiver.stop());
  beforeEach(async () => {
    await t.emulator.callbacks.idle();
    receiver.received.length = 0;
    receiver.status = () => 200;
    t.emulator.callbacks.configure({
      url: receiver.url,
      retryDelaysMs: [40, 80, 120],
      attemptTimeoutMs: 2_000,
      faults: {},
      switches: { importFiresSendMsg: false, groupCallbacksOnServerOps: true, editReusesMsgId: true },
    });
  });

  it('SendPeerMessage stores both copies under one MsgId, after the imports, and fires send_msg source 1 with user_list', async () => {
    const start = Date.now() - 60_000;
    await t.client.importPeerMsg({
      FromUserId: 'alice',
      ToUserId: 'bob',
      ImportedUserId: 'alice',
      ...text('old', start),
    });
    await t.client.importPeerMsg({
      FromUserId: 'alice',
      ToUserId: 'bob',
      ImportedUserId: 'bob',
      ...text('old', start),
    });
    const sent = await t.client.sendPeerMessage({
      FromUserId: 'alice',
      ToUserId: ['bob'],
      MessageType: 1,
      Priority: 1,
      MessageBody: { Message: 'live 1', ExtendedData: '{"_mig":{"lid":"L1"}}' },
    });
    const second = await t.client.sendPeerMessage({
      FromUserId: 'bob',
      ToUserId: ['alice'],
      ...text('live 2'),
    });
    assert.deepEqual(sent.failures, []);
    const [mine] = sent.sent;
    assert.equal(mine!.userId, 'bob');
    assert.ok(BigInt(mine!.msgId) > 2n ** 53n);

    for (const [from, to] of [
      ['alice', 'bob'],
      ['bob', 'alice'],
    ] as const) {
      const page = await t.client.queryPeerMsg({ FromUserId: from, ToUserId: to, Limit: 10 });
      assert.deepEqual(
        page.messages.map((m) => m.msgBody),
        ['live 2', 'live 1', 'old'],
        `${from}'s copy, newest first`
      );
      assert.equal(page.messages[1]!.msgId, mine!.msgId, 'both copies carry the MsgId SuccList gave');
      assert.equal(page.messages[1]!.payload, '{"_mig":{"lid":"L1"}}');
    }

    await t.emulator.callbacks.idle();
    const callbacks = receiver.events('send_msg');
    assert.equal(callbacks.length, 2, 'imports fire no callback by default');
    const cb = callbacks.find((c) => c.msg_body === 'live 1')!;
    assert.ok(receiver.received.every((r) => r.validSignature));
    assert.equal(cb.source, 1);
    assert.equal(cb.conv_type, 0);
    assert.equal(cb.conv_id, '', 'server-API one-to-one sends have an empty conv_id');
    assert.equal(cb.from_user_id, 'alice');
    assert.equal(cb.msg_id, mine!.msgId);
    assert.equal(cb.send_result, 0);
    assert.equal(cb.payload, '{"_mig":{"lid":"L1"}}');
    assert.deepEqual(cb.user_list, [{ UserId: 'bob', MsgId: mine!.msgId, MsgSeq: mine!.msgSeq }]);
    assert.equal(typeof cb.appid, 'string');
    assert.equal(second.sent.length, 1);
  });

  it('SendPeerMessage validates: unregistered sender, unknown receivers item by item, the sender among the receivers', async () => {
    const unregistered = await t.client
      .sendPeerMessage({ FromUserId: 'nobody', ToUserId: ['bob'], ...text('x') })
      .catch((e: unknown) => e);
    assert.ok(unregistered instanceof ZimError && unregistered.code === ZimCode.SENDER_NOT_REGISTERED);
    const partial = await t.client.sendPeerMessage({
      FromUserId: 'alice',
      ToUserId: ['carol', 'ghost', 'alice'],
      ...text('x'),
    });
    assert.deepEqual(
      partial.failures.map((f) => [f.id, f.code]),
      [
        ['ghost', ZimCode.USER_NOT_REGISTERED],
        ['alice', ZimCode.PARAM_INVALID],
      ]
    );
    assert.deepEqual(
      partial.sent.map((s) => s.userId),
      ['carol']
    );
    // Every receiver failed: Code≠0 with the full list, which the client returns as the answer.
    const none = await rawCall(t.emulator.url, {
      method: 'POST',
      query: { Action: 'SendPeerMessage' },
      body: JSON.stringify({ FromUserId: 'alice', ToUserId: ['ghost'], ...text('x') }),
    });
    assert.equal(none.json.Code, ZimCode.USER_NOT_REGISTERED);
    assert.deepEqual(none.json.ErrorList, [{ UserId: 'ghost', SubCode: ZimCode.USER_NOT_REGISTERED }]);
    assert.deepEqual(none.json.SuccList, []);
    const big = await t.client
      .sendPeerMessage({ FromUserId: 'alice', ToUserId: ['bob'], ...text('x'.repeat(2049)) })
      .catch((e: unknown) => e);
    assert.ok(big instanceof ZimError && big.code === ZimCode.MESSAGE_TOO_LARGE);
  });

  it('a batch SendPeerMessage fires one send_msg with an empty msg_id and every receiver in user_list', async () => {
    const sent = await t.client.sendPeerMessage({ FromUserId: 'dave', ToUserId: ['alice', 'bob'], ...text('to all') });
    await t.emulator.callbacks.idle();
    const [cb] = receiver.events('send_msg');
    assert.equal(cb!.msg_id, '');
    assert.deepEqual(
      (cb!.user_list as Array<{ MsgId: string }>).map((u) => u.MsgId),
      sent.sent.map((s) => s.msgId)
    );
  });

  it('SendGroupMessage answers MsgId as a JSON number beyond 2^53, kept exact, and fires send_msg source 1', async () => {
    await t.client.createGroup({ GroupId: 'g-send', GroupOwner: 'alice', UserId: ['bob'] });
    await t.client.importGroupMsg({ FromUserId: 'bob', GroupId: 'g-send', ...text('history', Date.now() - 60_000) });
    const raw = await rawCall(t.emulator.url, {
      query: { Action: 'SendGroupMessage' },
      method: 'POST',
      body: JSON.stringify({ FromUserId: 'alice', GroupId: 'g-send', ...text('live raw') }),
    });
    assert.equal(raw.json.Code, 0);
    const sent = await t.client.sendGroupMessage({ FromUserId: 'bob', GroupId: 'g-send', ...text('live') });
    assert.ok(BigInt(sent.msgId) > 2n ** 53n);
    const page = await t.client.queryGroupMsg({ GroupId: 'g-send', Limit: 10 });
    assert.deepEqual(
      page.messages.map((m) => m.msgBody),
      ['live', 'live raw', 'history']
    );
    assert.equal(page.messages[0]!.msgId, sent.msgId);
    assert.deepEqual(
      page.messages.map((m) => m.msgSeq),
      [3, 2, 1]
    );

    await t.emulator.callbacks.idle();
    const cb = receiver.events('send_msg').find((c) => c.msg_body === 'live')!;
    assert.equal(cb.source, 1);
    assert.equal(cb.conv_type, 2);
    assert.equal(cb.conv_id, 'g-send');
    assert.equal(cb.msg_id, sent.msgId, 'the callback carries msg_id as an exact string');
    assert.equal(cb.msg_seq, sent.msgSeq);

    const missing = await t.client
      .sendGroupMessage({ FromUserId: 'alice', GroupId: 'no-such-group', ...text('x') })
      .catch((e: unknown) => e);
    assert.ok(missing instanceof ZimError && missing.code === ZimCode.GROUP_NOT_FOUND);
  });

  it('the raw SendGroupMessage answer writes MsgId unquoted', async () => {
    await t.client.createGroup({ GroupId: 'g-raw', GroupOwner: 'alice' });
    const { body } = await request(
      `${t.emulator.url}/?${new URLSearchParams({
        Action: 'SendGroupMessage',
        ...signZimRequest({
          appId: t.emulator.appId,
          serverSecret: SECRET,
        }),
      }).toString()}`,
      { method: 'POST', body: JSON.stringify({ FromUserId: 'alice', GroupId: 'g-raw', ...text('x') }) }
    );
    const textBody = await body.text();
    assert.match(textBody, /"MsgId":\d{17,}[,}]/);
  });

  it('an App 2.0 user sends through the SDK: stored like any message, send_msg with source 0 omitted and conv_id the peer', async () => {
    const res = await introspect(t.emulator.url, 'POST', 'sdk/send', {
      from: 'carol',
      to: 'dave',
      body: 'from the app',
    });
    assert.equal(res.status, 200);
    const page = await t.client.queryPeerMsg({ FromUserId: 'dave', ToUserId: 'carol' });
    assert.equal(page.messages[0]!.msgBody, 'from the app');
    assert.equal(page.messages[0]!.msgId, res.json.msgId);
    await t.emulator.callbacks.idle();
    const [cb] = receiver.events('send_msg');
    assert.equal(cb!.source, undefined, 'ZIM omits source when it is 0 (SDK)');
    assert.equal(cb!.conv_id, 'dave');
    assert.equal(cb!.msg_id, res.json.msgId);
    assert.equal(cb!.user_list, undefined);

    const refused = await introspect(t.emulator.url, 'POST', 'sdk/send', { from: 'ghost', to: 'dave', body: 'x' });
    assert.equal(refused.status, 422);
    assert.equal(refused.json.code, ZimCode.SENDER_NOT_REGISTERED);
    const malformed = await introspect(t.emulator.url, 'POST', 'sdk/send', { from: 'carol', body: 'x' });
    assert.equal(malformed.status, 400);
  });

  it('an SDK edit fires send_msg again, with the same msg_id unless the switch says otherwise', async () => {
    const sent = await introspect(t.emulator.url, 'POST', 'sdk/send', { from: 'alice', to: 'carol', body: 'tpyo' });
    await introspect(t.emulator.url, 'POST', 'sdk/edit', {
      from: 'alice',
      to: 'carol',
      msgId: sent.json.msgId,
      body: 'typo',
    });
    t.emulator.callbacks.configure({ switches: { editReusesMsgId: false } });
    await introspect(t.emulator.url, 'POST', 'sdk/edit', {
      from: 'alice',
      to: 'carol',
      msgId: sent.json.msgId,
      body: 'typo!',
    });
    await t.emulator.callbacks.idle();
    const ids = receiver.events('send_msg').map((c) => [c.msg_body, c.msg_id]);
    assert.deepEqual(ids.slice(0, 2), [
      ['tpyo', sent.json.msgId],
      ['typo', sent.json.msgId],
    ]);
    assert.equal(ids[2]![0], 'typo!');
    assert.notEqual(ids[2]![1], sent.json.msgId);
    for (const owner of ['alice', 'carol']) {
      const copy = t.emulator.inspect.conversation(owner, owner === 'alice' ? 'carol' : 'alice')!;
      assert.equal(copy.at(-1)!.body, 'typo!', `${owner}'s copy is edited`);
    }
  });

  it('group operations fire group_create, group_join, group_exit and group_destroy, from the server API and the SDK', async () => {
    await t.client.createGroup({ GroupId: 'g-ops', GroupName: 'Ops', GroupOwner: 'alice', UserId: ['bob'] });
    await t.client.inviteUsersIntoGroup({ FromUserId: 'alice', GroupId: 'g-ops', UserIds: ['carol'] });
    await t.client.kickoutGroupUser({ FromUserId: 'alice', GroupId: 'g-ops', UserId: ['bob'] });
    await introspect(t.emulator.url, 'POST', 'sdk/join-group', { user: 'dave', groupId: 'g-ops' });
    await introspect(t.emulator.url, 'POST', 'sdk/quit-group', { user: 'carol', groupId: 'g-ops' });
    await t.client.dismissGroup({ FromUserId: 'bob', GroupId: 'g-ops' });
    assert.equal(t.emulator.inspect.group('g-ops'), undefined);
    await t.emulator.callbacks.idle();
    const pick = (b: Record<string, unknown>) => {
      const { appid: _a, nonce: _n, signature: _s, timestamp: _t, ...rest } = b;
      return rest;
    };
    const events = receiver.received.map((r) => pick(r.body));
    // Delivered concurrently: compare as a set, each with its fields.
    const expected = [
      {
        event: 'group_create',
        group_id: 'g-ops',
        operator_account: 'alice',
        owner_account: 'alice',
        group_name: 'Ops',
        attributes: [],
        user_ids: ['alice', 'bob'],
      },
      {
        event: 'group_join',
        group_id: 'g-ops',
        join_type: 'Invited',
        operator_account: 'alice',
        new_user_ids: ['carol'],
      },
      {
        event: 'group_exit',
        group_id: 'g-ops',
        exit_type: 'Kickout',
        operator_account: 'alice',
        exit_user_ids: ['bob'],
      },
      {
        event: 'group_join',
        group_id: 'g-ops',
        join_type: 'Apply',
        operator_account: 'invalid',
        new_user_ids: ['dave'],
      },
      {
        event: 'group_exit',
        group_id: 'g-ops',
        exit_type: 'Quit',
        operator_account: 'invalid',
        exit_user_ids: ['carol'],
      },
      {
        event: 'group_destroy',
        group_id: 'g-ops',
        operator_account: 'bob',
        owner_account: 'alice',
        user_ids: ['alice', 'dave'],
      },
    ];
    for (const e of expected)
      assert.ok(
        events.some((got) => JSON.stringify(got) === JSON.stringify(e)),
        JSON.stringify(e)
      );
    assert.equal(events.length, expected.length);
    assert.ok(receiver.received.every((r) => r.validSignature));
  });

  it('with groupCallbacksOnServerOps off, server-API group operations fire nothing and SDK ones still do', async () => {
    t.emulator.callbacks.configure({ switches: { groupCallbacksOnServerOps: false } });
    await t.client.createGroup({ GroupId: 'g-quiet', GroupOwner: 'alice', UserId: ['bob'] });
    await t.client.inviteUsersIntoGroup({ FromUserId: 'alice', GroupId: 'g-quiet', UserIds: ['carol'] });
    await introspect(t.emulator.url, 'POST', 'sdk/join-group', { user: 'dave', groupId: 'g-quiet' });
    await t.client.dismissGroup({ FromUserId: 'alice', GroupId: 'g-quiet' });
    await t.emulator.callbacks.idle();
    assert.deepEqual(
      receiver.events().map((e) => [e.event, e.join_type]),
      [['group_join', 'Apply']]
    );
  });

  it('with importFiresSendMsg on, imports fire send_msg source 1', async () => {
    t.emulator.callbacks.configure({ switches: { importFiresSendMsg: true } });
    const r = await t.client.importPeerMsg({
      FromUserId: 'carol',
      ToUserId: 'bob',
      ImportedUserId: 'bob',
      ...text('imp'),
    });
    await t.emulator.callbacks.idle();
    const [cb] = receiver.events('send_msg');
    assert.equal(cb!.source, 1);
    assert.deepEqual(cb!.user_list, [{ UserId: 'bob', MsgId: r.msgId, MsgSeq: r.msgSeq }]);
  });

  it('retries a callback while the receiver answers 500, then counts it delivered', async () => {
    receiver.status = (n) => (n <= 2 ? 500 : 200);
    const before = (await introspect(t.emulator.url, 'GET', 'counters')).json.callbacks as Record<string, number>;
    await t.client.sendGroupMessage({ FromUserId: 'alice', GroupId: 'g-send', ...text('retry me') });
    await t.emulator.callbacks.idle();
    assert.equal(receiver.received.length, 3);
    assert.ok(receiver.received.every((r) => r.body.msg_body === 'retry me' && r.validSignature));
    const now = (await introspect(t.emulator.url, 'GET', 'counters')).json.callbacks as Record<string, number>;
    assert.equal(now.retried! - before.retried!, 2);
    assert.equal(now.delivered! - before.delivered!, 1);
  });

  it('drops a callback after the last retry of the schedule fails, and lists it', async () => {
    receiver.status = () => 500;
    await t.client.sendGroupMessage({ FromUserId: 'alice', GroupId: 'g-send', ...text('doomed') });
    await t.emulator.callbacks.idle();
    assert.equal(receiver.received.length, 4, 'one attempt and three retries');
    const { json } = await introspect(t.emulator.url, 'GET', 'callbacks?outcome=dropped');
    const dropped = json.deliveries as Array<{ fields: { msg_body: string }; attempts: unknown[] }>;
    assert.equal(dropped.at(-1)!.fields.msg_body, 'doomed');
    assert.deepEqual(dropped.at(-1)!.attempts, [500, 500, 500, 500]);
    assert.ok((json.counters as Record<string, number>).dropped! >= 1);
    assert.equal((json.config as Record<string, unknown>).secret, undefined, 'the secret is never shown');
  });

  it('duplicates and reorders callbacks when configured, the same way for the same seed', async () => {
    const arrivals = async () => {
      receiver.received.length = 0;
      t.emulator.callbacks.configure({
        faults: { seed: 7, duplicateRate: 0.3, reorderRate: 0.3, reorderDelayMs: 150, duplicateDelayMs: 20 },
      });
      for (let i = 0; i < 12; i++) {
        await t.client.sendGroupMessage({ FromUserId: 'alice', GroupId: 'g-send', ...text(`n${i}`) });
      }
      await t.emulator.callbacks.idle();
      return receiver.events('send_msg').map((c) => Number(String(c.msg_body).slice(1)));
    };
    const first = await arrivals();
    const counts = new Map<number, number>();
    for (const n of first) counts.set(n, (counts.get(n) ?? 0) + 1);
    assert.equal(counts.size, 12, 'nothing lost');
    assert.ok(
      [...counts.values()].some((c) => c === 2),
      'some callbacks came twice'
    );
    const firstSeen = [...new Set(first)];
    assert.notDeepEqual(
      firstSeen,
      [...firstSeen].sort((a, b) => a - b),
      'some came after later ones'
    );
    const again = await arrivals();
    assert.deepEqual(
      [...again].sort((a, b) => a - b),
      [...first].sort((a, b) => a - b),
      'the same seed duplicates the same callbacks'
    );
  });

  it('DismissGroup is limited to one call per second per group (660300006), then answers 660600001 for the gone group', async () => {
    await t.client.createGroup({ GroupId: 'g-dismiss', GroupOwner: 'alice' });
    t.emulator.configure({ rateLimits: { enabled: true } });
    t.clock.freeze();
    try {
      await t.client.dismissGroup({ FromUserId: 'dave', GroupId: 'g-dismiss' });
      const again = await t.client.dismissGroup({ FromUserId: 'dave', GroupId: 'g-dismiss' }).catch((e: unknown) => e);
      assert.ok(again instanceof ZimError && again.code === ZimCode.GROUP_RATE_LIMITED, String(again));
      t.clock.advance(1_000);
      const gone = await t.client.dismissGroup({ FromUserId: 'dave', GroupId: 'g-dismiss' }).catch((e: unknown) => e);
      assert.ok(gone instanceof ZimError && gone.code === ZimCode.GROUP_NOT_FOUND, String(gone));
    } finally {
      t.emulator.configure({ rateLimits: { enabled: false } });
      t.clock.unfreeze();
      t.clock.offsetMs = 0;
    }
  });

  it('refuses an invalid callback configuration with 400 and keeps the one in force', async () => {
    const bad = await introspect(t.emulator.url, 'POST', 'callbacks', { url: 'not a url', faults: { lossRate: 2 } });
    assert.equal(bad.status, 400);
    assert.equal(t.emulator.callbacks.config().url, receiver.url);
  });

  it('with echoBeforeResponseRate 1, the callback reaches the receiver before the send returns', async () => {
    t.emulator.callbacks.configure({ faults: { echoBeforeResponseRate: 1 } });
    const sent = await t.client.sendGroupMessage({ FromUserId: 'alice', GroupId: 'g-send', ...text('echo first') });
    assert.equal(receiver.received.length, 1, 'delivered before the answer came back');
    assert.equal(receiver.events('send_msg')[0]!.msg_id, sent.msgId);
    const counters = (await introspect(t.emulator.url, 'GET', 'counters')).json.callbacks as Record<string, number>;
    assert.ok(counters.echoBeforeResponse! >= 1);
  });

  it('an SDK send the receiver blocked is refused, stored nowhere, and still fires send_msg with send_result', async () => {
    await t.client.addUsersToBlacklist({ FromUserId: 'dave', UserIds: ['bob'] });
    const res = await introspect(t.emulator.url, 'POST', 'sdk/send', { from: 'bob', to: 'dave', body: 'blocked' });
    assert.equal(res.status, 422);
    assert.equal(res.json.code, ZimCode.SENDER_BLOCKED);
    for (const [owner, peer] of [
      ['dave', 'bob'],
      ['bob', 'dave'],
    ]) {
      assert.ok(!(t.emulator.inspect.conversation(owner!, peer!) ?? []).some((m) => m.body === 'blocked'));
    }
    await t.emulator.callbacks.idle();
    const [cb] = receiver.events('send_msg');
    assert.equal(cb!.send_result, ZimCode.SENDER_BLOCKED);
    assert.equal(cb!.msg_body, 'blocked');
    assert.match(String(cb!.msg_id), /^\d+$/);
  });

  it("sends raise the receiver's unread count unless SendMsgOptions.NoUnread; imports do not by default", async () => {
    await registerUsers(t.client, ['u1', 'u2']);
    await t.client.importPeerMsg({ FromUserId: 'u1', ToUserId: 'u2', ImportedUserId: 'u2', ...text('imported') });
    await t.client.sendPeerMessage({ FromUserId: 'u1', ToUserId: ['u2'], ...text('live') });
    await t.client.sendPeerMessage({
      FromUserId: 'u1',
      ToUserId: ['u2'],
      ...text('quiet'),
      SendMsgOptions: { NoUnread: true },
    });
    const unread = (owner: string, peer: string) =>
      t.emulator.inspect.conversations(owner)!.find((c) => c.peer === peer)!.unread;
    assert.equal(unread('u2', 'u1'), 1);
    assert.equal(unread('u1', 'u2'), 0, "one's own sends are not unread");
  });

  it("a command message takes a MsgSeq but fires no send_msg, leaving a gap in the callbacks' group seqs", async () => {
    await t.client.createGroup({ GroupId: 'g-cmd', GroupOwner: 'alice', UserId: ['bob'] });
    await t.emulator.callbacks.idle();
    receiver.received.length = 0;
    await t.client.sendGroupMessage({ FromUserId: 'alice', GroupId: 'g-cmd', ...text('one') });
    const command = await t.client.sendGroupMessage({
      FromUserId: 'alice',
      GroupId: 'g-cmd',
      MessageType: 2,
      Priority: 1,
      MessageBody: { Message: '{"typing":true}' },
    });
    await introspect(t.emulator.url, 'POST', 'sdk/send', { from: 'bob', groupId: 'g-cmd', body: 'three' });
    await t.emulator.callbacks.idle();
    assert.equal(command.msgSeq, 2);
    assert.deepEqual(
      receiver
        .events('send_msg')
        .map((c) => [c.msg_body, c.msg_seq])
        .sort((a, b) => Number(a[1]) - Number(b[1])),
      [
        ['one', 1],
        ['three', 3],
      ]
    );
  });
});
