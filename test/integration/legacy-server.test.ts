/** The reference legacy chat server over real HTTP: its write API, its reads, its signed routing webhooks. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { LegacyClient } from '../../src/coexist/legacy-client';
import { LegacyRoutingEventSchema, type LegacyRoutingEvent } from '../../src/coexist/legacy-contract';
import { verifyLegacySignature } from '../../src/coexist/legacy-signature';
import { startLegacyServer, type LegacyServer } from '../../src/legacy-server/server';

const TOKEN = 'legacy-token-1234';
const SECRET = 'legacy-webhook-secret-5678';

/** Records each POST; answers `status(n)` to the n-th. */
class Sink {
  received: Array<{ event: LegacyRoutingEvent; verdict: string }> = [];
  status: (n: number) => number = () => 200;
  #server: Server | undefined;
  url = '';
  async start() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks);
        const verdict = verifyLegacySignature(SECRET, {
          timestamp: req.headers['x-legacy-timestamp'] as string,
          signature: req.headers['x-legacy-signature'] as string,
          rawBody,
        });
        this.received.push({ event: LegacyRoutingEventSchema.parse(JSON.parse(rawBody.toString())), verdict });
        res.writeHead(this.status(this.received.length)).end();
      });
    });
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/legacy/events`;
  }
  async stop() {
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => this.#server?.close(() => r()));
  }
}

async function call(base: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, token = TOKEN) {
  const res = await request(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe('reference legacy server over HTTP', { timeout: 30_000 }, () => {
  const sink = new Sink();
  let legacy: LegacyServer;
  before(async () => {
    await sink.start();
    legacy = await startLegacyServer({
      apiToken: TOKEN,
      webhookSecret: SECRET,
      webhookUrl: sink.url,
      retryDelaysMs: [20, 40, 80],
      seed: 7,
    });
    await call(legacy.url, 'POST', '/_test/users', { users: ['ann', 'bob', 'cy'] });
  });
  after(async () => {
    await legacy.close();
    await sink.stop();
  });
  beforeEach(async () => {
    await legacy.webhook.idle();
    sink.received = [];
    sink.status = () => 200;
    await call(legacy.url, 'POST', '/_test/webhook', { duplicateRate: 0, reorderRate: 0 });
  });

  it('refuses /v1 without the token; declares its echo identification', async () => {
    assert.equal((await call(legacy.url, 'GET', '/v1/capabilities', undefined, 'wrong')).status, 401);
    const caps = await call(legacy.url, 'GET', '/v1/capabilities');
    assert.deepEqual(caps.json, {
      contractVersion: 1,
      echoIdentification: { originTag: true, clientMsgId: true },
      groupState: true,
      groupProfile: true,
      conversationList: true,
    });
  });

  it("lists a user's conversations active since a time, a page at a time (GET /v1/users/{id}/conversations)", async () => {
    await call(legacy.url, 'POST', '/_test/users', { users: ['lu', 'lv', 'lw', 'lx'] });
    const client = new LegacyClient(legacy.url, TOKEN);
    try {
      await call(legacy.url, 'POST', '/_test/app1/send', { from: 'lu', to: 'lv', body: 'old' });
      await new Promise((r) => setTimeout(r, 20));
      const since = Date.now();
      await new Promise((r) => setTimeout(r, 20));
      await call(legacy.url, 'POST', '/_test/app1/send', { from: 'lw', to: 'lu', body: 'new' });
      await call(legacy.url, 'POST', '/_test/app1/createGroup', {
        operator: 'lu',
        groupId: 'lg',
        name: 'L',
        members: [],
      });
      await call(legacy.url, 'POST', '/_test/app1/send', { from: 'lu', groupId: 'lg', body: 'in the group' });
      await call(legacy.url, 'POST', '/_test/app1/send', { from: 'lw', to: 'lx', body: 'not lu' });
      const first = await client.userConversations('lu', since, 1);
      assert.deepEqual(
        first.conversations.map((c) => c.key),
        ['group:lg']
      );
      assert.ok(first.next !== undefined && first.conversations[0]!.lastMessageAt >= since);
      const second = await client.userConversations('lu', since, 1, first.next);
      assert.deepEqual([second.conversations.map((c) => c.key), second.next], [['peer:lu:lw'], undefined]);
      assert.equal((await client.userConversations('lu', 0, 10)).conversations.length, 3, 'the older one too');
      assert.deepEqual(await client.userConversations('nobody', 0, 10), { conversations: [] }, '404: none');
    } finally {
      await client.close();
    }
  });

  it('answers a group as it is now (GET /v1/groups/{id}), 404 once there is none', async () => {
    await call(legacy.url, 'POST', '/_test/app1/createGroup', {
      operator: 'ann',
      groupId: 'gs',
      name: 'S',
      members: ['bob'],
    });
    const client = new LegacyClient(legacy.url, TOKEN);
    try {
      const g = await client.group('gs');
      assert.deepEqual(
        { ...g, createdAt: typeof g?.createdAt },
        {
          groupId: 'gs',
          name: 'S',
          owner: 'ann',
          members: ['ann', 'bob'],
          createdAt: 'number',
          notice: '',
          avatar: '',
        }
      );
      // The profile write is convergent: a change posts group.changed with what changed, the same again nothing.
      const changes = () => legacy.webhook.log.filter((d) => d.type === 'group.changed' && !d.duplicate).length;
      const before = changes();
      await client.updateGroupProfile('gs', { operator: 'ann', name: 'S2', notice: 'N' });
      await client.updateGroupProfile('gs', { operator: 'ann', name: 'S2', notice: 'N' });
      await client.updateGroupProfile('gs', { operator: 'ann', name: 'S2' });
      const after = await client.group('gs');
      assert.deepEqual([after?.name, after?.notice, changes() - before], ['S2', 'N', 1]);
      await assert.rejects(client.updateGroupProfile('gs', { operator: 'ann' }), /answered 400/);
      await assert.rejects(client.updateGroupProfile('none', { operator: 'ann', name: 'x' }), /answered 404/);
      await call(legacy.url, 'POST', '/_test/app1/groups/gs/leave', { operator: 'bob' });
      assert.deepEqual((await client.group('gs'))?.members, ['ann']);
      await call(legacy.url, 'POST', '/_test/app1/groups/gs/dismiss', { operator: 'ann' });
      assert.equal(await client.group('gs'), null);
      assert.equal(await client.group('never'), null);
    } finally {
      await client.close();
    }
  });

  it('writes as a user, reads the tail by position, and routes the write with its origin tag and client id', async () => {
    const sent = await call(legacy.url, 'POST', '/v1/messages', {
      from: 'ann',
      to: 'bob',
      body: 'hello',
      originTag: 'zim-migrate',
      clientMsgId: 'zim:1',
    });
    assert.equal(sent.status, 200);
    await call(legacy.url, 'POST', '/_test/app1/send', { from: 'bob', to: 'ann', body: 'hi back' });
    const page = await call(legacy.url, 'GET', '/v1/conversations/peer%3Aann%3Abob/messages?afterSeq=1&limit=10');
    assert.equal(page.json.position, 2);
    assert.deepEqual(
      (page.json.messages as Array<{ body: string; seq: number }>).map((m) => [m.seq, m.body]),
      [[2, 'hi back']]
    );
    await legacy.webhook.idle();
    assert.equal(sink.received.length, 2);
    assert.ok(sink.received.every((r) => r.verdict === 'ok'));
    const [ours, theirs] = sink.received.map((r) => r.event);
    assert.ok(ours?.type === 'message.created' && theirs?.type === 'message.created');
    assert.equal(ours.message.originTag, 'zim-migrate');
    assert.equal(ours.message.clientMsgId, 'zim:1');
    assert.equal(theirs.message.originTag, undefined);
  });

  it('rejects a bad request with 400 and changes nothing', async () => {
    const before = (await call(legacy.url, 'GET', '/_test/state')).json;
    assert.equal((await call(legacy.url, 'POST', '/v1/messages', { from: 'ann', body: 'x' })).status, 400);
    assert.equal((await call(legacy.url, 'POST', '/v1/messages', { from: 'zed', to: 'ann', body: 'x' })).status, 404);
    assert.deepEqual((await call(legacy.url, 'GET', '/_test/state')).json, before);
  });

  it('retries a refused delivery with a fresh signature, then drops it after the last retry', async () => {
    sink.status = (n) => (n <= 2 ? 503 : 200);
    await call(legacy.url, 'POST', '/_test/app1/send', { from: 'ann', to: 'cy', body: 'one' });
    await legacy.webhook.idle();
    assert.equal(sink.received.length, 3);
    assert.equal(new Set(sink.received.map((r) => r.event.eventId)).size, 1, 'the same event each time');
    sink.received = [];
    sink.status = () => 500;
    await call(legacy.url, 'POST', '/_test/app1/send', { from: 'ann', to: 'cy', body: 'two' });
    await legacy.webhook.idle();
    assert.equal(sink.received.length, 4, 'first attempt and 3 retries');
    const log = (await call(legacy.url, 'GET', '/_test/deliveries')).json.deliveries as Array<{ outcome: string }>;
    assert.equal(log.at(-1)?.outcome, 'lost');
  });

  it('delivers a seeded share twice, with the same event id', async () => {
    await call(legacy.url, 'POST', '/_test/webhook', { duplicateRate: 0.5, seed: 3 });
    for (let i = 0; i < 20; i++)
      await call(legacy.url, 'POST', '/_test/app1/send', { from: 'bob', to: 'cy', body: `m${i}` });
    await legacy.webhook.idle();
    const ids = sink.received.map((r) => r.event.eventId);
    const distinct = new Set(ids).size;
    assert.equal(distinct, 20);
    assert.ok(ids.length > 22 && ids.length < 38, `about half duplicated: ${ids.length}`);
  });

  it('holds a seeded share back so that later events overtake it', async () => {
    await call(legacy.url, 'POST', '/_test/webhook', { reorderRate: 0.3, reorderDelayMs: 150, seed: 4 });
    for (let i = 0; i < 20; i++)
      await call(legacy.url, 'POST', '/_test/app1/send', { from: 'cy', to: 'ann', body: `r${i}` });
    await legacy.webhook.idle();
    const seqs = sink.received.map((r) => (r.event.type === 'message.created' ? r.event.message.seq : 0));
    assert.equal(new Set(seqs).size, 20, 'each event once');
    const overtaken = seqs.filter((seq, i) => seqs.slice(i + 1).some((later) => later < seq)).length;
    assert.ok(overtaken > 0, `some delivered after later ones: ${seqs.join(',')}`);
    const log = (await call(legacy.url, 'GET', '/_test/deliveries')).json.deliveries as Array<{ reordered: boolean }>;
    const held = log.slice(-20).filter((d) => d.reordered).length;
    assert.ok(held > 1 && held < 12, `about 30% held back: ${held}`);
  });

  it('serves group operations through /v1 and shows them in the state', async () => {
    assert.equal(
      (await call(legacy.url, 'POST', '/v1/groups', { operator: 'ann', groupId: 'g1', name: 'G', members: ['bob'] }))
        .status,
      200
    );
    await call(legacy.url, 'POST', '/v1/groups/g1/members', { operator: 'ann', users: ['cy'] });
    await call(legacy.url, 'POST', '/v1/groups/g1/members/remove', { operator: 'ann', users: ['bob'] });
    const state = (await call(legacy.url, 'GET', '/_test/state')).json as {
      groups: Array<{ id: string; members: string[] }>;
    };
    assert.deepEqual(state.groups.find((g) => g.id === 'g1')?.members, ['ann', 'cy']);
    assert.equal((await call(legacy.url, 'DELETE', '/v1/groups/g1', { operator: 'ann' })).status, 200);
    await legacy.webhook.idle();
    assert.deepEqual(
      sink.received.map((r) => r.event.type),
      ['group.created', 'group.members_joined', 'group.members_left', 'group.dismissed']
    );
  });
});
