/**
 * The Actions a catch-up round needs besides the import's (issue #13), through ZimClient against the emulator over
 * HTTP: what each does to the emulator's state (as the inspector and ZIM's own queries show it), its codes for bad
 * input, its rate limits, and what a replay after a commit-then-drop answers.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ClientCode, ZIM_ROLE, ZimCode, ZimError, ZimRetryableError } from '../../src/zim-client';
import type { ZimAction } from '../../src/zim-client';
import { rawCall, registerUsers, useZimTestEnv } from '../helpers/zim';

async function caught(promise: Promise<unknown>): Promise<ZimError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ZimError, `expected a ZimError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

async function refusedWith(promise: Promise<unknown>, code: number): Promise<void> {
  const err = await caught(promise);
  assert.equal(err.code, code, err.message);
}

const codes = (failures: Array<{ id: string; code: number }>) => failures.map((f) => [f.id, f.code]);

describe('catch-up Actions against the emulator over HTTP', () => {
  const t = useZimTestEnv();
  const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
  const friendsOf = (id: string) => t.emulator.inspect.user(id)!.friends.map((f) => f.userId);
  const blockedBy = (id: string) => t.emulator.inspect.user(id)!.blocked.map((b) => b.userId);
  const roles = (groupId: string) =>
    Object.fromEntries(t.emulator.inspect.group(groupId)!.members.map((m) => [m.userId, m.role]));

  beforeEach(async () => {
    t.emulator.reset();
    t.emulator.setFaults({});
    t.emulator.configure({
      rateLimits: { enabled: false, perSecond: {}, perGroupPerSecond: {}, codes: {} },
      behaviour: { friendship: 'mutual', groupEditsRequireRole: true },
      limits: { maxFriendsPerCall: 20 },
    });
    t.clock.unfreeze();
    await registerUsers(t.client, USERS);
  });

  /** Group g: u0 owner, u1 admin, u2 and u3 members. */
  async function groupG(fields: { GroupName?: string; GroupNotice?: string; GroupAvatar?: string } = {}) {
    await t.client.createGroup({
      GroupId: 'g',
      GroupOwner: 'u0',
      UserId: ['u1', 'u2', 'u3'],
      Attributes: [{ Key: 'topic', Value: 'cats' }],
      ...fields,
    });
    await t.client.setGroupMemberRole({ FromUserId: 'u0', GroupId: 'g', ToUserId: 'u1', Role: ZIM_ROLE.admin });
  }

  describe('DeleteFriends', () => {
    beforeEach(async () => {
      await t.client.addFriends({ FromUserId: 'u0', FriendInfos: ['u1', 'u2', 'u3'].map((UserId) => ({ UserId })) });
    });

    it('two-way: both lists lose the pair; bad targets fail item by item in ErrorList, the rest is done', async () => {
      const r = await t.client.deleteFriends({
        FromUserId: 'u0',
        UserIds: ['u1', 'u4', 'ghost', 'u0', 'bad/id'],
        DeleteType: 0,
      });
      assert.deepEqual(codes(r.failures), [
        ['u4', ZimCode.NOT_A_FRIEND],
        ['ghost', ZimCode.USER_NOT_REGISTERED],
        ['u0', ZimCode.USER_IDS_CONTAIN_FROM],
        ['bad/id', ZimCode.PARAM_INVALID],
      ]);
      // Nothing to remove is what a replay of a removal meets: it counts as done.
      assert.equal(r.failures[0]!.outcome, 'already-exists');
      assert.deepEqual(friendsOf('u0'), ['u2', 'u3']);
      assert.deepEqual(friendsOf('u1'), []);
      const listed = await t.client.queryFriendList({ FromUserId: 'u0' });
      assert.deepEqual(
        listed.friends.map((f) => f.userId),
        ['u2', 'u3']
      );
      assert.equal(listed.totalCount, 2);
    });

    it('one-way: the target leaves FromUserId’s list, FromUserId stays in the target’s', async () => {
      const r = await t.client.deleteFriends({ FromUserId: 'u0', UserIds: ['u2'], DeleteType: 1 });
      assert.deepEqual(r.failures, []);
      assert.deepEqual(friendsOf('u0'), ['u1', 'u3']);
      assert.deepEqual(friendsOf('u2'), ['u0']);
      // The one left behind is not u0's friend any more: deleting from u0's side again has nothing to remove.
      const again = await t.client.deleteFriends({ FromUserId: 'u0', UserIds: ['u2'], DeleteType: 0 });
      assert.deepEqual(codes(again.failures), [['u2', ZimCode.NOT_A_FRIEND]]);
      assert.deepEqual(friendsOf('u2'), ['u0'], 'a refused item changes nothing');
      await t.client.deleteFriends({ FromUserId: 'u2', UserIds: ['u0'], DeleteType: 0 });
      assert.deepEqual(friendsOf('u2'), []);
    });

    it('answers Code≠0 with the full list when every item fails, and refuses bad calls whole', async () => {
      const before = t.emulator.counters().refusals[String(ZimCode.NOT_A_FRIEND)] ?? 0;
      const r = await t.client.deleteFriends({ FromUserId: 'u0', UserIds: ['u4', 'u5'], DeleteType: 0 });
      assert.deepEqual(codes(r.failures), [
        ['u4', ZimCode.NOT_A_FRIEND],
        ['u5', ZimCode.NOT_A_FRIEND],
      ]);
      assert.equal(t.emulator.counters().refusals[String(ZimCode.NOT_A_FRIEND)], before + 1);
      const del = (req: object) =>
        t.client.deleteFriends({ FromUserId: 'u0', UserIds: ['u1'], DeleteType: 0, ...req } as never);
      await refusedWith(del({ UserIds: ['u1', 'u1'] }), ZimCode.DUPLICATE_USER_IDS);
      await refusedWith(del({ FromUserId: 'ghost' }), ZimCode.SENDER_NOT_REGISTERED);
      await refusedWith(del({ UserIds: [] }), ZimCode.PARAM_INVALID);
      await refusedWith(del({ DeleteType: 2 }), ZimCode.PARAM_INVALID);
      assert.deepEqual(friendsOf('u0'), ['u1', 'u2', 'u3'], 'refused calls change nothing');
    });

    it('takes up to 50 per call when the plan raises AddFriends’ batch size', async () => {
      const many = Array.from({ length: 50 }, (_, i) => `m${i}`);
      await registerUsers(t.client, many);
      t.emulator.configure({ limits: { maxFriendsPerCall: 50 } });
      await t.client.addFriends({ FromUserId: 'u0', FriendInfos: many.map((UserId) => ({ UserId })) });
      const r = await t.client.deleteFriends({ FromUserId: 'u0', UserIds: many, DeleteType: 0 });
      assert.deepEqual(r.failures, []);
      assert.deepEqual(friendsOf('u0'), ['u1', 'u2', 'u3']);
    });
  });

  describe('RemoveUsersFromBlacklist', () => {
    beforeEach(async () => {
      await t.client.addUsersToBlacklist({ FromUserId: 'u0', UserIds: ['u1', 'u2'] });
      await t.client.addUsersToBlacklist({ FromUserId: 'u1', UserIds: ['u0'] });
    });

    it('unblocks; unknown, self and not-blocked users fail item by item in ErrList', async () => {
      const r = await t.client.removeUsersFromBlacklist({ FromUserId: 'u0', UserIds: ['u1', 'u3', 'ghost', 'u0'] });
      assert.deepEqual(codes(r.failures), [
        ['u3', ZimCode.NOT_IN_BLOCKLIST],
        ['ghost', ZimCode.USER_NOT_REGISTERED],
        ['u0', ZimCode.BLOCK_SELF],
      ]);
      assert.equal(r.failures[0]!.outcome, 'already-exists');
      assert.deepEqual(blockedBy('u0'), ['u2']);
      assert.deepEqual(blockedBy('u1'), ['u0'], 'the other side’s block is its own');
      const listed = await t.client.queryBlacklist({ FromUserId: 'u0' });
      assert.deepEqual(
        listed.blocked.map((b) => b.userId),
        ['u2']
      );
    });

    it('answers 660800042 with the full ErrList when nothing was unblocked; refuses bad calls whole', async () => {
      const wire = await rawCall(t.emulator.url, {
        query: { Action: 'RemoveUsersFromBlacklist' },
        body: JSON.stringify({ FromUserId: 'u0', UserIds: ['u3', 'u4'] }),
      });
      assert.equal(wire.json.Code, ZimCode.UNBLOCK_FAILED_FOR_ALL);
      assert.deepEqual(wire.json.ErrList, [
        { UserId: 'u3', SubCode: ZimCode.NOT_IN_BLOCKLIST },
        { UserId: 'u4', SubCode: ZimCode.NOT_IN_BLOCKLIST },
      ]);
      const r = await t.client.removeUsersFromBlacklist({ FromUserId: 'u0', UserIds: ['u3'] });
      assert.deepEqual(codes(r.failures), [['u3', ZimCode.NOT_IN_BLOCKLIST]]);
      await refusedWith(
        t.client.removeUsersFromBlacklist({ FromUserId: 'ghost', UserIds: ['u1'] }),
        ZimCode.FROM_USER_NOT_REGISTERED
      );
      await refusedWith(t.client.removeUsersFromBlacklist({ FromUserId: 'u0', UserIds: [] }), ZimCode.PARAM_INVALID);
      assert.deepEqual(blockedBy('u0'), ['u1', 'u2']);
    });
  });

  describe('UpdateGroupData', () => {
    beforeEach(() => groupG({ GroupName: 'Cats', GroupNotice: 'Be kind', GroupAvatar: 'https://a/cat.png' }));

    it('changes only the fields sent; an empty string clears one; QueryGroupInfo and the inspector show it', async () => {
      await t.client.updateGroupData({ FromUserId: 'u0', GroupId: 'g', GroupName: 'Cats & dogs' });
      let info = await t.client.queryGroupInfo({ FromUserId: 'u2', GroupId: 'g' });
      assert.deepEqual(
        [info.groupName, info.groupNotice, info.groupAvatar],
        ['Cats & dogs', 'Be kind', 'https://a/cat.png']
      );
      assert.equal(info.groupDataSeq, 1);
      // An admin may too.
      await t.client.updateGroupData({ FromUserId: 'u1', GroupId: 'g', GroupNotice: '', GroupAvatar: 'https://b' });
      info = await t.client.queryGroupInfo({ FromUserId: 'u2', GroupId: 'g' });
      assert.deepEqual(
        [info.groupName, info.groupNotice, info.groupAvatar, info.groupDataSeq],
        ['Cats & dogs', '', 'https://b', 2]
      );
      const g = t.emulator.inspect.group('g')!;
      assert.deepEqual([g.groupName, g.groupNotice, g.groupAvatar, g.dataSeq], ['Cats & dogs', '', 'https://b', 2]);
    });

    it('refuses an empty update, oversize fields, unknown operators and groups, and plain members', async () => {
      const update = (req: object) => t.client.updateGroupData({ FromUserId: 'u0', GroupId: 'g', ...req });
      await refusedWith(update({}), ZimCode.PARAM_INVALID);
      await refusedWith(update({ GroupName: 'é'.repeat(51) }), ZimCode.PARAM_INVALID);
      await refusedWith(update({ GroupNotice: 'x'.repeat(301) }), ZimCode.PARAM_INVALID);
      await refusedWith(update({ GroupAvatar: 'x'.repeat(501) }), ZimCode.PARAM_INVALID);
      await refusedWith(update({ FromUserId: 'ghost', GroupName: 'x' }), ZimCode.SENDER_NOT_REGISTERED);
      await refusedWith(update({ GroupId: 'nope', GroupName: 'x' }), ZimCode.GROUP_NOT_FOUND);
      await refusedWith(update({ FromUserId: 'u2', GroupName: 'x' }), ZimCode.NO_GROUP_PERMISSION);
      await refusedWith(update({ FromUserId: 'u5', GroupName: 'x' }), ZimCode.NO_GROUP_PERMISSION);
      assert.equal(t.emulator.inspect.group('g')!.groupName, 'Cats');
      await update({ GroupName: 'é'.repeat(50) });
      assert.equal(t.emulator.inspect.group('g')!.groupName, 'é'.repeat(50));
    });

    it('lets any registered user edit when behaviour.groupEditsRequireRole is off', async () => {
      t.emulator.configure({ behaviour: { groupEditsRequireRole: false } });
      await t.client.updateGroupData({ FromUserId: 'u5', GroupId: 'g', GroupName: 'by a stranger' });
      assert.equal(t.emulator.inspect.group('g')!.groupName, 'by a stranger');
    });
  });

  describe('ModifyGroupAttribute', () => {
    beforeEach(() => groupG());
    const attributes = () => t.emulator.inspect.group('g')!.attributes;

    it('sets new and existing keys (Action 0), deletes keys (Action 1), FailKeys for keys it lacks', async () => {
      const set = await t.client.modifyGroupAttribute({
        FromUserId: 'u0',
        GroupId: 'g',
        Attributes: [
          { Key: 'rules', Value: 'none' },
          { Key: 'topic', Value: 'dogs' },
        ],
      });
      assert.deepEqual(set, {
        failedKeys: [],
        attributes: [
          { key: 'rules', value: 'none' },
          { key: 'topic', value: 'dogs' },
        ],
        requestId: set.requestId,
      });
      assert.deepEqual(attributes(), [
        { Key: 'topic', Value: 'dogs' },
        { Key: 'rules', Value: 'none' },
      ]);
      const del = await t.client.modifyGroupAttribute({
        Action: 1,
        FromUserId: 'u1',
        GroupId: 'g',
        Attributes: [{ Key: 'topic' }, { Key: 'missing' }],
      });
      assert.deepEqual(del.failedKeys, [{ key: 'missing', reason: 'key db-non-existent' }]);
      assert.deepEqual(del.attributes, [{ key: 'topic', value: 'dogs' }]);
      assert.deepEqual(attributes(), [{ Key: 'rules', Value: 'none' }]);
      const info = await t.client.queryGroupInfo({ FromUserId: 'u0', GroupId: 'g' });
      assert.deepEqual(info.attributes, [{ key: 'rules', value: 'none' }]);
    });

    it('refuses the whole call for bad lengths, an 11th attribute, a missing Value, or a plain member', async () => {
      const modify = (Attributes: Array<{ Key: string; Value?: string }>, FromUserId = 'u0') =>
        t.client.modifyGroupAttribute({ FromUserId, GroupId: 'g', Attributes });
      const many = Array.from({ length: 10 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
      await refusedWith(modify(many), ZimCode.TOO_MANY_GROUP_ATTRIBUTES);
      await refusedWith(modify([{ Key: 'k'.repeat(17), Value: 'v' }]), ZimCode.GROUP_ATTRIBUTE_LENGTH);
      await refusedWith(modify([{ Key: 'k', Value: 'v'.repeat(1025) }]), ZimCode.GROUP_ATTRIBUTE_LENGTH);
      await refusedWith(modify([{ Key: '', Value: 'v' }]), ZimCode.GROUP_ATTRIBUTE_LENGTH);
      await refusedWith(modify([{ Key: 'k' }]), ZimCode.PARAM_INVALID);
      await refusedWith(modify([]), ZimCode.PARAM_INVALID);
      await refusedWith(modify([{ Key: 'k', Value: 'v' }], 'u2'), ZimCode.NO_GROUP_PERMISSION);
      assert.deepEqual(attributes(), [{ Key: 'topic', Value: 'cats' }], 'refused calls change nothing');
      await modify(many.slice(0, 9));
      assert.equal(attributes().length, 10);
    });
  });

  describe('TransferGroupOwner', () => {
    beforeEach(() => groupG());

    it('makes NewOwner the owner and the old owner a plain member, as QueryGroupMemberList shows', async () => {
      await t.client.transferGroupOwner({ FromUserId: 'u0', GroupId: 'g', NewOwner: 'u1' });
      assert.deepEqual(roles('g'), { u0: ZIM_ROLE.member, u1: ZIM_ROLE.owner, u2: ZIM_ROLE.member, u3: 3 });
      const listed = await t.client.queryGroupMemberList({ GroupId: 'g' });
      assert.deepEqual(
        listed.members.map((m) => [m.userId, m.role]),
        [
          ['u0', 3],
          ['u1', 1],
          ['u2', 3],
          ['u3', 3],
        ]
      );
      // A replay (the first answer lost) finds the work done and succeeds without changing anything.
      await t.client.transferGroupOwner({ FromUserId: 'u0', GroupId: 'g', NewOwner: 'u1' });
      assert.equal(roles('g').u1, ZIM_ROLE.owner);
      // The new owner can hand it on; the old one no longer can.
      await refusedWith(
        t.client.transferGroupOwner({ FromUserId: 'u0', GroupId: 'g', NewOwner: 'u2' }),
        ZimCode.NO_GROUP_PERMISSION
      );
      await t.client.transferGroupOwner({ FromUserId: 'u1', GroupId: 'g', NewOwner: 'u2' });
      assert.deepEqual(roles('g'), { u0: 3, u1: 3, u2: 1, u3: 3 });
    });

    it('refuses a NewOwner outside the group (660600024), unknown groups and operators, and non-owners', async () => {
      const transfer = (req: object) =>
        t.client.transferGroupOwner({ FromUserId: 'u0', GroupId: 'g', NewOwner: 'u2', ...req });
      await refusedWith(transfer({ NewOwner: 'u5' }), ZimCode.USER_NOT_IN_GROUP);
      await refusedWith(transfer({ NewOwner: 'ghost' }), ZimCode.USER_NOT_IN_GROUP);
      await refusedWith(transfer({ NewOwner: 'bad/id' }), ZimCode.PARAM_INVALID);
      await refusedWith(transfer({ GroupId: 'nope' }), ZimCode.GROUP_NOT_FOUND);
      await refusedWith(transfer({ FromUserId: 'ghost' }), ZimCode.SENDER_NOT_REGISTERED);
      await refusedWith(transfer({ FromUserId: 'u1' }), ZimCode.NO_GROUP_PERMISSION);
      assert.equal(roles('g').u0, ZIM_ROLE.owner);
      t.emulator.configure({ behaviour: { groupEditsRequireRole: false } });
      await transfer({ FromUserId: 'u3' });
      assert.deepEqual(roles('g'), { u0: 3, u1: 2, u2: 1, u3: 3 });
    });

    it('is a GET: a POST is refused with 660000002', async () => {
      const post = await rawCall(t.emulator.url, {
        query: { Action: 'TransferGroupOwner' },
        body: JSON.stringify({ FromUserId: 'u0', GroupId: 'g', NewOwner: 'u1' }),
      });
      assert.equal(post.json.Code, ZimCode.PARAM_INVALID);
      assert.equal(roles('g').u0, ZIM_ROLE.owner);
    });
  });

  describe('DismissGroup', () => {
    it('removes the group, its members’ memberships and its history; a second dismiss finds no group', async () => {
      await groupG();
      await t.client.importGroupMsg({
        FromUserId: 'u0',
        GroupId: 'g',
        MessageType: 1,
        Priority: 1,
        MessageBody: { Message: 'hi' },
      });
      await t.client.dismissGroup({ FromUserId: 'u0', GroupId: 'g' });
      assert.equal(t.emulator.inspect.group('g'), undefined);
      assert.deepEqual(t.emulator.inspect.groupIds(), []);
      assert.deepEqual(t.emulator.inspect.user('u2')!.groups, []);
      assert.equal(t.emulator.inspect.groupMessages('g'), undefined);
      await refusedWith(t.client.queryGroupInfo({ FromUserId: 'u0', GroupId: 'g' }), ZimCode.GROUP_NOT_FOUND);
      await refusedWith(t.client.dismissGroup({ FromUserId: 'u0', GroupId: 'g' }), ZimCode.GROUP_NOT_FOUND);
    });
  });

  describe('rate limits', () => {
    beforeEach(() => {
      t.emulator.configure({ rateLimits: { enabled: true } });
      t.clock.freeze();
    });

    it('limits TransferGroupOwner to one call per second per group (660300006, retryable)', async () => {
      await groupG();
      await t.client.createGroup({ GroupId: 'h', GroupOwner: 'u0', UserId: ['u1'] });
      await t.client.transferGroupOwner({ FromUserId: 'u0', GroupId: 'g', NewOwner: 'u1' });
      const limited = await caught(t.client.transferGroupOwner({ FromUserId: 'u1', GroupId: 'g', NewOwner: 'u2' }));
      assert.ok(limited instanceof ZimRetryableError && limited.reason === 'rate-limited');
      assert.equal(limited.code, ZimCode.GROUP_RATE_LIMITED);
      assert.equal(roles('g').u1, ZIM_ROLE.owner, 'the refused call changed nothing');
      await t.client.transferGroupOwner({ FromUserId: 'u0', GroupId: 'h', NewOwner: 'u1' });
      t.clock.advance(999);
      await refusedWith(
        t.client.transferGroupOwner({ FromUserId: 'u1', GroupId: 'g', NewOwner: 'u2' }),
        ZimCode.GROUP_RATE_LIMITED
      );
      t.clock.advance(1);
      await t.client.transferGroupOwner({ FromUserId: 'u1', GroupId: 'g', NewOwner: 'u2' });
      assert.equal(roles('g').u2, ZIM_ROLE.owner);
    });

    it('limits UpdateGroupData and ModifyGroupAttribute per app at 20/s with 660300006, per group when configured', async () => {
      await groupG();
      const update = (i: number) => t.client.updateGroupData({ FromUserId: 'u0', GroupId: 'g', GroupName: `n${i}` });
      for (let i = 0; i < 20; i++) await update(i);
      await refusedWith(update(20), ZimCode.GROUP_RATE_LIMITED);
      const attr = () =>
        t.client.modifyGroupAttribute({ FromUserId: 'u0', GroupId: 'g', Attributes: [{ Key: 'k', Value: 'v' }] });
      await attr();
      t.clock.advance(1000);
      t.emulator.configure({ rateLimits: { perGroupPerSecond: { UpdateGroupData: 1, ModifyGroupAttribute: 1 } } });
      await update(21);
      await refusedWith(update(22), ZimCode.GROUP_RATE_LIMITED);
      await attr();
      await refusedWith(attr(), ZimCode.GROUP_RATE_LIMITED);
      assert.equal(t.emulator.inspect.group('g')!.groupName, 'n21');
    });
  });

  describe('commit-then-drop: applied, the answer lost, and a replay finds it done', () => {
    const cases: Array<{ action: ZimAction; call: () => Promise<unknown>; check: () => void; replay?: string }> = [
      {
        action: 'DeleteFriends',
        call: () => t.client.deleteFriends({ FromUserId: 'u0', UserIds: ['u1'], DeleteType: 0 }),
        check: () => assert.deepEqual([friendsOf('u0'), friendsOf('u1')], [[], []]),
        replay: 'already-exists',
      },
      {
        action: 'RemoveUsersFromBlacklist',
        call: () => t.client.removeUsersFromBlacklist({ FromUserId: 'u0', UserIds: ['u2'] }),
        check: () => assert.deepEqual(blockedBy('u0'), []),
        replay: 'already-exists',
      },
      {
        action: 'UpdateGroupData',
        call: () => t.client.updateGroupData({ FromUserId: 'u0', GroupId: 'g', GroupName: 'renamed' }),
        check: () => assert.equal(t.emulator.inspect.group('g')!.groupName, 'renamed'),
      },
      {
        action: 'ModifyGroupAttribute',
        call: () =>
          t.client.modifyGroupAttribute({ FromUserId: 'u0', GroupId: 'g', Attributes: [{ Key: 'a', Value: '1' }] }),
        check: () => assert.deepEqual(t.emulator.inspect.group('g')!.attributes.at(-1), { Key: 'a', Value: '1' }),
      },
      {
        action: 'TransferGroupOwner',
        call: () => t.client.transferGroupOwner({ FromUserId: 'u0', GroupId: 'g', NewOwner: 'u3' }),
        check: () => assert.deepEqual([roles('g').u0, roles('g').u3], [ZIM_ROLE.member, ZIM_ROLE.owner]),
      },
    ];
    for (const c of cases) {
      it(c.action, async () => {
        await t.client.addFriends({ FromUserId: 'u0', FriendInfos: [{ UserId: 'u1' }] });
        await t.client.addUsersToBlacklist({ FromUserId: 'u0', UserIds: ['u2'] });
        await groupG();
        t.emulator.setFaults({ commitThenDropRate: 1, actions: [c.action] });
        const err = await caught(c.call());
        assert.ok(err instanceof ZimRetryableError && err.code === ClientCode.NETWORK, String(err));
        assert.equal(t.emulator.counters().faults.commitThenDrop, 1);
        c.check();
        t.emulator.setFaults({});
        const replay = (await c.call()) as { failures?: Array<{ outcome: string }> };
        if (c.replay)
          assert.deepEqual(
            replay.failures?.map((f) => f.outcome),
            [c.replay]
          );
        c.check();
      });
    }
  });
});
