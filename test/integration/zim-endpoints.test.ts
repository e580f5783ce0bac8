import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ZIM_ROLE, ZimCode, ZimPermanentError, type ZimMessage } from '../../src/zim-client';
import type { MuteGroupRequest } from '../../src/zim-client/requests';
import { registerUsers, text, useZimTestEnv } from '../helpers/zim';

const DAY = 86_400_000;

describe('ZimClient against the emulator over HTTP: every endpoint', () => {
  const t = useZimTestEnv();
  beforeEach(() => {
    t.emulator.reset();
    t.emulator.configure({ plan: 'pro', behaviour: { ordering: 'strict', importRaisesUnread: false } });
  });

  /** Every message of A's copy (or a group), newest first, through the paging cursor. */
  async function allPages(query: (next: string) => Promise<{ next: string; messages: ZimMessage[] }>) {
    const pages: ZimMessage[][] = [];
    let next = '0';
    do {
      const page = await query(next);
      pages.push(page.messages);
      next = page.next;
    } while (next !== '0' && pages.length < 100);
    return pages;
  }

  it('registers users, updates profiles (omitted fields stay) and queries them', async () => {
    const c = t.client;
    const reg = await c.userRegister({
      UserInfo: [
        { UserId: 'alice', UserName: 'Alice', UserAvatar: 'https://a/1.png' },
        { UserId: 'bob', UserName: 'Bob' },
      ],
    });
    assert.deepEqual(reg.failures, []);
    assert.match(reg.requestId ?? '', /^\d+$/);
    const mod = await c.modifyUserInfo({
      UserInfo: [
        { UserId: 'alice', Extra: '{"vip":true}' },
        { UserId: 'bob', UserName: '', UserAvatar: 'https://b/2.png' },
      ],
    });
    assert.deepEqual(mod.failures, []);
    const q = await c.queryUserInfos({ UserIds: ['alice', 'bob', 'ghost'] });
    assert.deepEqual(q.users, [
      { userId: 'alice', userName: 'Alice', userAvatar: 'https://a/1.png', extra: '{"vip":true}' },
      { userId: 'bob', userName: '', userAvatar: 'https://b/2.png', extra: '' },
    ]);
    assert.deepEqual(q.failures, [{ id: 'ghost', code: ZimCode.USER_NOT_REGISTERED, outcome: 'permanent' }]);
    assert.equal(t.emulator.inspect.user('alice')?.extra, '{"vip":true}');
  });

  it('adds friends mutually with alias, attributes and FriendTime, and pages the friend list', async () => {
    const ids = Array.from({ length: 21 }, (_, i) => `u${i}`);
    await registerUsers(t.client, ids);
    const since = t.clock.now() - 5 * DAY;
    const add = await t.client.addFriends({
      FromUserId: 'u0',
      FriendInfos: ids.slice(1).map((UserId, i) => ({
        UserId,
        FriendAlias: `alias ${i}`,
        FriendTime: since + i,
        Attributes: [{ Key: 'k0', Value: 'v' }],
      })),
    });
    assert.deepEqual(add.failures, []);

    const pages = [];
    let next = '0';
    do {
      const page = await t.client.queryFriendList({ FromUserId: 'u0', Limit: 8, Next: next });
      assert.equal(page.totalCount, 20);
      pages.push(page.friends);
      next = page.next;
    } while (next !== '0');
    assert.deepEqual(
      pages.map((p) => p.length),
      [8, 8, 4]
    );
    const first = pages[0]![0]!;
    assert.deepEqual(first, {
      userId: 'u1',
      userName: '',
      avatar: '',
      wording: '',
      friendAlias: 'alias 0',
      createTime: since,
      attributes: [{ key: 'k0', value: 'v' }],
    });
    // Mutual by default: u5 lists u0, and adding the reverse direction is "already friends".
    const reverse = await t.client.queryFriendList({ FromUserId: 'u5' });
    assert.deepEqual(
      reverse.friends.map((f) => f.userId),
      ['u0']
    );
    const again = await t.client.addFriends({ FromUserId: 'u5', FriendInfos: [{ UserId: 'u0' }] });
    assert.deepEqual(again.failures, [{ id: 'u0', code: ZimCode.ALREADY_FRIENDS, outcome: 'already-exists' }]);
  });

  it('adds one-way friendships when configured so', async () => {
    t.emulator.configure({ behaviour: { friendship: 'one-way' } });
    try {
      await registerUsers(t.client, ['a', 'b']);
      await t.client.addFriends({ FromUserId: 'a', FriendInfos: [{ UserId: 'b' }] });
      assert.equal((await t.client.queryFriendList({ FromUserId: 'b' })).totalCount, 0);
      assert.deepEqual((await t.client.addFriends({ FromUserId: 'b', FriendInfos: [{ UserId: 'a' }] })).failures, []);
    } finally {
      t.emulator.configure({ behaviour: { friendship: 'mutual' } });
    }
  });

  it('blocks users (ErrList) and lists the blocklist with update times', async () => {
    await registerUsers(t.client, ['a', 'b', 'c']);
    assert.deepEqual((await t.client.addUsersToBlacklist({ FromUserId: 'a', UserIds: ['b', 'c'] })).failures, []);
    const again = await t.client.addUsersToBlacklist({ FromUserId: 'a', UserIds: ['b', 'nobody'] });
    assert.deepEqual(again.failures, [
      { id: 'b', code: ZimCode.ALREADY_BLOCKED, outcome: 'already-exists' },
      { id: 'nobody', code: ZimCode.USER_NOT_REGISTERED, outcome: 'permanent' },
    ]);
    const list = await t.client.queryBlacklist({ FromUserId: 'a', Limit: 1 });
    assert.equal(list.totalCount, 2);
    assert.equal(list.next, '1');
    assert.equal(list.blocked[0]!.userId, 'b');
    assert.ok(Math.abs(list.blocked[0]!.updateTime - t.clock.now()) < 5_000);
    assert.deepEqual(
      (await t.client.queryBlacklist({ FromUserId: 'a', Next: list.next })).blocked.map((b) => b.userId),
      ['c']
    );
  });

  it('imports one-to-one messages into each owner’s own copy; QueryPeerMsg reads the caller’s copy', async () => {
    await registerUsers(t.client, ['a', 'b']);
    const t0 = t.clock.now() - DAY;
    const sent = [];
    for (let i = 0; i < 3; i++) {
      const m = { FromUserId: i === 1 ? 'b' : 'a', ToUserId: i === 1 ? 'a' : 'b', ...text(`m${i}`, t0 + i * 1000) };
      sent.push(await t.client.importPeerMsg({ ...m, ImportedUserId: 'a' }));
      if (i !== 0) await t.client.importPeerMsg({ ...m, ImportedUserId: 'b' }); // b "deleted" m0
    }
    assert.deepEqual(
      sent.map((s) => s.msgSeq),
      [1, 2, 3]
    );
    const aView = await t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'b' });
    assert.deepEqual(
      aView.messages.map((m) => [m.msgBody, m.sender, m.msgTime, m.msgSeq]),
      [
        ['m2', 'a', t0 + 2000, 3],
        ['m1', 'b', t0 + 1000, 2],
        ['m0', 'a', t0, 1],
      ]
    );
    assert.equal(aView.next, '0');
    // MsgIds are beyond 2^53 and exact: the same digits the import returned and the emulator stored.
    assert.deepEqual(
      aView.messages.map((m) => m.msgId).reverse(),
      sent.map((s) => s.msgId)
    );
    assert.deepEqual(
      t.emulator.inspect.conversation('a', 'b')!.map((m) => m.msgId),
      sent.map((s) => s.msgId)
    );
    for (const s of sent) assert.ok(BigInt(s.msgId) > BigInt(Number.MAX_SAFE_INTEGER));
    const bView = await t.client.queryPeerMsg({ FromUserId: 'b', ToUserId: 'a' });
    assert.deepEqual(
      bView.messages.map((m) => [m.msgBody, m.msgSeq]),
      [
        ['m2', 2],
        ['m1', 1],
      ]
    );
  });

  it('pages a long conversation newest first with an opaque cursor, clamping Limit', async () => {
    await registerUsers(t.client, ['a', 'b']);
    const t0 = t.clock.now() - DAY;
    for (let i = 0; i < 235; i++) {
      await t.client.importPeerMsg({ FromUserId: 'a', ToUserId: 'b', ImportedUserId: 'a', ...text(`m${i}`, t0 + i) });
    }
    const pages = await allPages((next) =>
      t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'b', Limit: 100, Next: next })
    );
    assert.deepEqual(
      pages.map((p) => p.length),
      [100, 100, 35]
    );
    const seqs = pages.flat().map((m) => m.msgSeq);
    assert.deepEqual(
      seqs,
      Array.from({ length: 235 }, (_, i) => 235 - i)
    );
    assert.equal((await t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'b' })).messages.length, 10);
    assert.equal((await t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'b', Limit: 0 })).messages.length, 10);
    assert.equal((await t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'b', Limit: 500 })).messages.length, 100);
    assert.deepEqual((await t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'nobody' })).messages, []);
  });

  it('mutes a group by role or all members (MuteGroup, GET with MuteRoleList[]), reads it back, unmutes', async () => {
    await registerUsers(t.client, ['a', 'b', 'c', 'x']);
    await t.client.createGroup({ GroupId: 'g', GroupOwner: 'a', UserId: ['b', 'c'] });
    await t.client.setGroupMemberRole({ FromUserId: 'a', GroupId: 'g', ToUserId: 'b', Role: ZIM_ROLE.admin });
    const info = async () => (await t.client.queryGroupInfo({ FromUserId: 'a', GroupId: 'g' })).mute;
    assert.deepEqual(await info(), { all: false, roles: [], expireTime: 0 });
    await t.client.muteGroup({ FromUserId: 'a', GroupId: 'g', IsAllMuted: false, MuteRoleList: [3], Duration: -1 });
    assert.deepEqual(await info(), { all: false, roles: [3], expireTime: -1 });
    // The same mute again changes nothing; a timed mute of everyone replaces it.
    await t.client.muteGroup({ FromUserId: 'a', GroupId: 'g', IsAllMuted: false, MuteRoleList: [3], Duration: -1 });
    assert.deepEqual(t.emulator.inspect.group('g')?.mute, { all: false, roles: [3], expireTime: -1 });
    await t.client.muteGroup({ FromUserId: 'b', GroupId: 'g', IsAllMuted: true, Duration: 60 });
    const timed = await info();
    assert.equal(timed.all, true);
    assert.ok(timed.expireTime > t.clock.now());
    // A plain member may not mute; an admin may not mute the owner's role; nor may Duration exceed 30 days.
    const refused: [MuteGroupRequest, number][] = [
      [{ FromUserId: 'c', GroupId: 'g', IsAllMuted: true, Duration: -1 }, ZimCode.NO_GROUP_PERMISSION],
      [{ FromUserId: 'b', GroupId: 'g', MuteRoleList: [1, 3], Duration: -1 }, ZimCode.NO_GROUP_PERMISSION],
      [{ FromUserId: 'a', GroupId: 'g', IsAllMuted: true, Duration: 2_592_001 }, ZimCode.PARAM_INVALID],
      [{ FromUserId: 'a', GroupId: 'nope', IsAllMuted: true, Duration: -1 }, ZimCode.GROUP_NOT_FOUND],
    ];
    for (const [req, code] of refused)
      await assert.rejects(t.client.muteGroup(req), (e: unknown) => e instanceof ZimPermanentError && e.code === code);
    // None of IsAllMuted, MuteRoleList and Duration: unmuted.
    await t.client.muteGroup({ FromUserId: 'a', GroupId: 'g' });
    assert.deepEqual(await info(), { all: false, roles: [], expireTime: 0 });
  });

  it('keeps MsgSeq growing by one per owner copy and per group under interleaved imports', async () => {
    const users = ['a', 'b', 'c'];
    await registerUsers(t.client, users);
    await t.client.createGroup({ GroupId: 'g', GroupOwner: 'a', UserId: ['b', 'c'] });
    const t0 = t.clock.now() - DAY;
    const seen = new Map<string, number[]>();
    const record = (key: string, seq: number) => seen.set(key, [...(seen.get(key) ?? []), seq]);
    for (let i = 0; i < 60; i++) {
      const from = users[i % 3]!;
      const to = users[(i + 1 + (i % 2)) % 3]!;
      const owner = i % 4 < 2 ? from : to;
      const r = await t.client.importPeerMsg({
        FromUserId: from,
        ToUserId: to,
        ImportedUserId: owner,
        ...text(`p${i}`, t0 + i),
      });
      record(`${owner}|${owner === from ? to : from}`, r.msgSeq);
      record(
        'group',
        (await t.client.importGroupMsg({ FromUserId: from, GroupId: 'g', ...text(`g${i}`, t0 + i) })).msgSeq
      );
    }
    assert.ok(seen.size > 3);
    for (const [key, seqs] of seen) {
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => i + 1),
        key
      );
    }
  });

  it('creates groups (owner de-duplicated, unknown members in ErrorUsers), adds and removes members', async () => {
    await registerUsers(t.client, ['owner', 'm1', 'm2', 'm3']);
    const created = await t.client.createGroup({
      GroupId: 'team',
      GroupName: 'Team',
      GroupOwner: 'owner',
      UserId: ['owner', 'm1', 'ghost', 'm1'],
      CreateGroupTime: t.clock.now() - DAY,
    });
    assert.equal(created.groupId, 'team');
    assert.deepEqual(
      created.members.map((m) => m.userId),
      ['owner', 'm1']
    );
    assert.deepEqual(created.failures, [{ id: 'ghost', code: ZimCode.USER_NOT_REGISTERED, outcome: 'permanent' }]);
    const generated = await t.client.createGroup({ GroupOwner: 'owner' });
    assert.match(generated.groupId, /^#/);

    const enter = t.clock.now() - 3_600_000;
    const invited = await t.client.inviteUsersIntoGroup({
      FromUserId: 'owner',
      GroupId: 'team',
      GroupMemberInfos: [{ UserId: 'm2', EnterGroupTime: enter }, { UserId: 'm3' }, { UserId: 'm1' }],
    });
    assert.deepEqual(invited.failures, []);
    assert.equal(t.emulator.inspect.group('team')!.members.find((m) => m.userId === 'm2')?.joinTime, enter);

    const kicked = await t.client.kickoutGroupUser({ FromUserId: 'm1', GroupId: 'team', UserId: ['owner', 'ghost'] });
    assert.deepEqual(kicked.failures, [
      { id: 'ghost', code: ZimCode.NOT_A_GROUP_MEMBER_TO_REMOVE, outcome: 'permanent' },
    ]);

    const page1 = await t.client.queryGroupMemberList({ GroupId: 'team', Limit: 2 });
    const page2 = await t.client.queryGroupMemberList({ GroupId: 'team', Limit: 2, Next: page1.next });
    assert.equal(page1.totalCount, 3);
    assert.deepEqual([page1.next, page2.next], ['1', '0']);
    assert.deepEqual(
      [...page1.members, ...page2.members].map((m) => [m.userId, m.role]),
      [
        ['m1', 1], // the first remaining member inherited ownership
        ['m2', 3],
        ['m3', 3],
      ]
    );
  });

  it('sets member roles and nicknames, which the member list returns', async () => {
    await registerUsers(t.client, ['boss', 'ann', 'bob', 'cy']);
    await t.client.createGroup({ GroupId: 'crew', GroupOwner: 'boss', UserId: ['ann', 'bob', 'cy'] });
    await t.client.setGroupMemberRole({ FromUserId: 'boss', GroupId: 'crew', ToUserId: 'ann', Role: 2 });
    // Again: a role a member already has is set silently.
    await t.client.setGroupMemberRole({ FromUserId: 'boss', GroupId: 'crew', ToUserId: 'ann', Role: 2 });
    // An admin may manage too; the owner's own role is not settable.
    await t.client.setGroupMemberRole({ FromUserId: 'ann', GroupId: 'crew', ToUserId: 'cy', Role: 150 });
    const owner = await t.client
      .setGroupMemberRole({ FromUserId: 'ann', GroupId: 'crew', ToUserId: 'boss', Role: 3 })
      .catch((e: unknown) => e);
    assert.ok(owner instanceof ZimPermanentError && owner.code === ZimCode.NO_GROUP_PERMISSION);

    const named = await t.client.setGroupMembersNickname({
      FromUserId: 'boss',
      GroupId: 'crew',
      UserIds: [
        { UserId: 'bob', Nickname: 'Bobby' },
        { UserId: 'boss', Nickname: 'Chief' },
        { UserId: 'ghost', Nickname: 'Boo' },
      ],
    });
    assert.deepEqual(named.failures, [{ id: 'ghost', code: ZimCode.USER_NOT_IN_GROUP, outcome: 'permanent' }]);
    const listed = await t.client.queryGroupMemberList({ GroupId: 'crew' });
    assert.deepEqual(
      listed.members.map((m) => [m.userId, m.role, m.userNickName]),
      [
        ['boss', 1, 'Chief'],
        ['ann', 2, ''],
        ['bob', 3, 'Bobby'],
        ['cy', 150, ''],
      ]
    );
    const all = await t.client.setGroupMembersNickname({
      FromUserId: 'boss',
      GroupId: 'crew',
      UserIds: [{ UserId: 'ghost', Nickname: 'x' }],
    });
    assert.equal(all.failures.length, 1, 'every item failed: the list is the answer (660600033)');
  });

  it('imports group history once for everybody, including senders who are not members', async () => {
    await registerUsers(t.client, ['a', 'b', 'left']);
    await t.client.createGroup({ GroupId: 'g', GroupOwner: 'a', UserId: ['b'] });
    const t0 = t.clock.now() - DAY;
    const r = [];
    for (const [i, from] of ['a', 'left', 'b'].entries()) {
      r.push(await t.client.importGroupMsg({ FromUserId: from, GroupId: 'g', ...text(`g${i}`, t0 + i) }));
    }
    assert.deepEqual(
      r.map((x) => x.msgSeq),
      [1, 2, 3]
    );
    assert.ok(!('msgId' in r[0]!), 'ImportGroupMsg returns no MsgId');
    const page = await t.client.queryGroupMsg({ GroupId: 'g', Limit: 2 });
    assert.deepEqual(
      page.messages.map((m) => [m.sender, m.msgBody, m.msgTime]),
      [
        ['b', 'g2', t0 + 2],
        ['left', 'g1', t0 + 1],
      ]
    );
    const rest = await t.client.queryGroupMsg({ GroupId: 'g', Limit: 2, Next: page.next });
    assert.deepEqual(
      rest.messages.map((m) => m.msgSeq),
      [1]
    );
    assert.equal(rest.next, '0');
    assert.equal(t.emulator.inspect.groupMessages('g')!.length, 3);
  });

  it('lists conversations by update time and clears unread counts', async () => {
    t.emulator.configure({ behaviour: { importRaisesUnread: true } });
    await registerUsers(t.client, ['a', 'b', 'c']);
    await t.client.createGroup({ GroupId: 'g', GroupOwner: 'a', UserId: ['b'] });
    const t0 = t.clock.now() - DAY;
    await t.client.importPeerMsg({ FromUserId: 'b', ToUserId: 'a', ImportedUserId: 'a', ...text('x', t0 + 30) });
    await t.client.importGroupMsg({ FromUserId: 'b', GroupId: 'g', ...text('y', t0 + 10) });
    await t.client.importPeerMsg({ FromUserId: 'a', ToUserId: 'c', ImportedUserId: 'a', ...text('z', t0 + 20) });
    const list = await t.client.queryConversationList({ FromUserId: 'a' });
    assert.deepEqual(
      list.conversations.map((c) => [c.convId, c.convType, c.updateTime]),
      [
        ['g', 2, t0 + 10],
        ['c', 0, t0 + 20],
        ['b', 0, t0 + 30],
      ]
    );
    assert.equal(t.emulator.inspect.conversations('a')!.find((c) => c.peer === 'b')?.unread, 1);
    assert.equal(t.emulator.inspect.groupUnread('g', 'a'), 1);
    await t.client.clearConversationUnread({ FromUserId: 'a', ConvId: 'b', ConvType: 0 });
    await t.client.clearConversationUnread({ FromUserId: 'a', ConvId: 'g', ConvType: 2 });
    assert.equal(t.emulator.inspect.conversations('a')!.find((c) => c.peer === 'b')?.unread, 0);
    assert.equal(t.emulator.inspect.groupUnread('g', 'a'), 0);
    await assert.rejects(
      t.client.clearConversationUnread({ FromUserId: 'c', ConvId: 'b', ConvType: 0 }),
      (e: unknown) => e instanceof ZimPermanentError && e.code === ZimCode.CONVERSATION_NOT_FOUND
    );
    // A group one was kicked from is still listed (zim-api.md §6.17); a dismissed one is not.
    const groupsOf = async (user: string) =>
      (await t.client.queryConversationList({ FromUserId: user })).conversations
        .filter((c) => c.convType === 2)
        .map((c) => c.convId);
    await t.client.kickoutGroupUser({ FromUserId: 'a', GroupId: 'g', UserId: ['b'] });
    assert.deepEqual(await groupsOf('b'), ['g'], 'kicked: still listed');
    await t.client.dismissGroup({ FromUserId: 'a', GroupId: 'g' });
    assert.deepEqual([await groupsOf('a'), await groupsOf('b')], [[], []], 'dismissed: gone');
  });

  it('lists conversations a page at a time, the newest 1000 only', async () => {
    await registerUsers(t.client, ['u', ...Array.from({ length: 1005 }, (_, i) => `p${i}`)]);
    const t0 = t.clock.now() - DAY;
    for (let i = 0; i < 1005; i++)
      await t.client.importPeerMsg({ FromUserId: `p${i}`, ToUserId: 'u', ImportedUserId: 'u', ...text('x', t0 + i) });
    const first = await t.client.queryConversationList({ FromUserId: 'u', Limit: 600 });
    assert.deepEqual([first.conversations.length, first.totalCount], [500, 1000], 'Limit clamped to 500');
    assert.equal(first.conversations[0]!.convId, 'p5', 'the oldest five are beyond the newest 1000');
    const second = await t.client.queryConversationList({ FromUserId: 'u', Limit: 600, Next: first.next });
    assert.deepEqual([second.conversations.length, second.next], [500, '0']);
    assert.equal(second.conversations.at(-1)!.convId, 'p1004', 'ascending: the newest last');
  });

  it('returns media bodies in the queried representation (§7.3) and ExtendedData as Payload', async () => {
    await registerUsers(t.client, ['a', 'b']);
    const file = JSON.stringify({ Url: 'https://cdn/x.pdf', FileName: 'x.pdf', Size: 12 });
    await t.client.importPeerMsg({
      FromUserId: 'a',
      ToUserId: 'b',
      ImportedUserId: 'b',
      MessageType: 12,
      Priority: 2,
      MessageBody: { Message: file, ExtendedData: '{"legacyId":7}' },
    });
    const [m] = (await t.client.queryPeerMsg({ FromUserId: 'b', ToUserId: 'a' })).messages;
    assert.equal(m!.msgType, 12);
    assert.equal(m!.payload, '{"legacyId":7}');
    assert.deepEqual(JSON.parse(decodeURIComponent(m!.msgBody)), {
      md5: '',
      file_name: 'x.pdf',
      file_size: '12',
      download_url: 'https://cdn/x.pdf',
    });
    assert.equal(t.emulator.inspect.conversation('b', 'a')![0]!.body, file);
  });

  it('refuses time going backwards in strict mode, and sorts it in lenient mode', async () => {
    await registerUsers(t.client, ['a', 'b']);
    const t0 = t.clock.now() - DAY;
    const peer = (body: string, time: number) =>
      t.client.importPeerMsg({ FromUserId: 'a', ToUserId: 'b', ImportedUserId: 'a', ...text(body, time) });
    await peer('late', t0 + 100);
    await assert.rejects(
      peer('early', t0),
      (e: unknown) => e instanceof ZimPermanentError && e.code === ZimCode.PARAM_INVALID
    );
    await peer('same time is fine', t0 + 100);
    t.emulator.configure({ behaviour: { ordering: 'lenient' } });
    await peer('early', t0);
    const page = await t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'b' });
    assert.deepEqual(
      page.messages.map((m) => [m.msgBody, m.msgSeq]),
      [
        ['same time is fine', 2],
        ['late', 1],
        ['early', 3],
      ]
    );
  });

  it('applies the retention window on import and expires old messages on query', async () => {
    await registerUsers(t.client, ['a', 'b']);
    const now = t.clock.now();
    const imp = (time: number) =>
      t.client.importPeerMsg({ FromUserId: 'a', ToUserId: 'b', ImportedUserId: 'a', ...text(`at ${time}`, time) });
    await assert.rejects(
      imp(now - 31 * DAY),
      (e: unknown) => e instanceof ZimPermanentError && e.code === ZimCode.PARAM_INVALID
    );
    await assert.rejects(
      imp(now + 60_000),
      (e: unknown) => e instanceof ZimPermanentError && e.code === ZimCode.TIME_IN_FUTURE
    );
    await imp(now - 29 * DAY);
    const recent = await t.client.importPeerMsg({
      FromUserId: 'a',
      ToUserId: 'b',
      ImportedUserId: 'a',
      ...text('now'),
    });
    assert.equal(recent.msgSeq, 2);
    const stored = t.emulator.inspect.conversation('a', 'b')!;
    assert.ok(Math.abs(stored[1]!.time - now) < 5_000, 'SendMessageTime absent = server time');

    t.emulator.configure({ limits: { retentionDays: 7 } });
    const visible = await t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'b' });
    assert.deepEqual(
      visible.messages.map((m) => m.msgBody),
      ['now']
    );
    const withEmpty = await t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'b', WithEmptyMsg: 1 });
    assert.deepEqual(
      withEmpty.messages.map((m) => [m.msgBody, m.isEmpty]),
      [
        ['now', 0],
        ['', 1],
      ]
    );
  });
});
