/**
 * Limits and codes, driven from the tables the emulator itself uses (src/zim-client/limits.ts, codes.ts): each batch
 * limit is probed at its size (accepted) and one over (refused with its code); each field limit at the boundary.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  ZIM_BATCH_LIMITS,
  ZIM_FIELD_LIMITS,
  ZimCode,
  ZimError,
  type BatchLimitedAction,
  type ZimClient,
} from '../../src/zim-client';
import type { ConfigPatch } from '../../src/zim-emulator';
import { registerUsers, text, useZimTestEnv } from '../helpers/zim';

const USERS = Array.from({ length: 102 }, (_, i) => `u${i}`);
const others = (n: number) => USERS.slice(1, n + 1);

/** What ZIM answered: the thrown code, else the first item's SubCode, else 0. */
async function answerCode(call: Promise<unknown>): Promise<number> {
  try {
    const result = (await call) as { failures?: Array<{ code: number }> };
    return result.failures?.[0]?.code ?? 0;
  } catch (err) {
    if (err instanceof ZimError) return err.code;
    throw err;
  }
}

let groups = 0;
const BATCH_CALLS: Record<BatchLimitedAction, (c: ZimClient, n: number) => Promise<unknown>> = {
  UserRegister: (c, n) => c.userRegister({ UserInfo: Array.from({ length: n }, (_, i) => ({ UserId: `new${i}` })) }),
  ModifyUserInfo: (c, n) => c.modifyUserInfo({ UserInfo: others(n).map((UserId) => ({ UserId, UserName: 'x' })) }),
  AddFriends: (c, n) => c.addFriends({ FromUserId: 'u0', FriendInfos: others(n).map((UserId) => ({ UserId })) }),
  AddUsersToBlacklist: (c, n) => c.addUsersToBlacklist({ FromUserId: 'u0', UserIds: others(n) }),
  DeleteFriends: (c, n) => c.deleteFriends({ FromUserId: 'u0', UserIds: others(n), DeleteType: 0 }),
  RemoveUsersFromBlacklist: (c, n) => c.removeUsersFromBlacklist({ FromUserId: 'u0', UserIds: others(n) }),
  CreateGroup: (c, n) => c.createGroup({ GroupId: `batch${++groups}`, GroupOwner: 'u0', UserId: others(n) }),
  InviteUsersIntoGroup: (c, n) => c.inviteUsersIntoGroup({ FromUserId: 'u0', GroupId: 'g', UserIds: others(n) }),
  KickoutGroupUser: (c, n) => c.kickoutGroupUser({ FromUserId: 'u0', GroupId: 'g', UserId: others(n) }),
  QueryUserInfos: (c, n) => c.queryUserInfos({ UserIds: others(n) }),
  SendPeerMessage: (c, n) =>
    c.sendPeerMessage({
      FromUserId: 'u0',
      ToUserId: others(n),
      MessageType: 1,
      Priority: 1,
      MessageBody: { Message: 'hi' },
    }),
  SetGroupMembersNickname: (c, n) =>
    c.setGroupMembersNickname({
      FromUserId: 'u0',
      GroupId: 'g',
      UserIds: others(n).map((UserId) => ({ UserId, Nickname: 'n' })),
    }),
};

interface FieldCase {
  name: string;
  call: (c: ZimClient) => Promise<unknown>;
  code: number;
  configure?: ConfigPatch;
}

const L = ZIM_FIELD_LIMITS;
const register =
  (UserId: string, extra: object = {}) =>
  (c: ZimClient) =>
    c.userRegister({ UserInfo: [{ UserId, ...extra }] });
const friend = (info: object) => (c: ZimClient) =>
  c.addFriends({ FromUserId: 'u0', FriendInfos: [{ UserId: 'u1', ...info }] });
const peer = (Message: string) => (c: ZimClient) =>
  c.importPeerMsg({ FromUserId: 'u0', ToUserId: 'u1', ImportedUserId: 'u0', ...text(Message) });
const group = (fields: object) => (c: ZimClient) => c.createGroup({ GroupOwner: 'u0', ...fields });
const nickname =
  (Nickname: string, UserId = 'u1', FromUserId = 'u0') =>
  (c: ZimClient) =>
    c.setGroupMembersNickname({ FromUserId, GroupId: 'g', UserIds: [{ UserId, Nickname }] });
const role =
  (Role: number, ToUserId = 'u1', GroupId = 'g') =>
  (c: ZimClient) =>
    c.setGroupMemberRole({ FromUserId: 'u0', GroupId, ToUserId, Role });
const attrs = (n: number, key = (i: number) => `k${i}`) =>
  Array.from({ length: n }, (_, i) => ({ Key: key(i), Value: 'v' }));

const FIELD_CASES: FieldCase[] = [
  { name: `UserId of ${L.idBytes} bytes`, call: register('x'.repeat(L.idBytes)), code: 0 },
  {
    name: `UserId of ${L.idBytes + 1} bytes`,
    call: register('x'.repeat(L.idBytes + 1)),
    code: ZimCode.USER_ID_TOO_LONG,
  },
  { name: 'UserId with "/"', call: register('a/b'), code: ZimCode.PARAM_INVALID },
  { name: 'UserId with a space', call: register('a b'), code: 0 },
  {
    name: 'UserId with a space when spaces are off',
    call: register('c d'),
    code: ZimCode.PARAM_INVALID,
    configure: { behaviour: { allowSpaceInIds: false } },
  },
  { name: 'UserName at the limit', call: register('n1', { UserName: 'é'.repeat(L.userNameBytes / 2) }), code: 0 },
  {
    name: 'UserName over the limit',
    call: register('n2', { UserName: 'x'.repeat(L.userNameBytes + 1) }),
    code: ZimCode.USER_NAME_TOO_LONG,
  },
  {
    name: 'UserAvatar over the limit',
    call: register('n3', { UserAvatar: 'x'.repeat(L.userAvatarBytes + 1) }),
    code: ZimCode.USER_AVATAR_TOO_LONG,
  },
  {
    name: 'Extra over the plan limit',
    call: (c) => c.modifyUserInfo({ UserInfo: [{ UserId: 'u1', Extra: 'x'.repeat(2049) }] }),
    code: ZimCode.PARAM_INVALID,
  },
  {
    name: 'Extra under a raised limit',
    call: (c) => c.modifyUserInfo({ UserInfo: [{ UserId: 'u1', Extra: 'x'.repeat(4096) }] }),
    code: 0,
    configure: { limits: { maxExtraBytes: 4096 } },
  },
  {
    name: 'ModifyUserInfo of an unknown user',
    call: (c) => c.modifyUserInfo({ UserInfo: [{ UserId: 'zz' }] }),
    code: ZimCode.USER_NOT_REGISTERED_MODIFY,
  },
  {
    name: 'friend alias over the limit',
    call: friend({ FriendAlias: 'x'.repeat(L.friendAliasChars + 1) }),
    code: ZimCode.FRIEND_TEXT_TOO_LONG,
  },
  {
    name: 'friend attribute key k5',
    call: friend({ Attributes: [{ Key: 'k5', Value: 'v' }] }),
    code: ZimCode.FRIEND_ATTRIBUTE_KEY,
  },
  {
    name: 'duplicate friend attribute key',
    call: friend({ Attributes: attrs(2, () => 'k1') }),
    code: ZimCode.FRIEND_ATTRIBUTE_DUPLICATE_KEY,
  },
  {
    name: 'friend attributes over 1024 bytes',
    call: friend({ Attributes: [{ Key: 'k0', Value: 'x'.repeat(L.friendAttributesTotalBytes) }] }),
    code: ZimCode.FRIEND_ATTRIBUTES_TOO_LONG,
  },
  {
    name: 'FriendTime in the future',
    call: friend({ FriendTime: Date.now() + 3_600_000 }),
    code: ZimCode.TIME_IN_FUTURE,
  },
  {
    name: 'befriending oneself',
    call: (c) => c.addFriends({ FromUserId: 'u0', FriendInfos: [{ UserId: 'u0' }] }),
    code: ZimCode.FRIEND_SELF,
  },
  {
    name: 'AddFriends from an unknown user',
    call: (c) => c.addFriends({ FromUserId: 'zz', FriendInfos: [{ UserId: 'u1' }] }),
    code: ZimCode.SENDER_NOT_REGISTERED,
  },
  {
    name: 'blocking oneself',
    call: (c) => c.addUsersToBlacklist({ FromUserId: 'u0', UserIds: ['u0'] }),
    code: ZimCode.BLOCK_SELF,
  },
  {
    name: 'blocking from an unknown user',
    call: (c) => c.addUsersToBlacklist({ FromUserId: 'zz', UserIds: ['u1'] }),
    code: ZimCode.FROM_USER_NOT_REGISTERED,
  },
  { name: "GroupId starting with '#'", call: group({ GroupId: '#mine' }), code: ZimCode.PARAM_INVALID },
  {
    name: 'GroupName over 50 characters',
    call: group({ GroupName: 'é'.repeat(L.groupNameChars + 1) }),
    code: ZimCode.PARAM_INVALID,
  },
  { name: 'GroupName of 50 characters', call: group({ GroupName: 'é'.repeat(L.groupNameChars) }), code: 0 },
  {
    name: '11 group attributes',
    call: group({ Attributes: attrs(L.groupAttributes + 1) }),
    code: ZimCode.TOO_MANY_GROUP_ATTRIBUTES,
  },
  {
    name: 'a 17-byte attribute key',
    call: group({ Attributes: attrs(1, () => 'k'.repeat(17)) }),
    code: ZimCode.GROUP_ATTRIBUTE_LENGTH,
  },
  {
    name: 'an unknown group owner',
    call: (c) => c.createGroup({ GroupOwner: 'zz' }),
    code: ZimCode.GROUP_OWNER_NOT_FOUND,
  },
  {
    name: 'a group over the plan’s member cap',
    call: group({ UserId: others(3) }),
    code: ZimCode.TOO_MANY_GROUP_MEMBERS,
    configure: { limits: { maxGroupMembers: 3 } },
  },
  { name: 'a 2048-byte message', call: peer('x'.repeat(2048)), code: 0 },
  { name: 'a 2049-byte message', call: peer('x'.repeat(2049)), code: ZimCode.MESSAGE_TOO_LARGE },
  {
    name: 'a 4096-byte message under a raised limit',
    call: peer('x'.repeat(4096)),
    code: 0,
    configure: { limits: { maxMessageBytes: 4096 } },
  },
  {
    name: 'ImportedUserId outside the pair',
    call: (c) => c.importPeerMsg({ FromUserId: 'u0', ToUserId: 'u1', ImportedUserId: 'u2', ...text('x') }),
    code: ZimCode.PARAM_INVALID,
  },
  {
    name: 'an unregistered receiver',
    call: (c) => c.importPeerMsg({ FromUserId: 'u0', ToUserId: 'zz', ImportedUserId: 'u0', ...text('x') }),
    code: ZimCode.USER_NOT_REGISTERED,
  },
  {
    name: 'a signaling message',
    call: (c) =>
      c.importPeerMsg({ FromUserId: 'u0', ToUserId: 'u1', ImportedUserId: 'u0', ...text('x'), MessageType: 2 }),
    code: ZimCode.PARAM_INVALID,
  },
  {
    name: 'a group import from a non-member when membership is required',
    call: (c) => c.importGroupMsg({ FromUserId: 'u5', GroupId: 'g', ...text('x') }),
    code: ZimCode.USER_NOT_IN_GROUP,
    configure: { behaviour: { groupImportRequiresMembership: true } },
  },
  {
    name: 'a QueryUserInfos id of 64 bytes',
    call: (c) => c.queryUserInfos({ UserIds: ['u1', 'x'.repeat(64)] }),
    code: ZimCode.USER_NOT_REGISTERED,
  },
  {
    name: `a group nickname of ${L.groupNicknameBytes} bytes`,
    call: nickname('é'.repeat(L.groupNicknameBytes / 2)),
    code: 0,
  },
  {
    name: `a group nickname of ${L.groupNicknameBytes + 1} bytes`,
    call: nickname('x'.repeat(L.groupNicknameBytes + 1)),
    code: ZimCode.PARAM_INVALID,
  },
  { name: 'a nickname for a non-member', call: nickname('x', 'u5'), code: ZimCode.USER_NOT_IN_GROUP },
  { name: 'a nickname set by a plain member', call: nickname('x', 'u0', 'u1'), code: ZimCode.NO_GROUP_PERMISSION },
  { name: 'role 2 (admin)', call: role(2), code: 0 },
  { name: 'role 1 (owner)', call: role(1), code: ZimCode.ROLE_CANNOT_BE_OWNER },
  { name: 'role 7 (outside 100..255)', call: role(7), code: ZimCode.PARAM_INVALID },
  { name: 'a role set on oneself', call: role(2, 'u0'), code: ZimCode.FROM_EQUALS_TO },
  { name: 'a role set on a non-member', call: role(2, 'u5'), code: ZimCode.USER_NOT_IN_GROUP },
  { name: 'a role set in an unknown group', call: role(2, 'u1', 'nope'), code: ZimCode.GROUP_NOT_FOUND },
  {
    name: 'a QueryUserInfos id of 65 bytes',
    call: (c) => c.queryUserInfos({ UserIds: ['u1', 'x'.repeat(65)] }),
    code: ZimCode.USER_ID_TOO_LONG,
  },
];

describe('ZIM limits and codes, table-driven', () => {
  const t = useZimTestEnv();
  beforeEach(async () => {
    t.emulator.reset();
    t.emulator.configure({
      plan: 'pro',
      limits: {
        maxExtraBytes: 2048,
        maxMessageBytes: 2048,
        maxFriendsPerUser: 3000,
        maxBlocksPerUser: 1000,
        maxGroupMembers: 200,
        maxFriendsPerCall: 20,
      },
      behaviour: { allowSpaceInIds: true, groupImportRequiresMembership: false },
    });
    await registerUsers(t.client, USERS);
    await t.client.createGroup({ GroupId: 'g', GroupOwner: 'u0', UserId: ['u1'] });
  });

  for (const [action, limit] of Object.entries(ZIM_BATCH_LIMITS) as Array<
    [BatchLimitedAction, { max: number; code: number }]
  >) {
    const call = BATCH_CALLS[action];
    it(`${action}: ${limit.max} items are accepted, ${limit.max + 1} are refused with ${limit.code}`, async () => {
      assert.notEqual(await answerCode(call(t.client, limit.max)), limit.code);
      const err = await call(t.client, limit.max + 1).then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e
      );
      assert.ok(err instanceof ZimError && err.code === limit.code && err.outcome === 'permanent', String(err));
    });
  }

  it('AddFriends accepts up to 50 per call when the plan is raised', async () => {
    t.emulator.configure({ limits: { maxFriendsPerCall: 50 } });
    try {
      assert.equal(await answerCode(BATCH_CALLS.AddFriends(t.client, 50)), 0);
    } finally {
      t.emulator.configure({ limits: { maxFriendsPerCall: 20 } });
    }
  });

  for (const c of FIELD_CASES) {
    it(`${c.name} → ${c.code}`, async () => {
      if (c.configure) t.emulator.configure(c.configure);
      assert.equal(await answerCode(c.call(t.client)), c.code);
    });
  }

  it('enforces the friend and block counts per user, item by item', async () => {
    t.emulator.configure({ limits: { maxFriendsPerUser: 2, maxBlocksPerUser: 2 } });
    const added = await t.client.addFriends({ FromUserId: 'u0', FriendInfos: others(3).map((UserId) => ({ UserId })) });
    assert.deepEqual(
      added.failures.map((f) => [f.id, f.code]),
      [['u3', ZimCode.FRIEND_LIMIT]]
    );
    const blocked = await t.client.addUsersToBlacklist({ FromUserId: 'u0', UserIds: others(3) });
    assert.deepEqual(
      blocked.failures.map((f) => [f.id, f.code]),
      [['u3', ZimCode.BLOCKLIST_FULL]]
    );
  });
});
