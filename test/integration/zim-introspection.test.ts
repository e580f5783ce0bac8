import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { request } from 'undici';
import { ZimCode, ZimRetryableError } from '../../src/zim-client';
import { introspect, registerUsers, SECRET, text, useZimTestEnv } from '../helpers/zim';

describe('emulator introspection API (/_emulator/)', () => {
  const t = useZimTestEnv();
  before(async () => {
    await registerUsers(t.client, ['a', 'b', 'c']);
    await t.client.modifyUserInfo({ UserInfo: [{ UserId: 'a', UserName: 'Alice' }] });
    await t.client.addFriends({ FromUserId: 'a', FriendInfos: [{ UserId: 'b', FriendAlias: 'bee' }] });
    await t.client.addUsersToBlacklist({ FromUserId: 'a', UserIds: ['c'] });
    const created = await t.client.createGroup({ GroupOwner: 'a', UserId: ['b'] });
    await t.client.importGroupMsg({ FromUserId: 'b', GroupId: created.groupId, ...text('hello group') });
    await t.client.importPeerMsg({ FromUserId: 'a', ToUserId: 'b', ImportedUserId: 'b', ...text('hi b') });
  });

  it('summarises the state and dumps it in full on request', async () => {
    const { json } = await introspect(t.emulator.url, 'state');
    assert.deepEqual(json, {
      users: 3,
      friendListEntries: 2,
      blocks: 1,
      groups: 1,
      groupMembers: 2,
      peerConversations: 1,
      messages: { peer: 1, group: 1, total: 2 },
    });
    const full = (await introspect(t.emulator.url, 'state?full=1')).json as { users: Array<{ userId: string }> };
    assert.deepEqual(full, JSON.parse(JSON.stringify(t.emulator.inspect.dump())));
    assert.deepEqual(
      full.users.map((u) => u.userId),
      ['a', 'b', 'c']
    );
  });

  it('serves users, groups and each owner’s conversation copies, with paging and URL-encoded ids', async () => {
    const users = (await introspect(t.emulator.url, 'users?offset=1&limit=1')).json;
    assert.deepEqual(
      (users as Array<{ userId: string }>).map((u) => u.userId),
      ['b']
    );
    const a = (await introspect(t.emulator.url, 'users/a')).json as Record<string, unknown>;
    assert.equal(a.userName, 'Alice');
    assert.deepEqual(
      (a.friends as Array<{ userId: string; friendAlias: string }>).map((f) => [f.userId, f.friendAlias]),
      [['b', 'bee']]
    );
    assert.deepEqual(
      (a.blocked as Array<{ userId: string }>).map((f) => f.userId),
      ['c']
    );
    const [groupId] = (await introspect(t.emulator.url, 'groups')).json as string[];
    assert.match(groupId!, /^#/);
    const group = (await introspect(t.emulator.url, `groups/${encodeURIComponent(groupId!)}`)).json as {
      members: Array<{ userId: string; role: number }>;
    };
    assert.deepEqual(
      group.members.map((m) => [m.userId, m.role]),
      [
        ['a', 1],
        ['b', 3],
      ]
    );
    const history = (await introspect(t.emulator.url, `groups/${encodeURIComponent(groupId!)}/messages`)).json;
    assert.deepEqual(
      (history as Array<{ body: string; seq: number; sender: string }>).map((m) => [m.sender, m.seq, m.body]),
      [['b', 1, 'hello group']]
    );
    assert.deepEqual((await introspect(t.emulator.url, 'conversations/b')).json, [
      { peer: 'a', messageCount: 1, lastSeq: 1, unread: 0 },
    ]);
    const copy = (await introspect(t.emulator.url, 'conversations/b/a')).json as Array<{ msgId: string; body: string }>;
    assert.equal(copy[0]!.body, 'hi b');
    assert.match(copy[0]!.msgId, /^\d{19}$/);
    assert.deepEqual((await introspect(t.emulator.url, 'conversations/a/b')).json, {
      error: 'conversation a → b not found',
    });
  });

  it('answers 404 for unknown routes and records, 400 for bad input', async () => {
    assert.equal((await introspect(t.emulator.url, 'users/nobody')).status, 404);
    assert.equal((await introspect(t.emulator.url, 'nothing-here')).status, 404);
    assert.equal((await introspect(t.emulator.url, 'users?limit=-1')).status, 400);
    assert.equal((await introspect(t.emulator.url, 'faults', { resetRate: 2 })).status, 400);
    assert.equal((await introspect(t.emulator.url, 'limits', { plan: 'gold' })).status, 400);
  });

  it('counts calls per Action and refusals per code', async () => {
    await t.client.queryUserInfos({ UserIds: ['a', 'ghost'] });
    const { json } = await introspect(t.emulator.url, 'counters');
    const c = json as {
      calls: Record<string, number>;
      refusals: Record<string, number>;
      itemFailures: Record<string, number>;
    };
    assert.equal(c.calls.UserRegister, 1);
    assert.equal(c.calls.QueryUserInfos, 1);
    assert.equal(c.itemFailures[String(ZimCode.USER_NOT_REGISTERED)], 1);
    assert.deepEqual(c.refusals, {});
  });

  it('changes faults and limits at runtime, from another process’s point of view', async () => {
    const faults = await introspect(t.emulator.url, 'faults', {
      seed: 9,
      serverBusyRate: 1,
      actions: ['QueryFriendList'],
    });
    assert.equal(faults.status, 200);
    await assert.rejects(
      t.client.queryFriendList({ FromUserId: 'a' }),
      (e: unknown) => e instanceof ZimRetryableError && e.code === ZimCode.SERVER_BUSY
    );
    assert.deepEqual((await introspect(t.emulator.url, 'faults')).json, t.emulator.faults());
    await introspect(t.emulator.url, 'faults', {});
    await t.client.queryFriendList({ FromUserId: 'a' });

    const limits = (await introspect(t.emulator.url, 'limits', { plan: 'free', behaviour: { ordering: 'lenient' } }))
      .json as {
      limits: { retentionDays: number; maxGroupMembers: number };
      behaviour: { ordering: string };
    };
    assert.deepEqual(
      [limits.limits.retentionDays, limits.limits.maxGroupMembers, limits.behaviour.ordering],
      [7, 20, 'lenient']
    );
    const config = (await introspect(t.emulator.url, 'config')).json;
    assert.ok(!JSON.stringify(config).includes(SECRET));
    await introspect(t.emulator.url, 'limits', { plan: 'pro', behaviour: { ordering: 'strict' } });
  });

  it('resets counters and state on request', async () => {
    await introspect(t.emulator.url, 'reset', { state: false });
    assert.equal(t.emulator.counters().requests, 0);
    assert.equal(t.emulator.inspect.summary().users, 3);
    await introspect(t.emulator.url, 'reset', {});
    assert.equal(t.emulator.inspect.summary().users, 0);
    assert.equal((await introspect(t.emulator.url, 'health')).status, 200);
  });

  it('drops one entry of one friend list or blocklist behind the API, for tests of verify', async () => {
    await registerUsers(t.client, ['d', 'e']);
    await t.client.addFriends({ FromUserId: 'd', FriendInfos: [{ UserId: 'e' }] });
    await t.client.addUsersToBlacklist({ FromUserId: 'd', UserIds: ['e'] });
    const drop = async (path: string) =>
      (await request(`${t.emulator.url}/_emulator/${path}`, { method: 'DELETE' })).statusCode;
    assert.equal(await drop('users/d/friends/e'), 200);
    assert.equal(await drop('users/d/friends/e'), 404);
    assert.equal(await drop('users/d/blocked/e'), 200);
    assert.equal(await drop('users/d/enemies/e'), 404);
    const user = async (id: string) =>
      (await introspect(t.emulator.url, `users/${id}`)).json as { friends: unknown[]; blocked: unknown[] };
    assert.deepEqual([(await user('d')).friends, (await user('d')).blocked], [[], []]);
    assert.equal((await user('e')).friends.length, 1, "the other side's list stays");
  });
});
