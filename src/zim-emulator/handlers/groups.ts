/**
 * CreateGroup, InviteUsersIntoGroup, KickoutGroupUser, QueryGroupMemberList, SetGroupMemberRole,
 * SetGroupMembersNickname, UpdateGroupData, ModifyGroupAttribute, TransferGroupOwner, DismissGroup, MuteGroup and
 * QueryGroupInfo (zim-api.md §6.6–§6.8, §6.15, §6.16).
 */
import { ZimCode } from '../../zim-client/codes';
import { ZIM_FIELD_LIMITS } from '../../zim-client/limits';
import { ZIM_ROLE } from '../../zim-client/roles';
import {
  batchReply,
  businessTime,
  clampLimit,
  codePoints,
  cursorValue,
  idProblem,
  isProblem,
  ok,
  problem,
  processItems,
  refuse,
  requireBatchSize,
  requireValidId,
  utf8Bytes,
  type ItemProblem,
} from '../rules';
import { groupCreateCallback, groupDestroyCallback, groupExitCallback, groupJoinCallback } from '../callback-payloads';
import type { GroupMember, GroupMute, GroupRecord } from '../state';
import { requireGroup, requireUser, type Handler, type HandlerContext } from './context';

function groupFieldsProblem(req: {
  GroupName?: string | undefined;
  GroupNotice?: string | undefined;
  GroupAvatar?: string | undefined;
  Attributes?: Array<{ Key: string; Value: string }> | undefined;
}): ItemProblem | undefined {
  const L = ZIM_FIELD_LIMITS;
  if (codePoints(req.GroupName ?? '') > L.groupNameChars) return problem(ZimCode.PARAM_INVALID, 'GroupName too long');
  if (utf8Bytes(req.GroupNotice ?? '') > L.groupNoticeBytes)
    return problem(ZimCode.PARAM_INVALID, 'GroupNotice too long');
  if (utf8Bytes(req.GroupAvatar ?? '') > L.groupAvatarBytes)
    return problem(ZimCode.PARAM_INVALID, 'GroupAvatar too long');
  const attributes = req.Attributes ?? [];
  if (attributes.length > L.groupAttributes) {
    return problem(ZimCode.TOO_MANY_GROUP_ATTRIBUTES, `more than ${L.groupAttributes} attributes`);
  }
  for (const a of attributes) {
    const key = utf8Bytes(a.Key);
    if (key === 0 || key > L.groupAttributeKeyBytes || utf8Bytes(a.Value) > L.groupAttributeValueBytes) {
      return problem(ZimCode.GROUP_ATTRIBUTE_LENGTH, `attribute ${a.Key} has a bad length`);
    }
  }
  return undefined;
}

/** What stops a user from joining a group: a bad id, no registration, or a full group (current members stay). */
function joinProblem(ctx: HandlerContext, group: { members: Map<number, unknown> }, userId: string) {
  const n = ctx.state.userNumber(userId);
  const max = ctx.config.limits.maxGroupMembers;
  return (
    idProblem(userId, ctx.config.behaviour.allowSpaceInIds) ??
    (n === undefined ? problem(ZimCode.USER_NOT_REGISTERED, 'user not registered') : undefined) ??
    (group.members.size >= max && !group.members.has(n!)
      ? problem(ZimCode.TOO_MANY_GROUP_MEMBERS, `group is full (${max} members)`)
      : undefined)
  );
}

function memberList(ctx: HandlerContext, group: GroupRecord) {
  return [...group.members.keys()].map((n) => ({ UserId: ctx.state.userId(n), UserName: ctx.state.user(n).name }));
}

export const createGroup: Handler<'CreateGroup'> = (ctx, req) => {
  const { state, config, now } = ctx;
  const owner = requireUser(ctx, req.GroupOwner, 'GroupOwner', ZimCode.GROUP_OWNER_NOT_FOUND);
  let groupId = req.GroupId ?? '';
  if (groupId === '') groupId = state.generateGroupId();
  else {
    if (groupId.startsWith('#')) refuse(ZimCode.PARAM_INVALID, "GroupId must not start with '#'");
    const p = idProblem(groupId, config.behaviour.allowSpaceInIds);
    if (p) refuse(ZimCode.PARAM_INVALID, `GroupId: ${p.message}`);
    if (state.group(groupId)) refuse(ZimCode.GROUP_EXISTS, `group ${groupId} already exists`);
  }
  const fieldsProblem = groupFieldsProblem(req);
  if (fieldsProblem) refuse(fieldsProblem.code, fieldsProblem.message);
  const invited = [...new Set(req.UserId ?? [])].filter((id) => id !== req.GroupOwner);
  if (invited.length > 0) requireBatchSize('CreateGroup', invited.length);
  const createTime = businessTime(req.CreateGroupTime, now);
  if (isProblem(createTime)) refuse(createTime.code, `CreateGroupTime: ${createTime.message}`);

  const group = state.createGroup({
    id: groupId,
    name: req.GroupName ?? '',
    notice: req.GroupNotice ?? '',
    avatar: req.GroupAvatar ?? '',
    attributes: req.Attributes ?? [],
    createTime,
  });
  state.addMember(group, owner, { role: ZIM_ROLE.owner, joinTime: createTime, nickname: '' });
  const failures = processItems(
    invited,
    (id) => id,
    (id) => joinProblem(ctx, group, id),
    (id) => state.addMember(group, state.userNumber(id)!, { role: ZIM_ROLE.member, joinTime: createTime, nickname: '' })
  );
  if (ctx.callbackSwitches.groupCallbacksOnServerOps) {
    // CreateGroup names no operator: the owner is taken as the creator.
    ctx.emit(
      groupCreateCallback({
        groupId,
        operator: req.GroupOwner,
        owner: req.GroupOwner,
        name: group.name,
        attributes: group.attributes,
        members: [...group.members.keys()].map((n) => state.userId(n)),
      })
    );
  }
  // The group exists whatever happened to the members, so the call succeeded (UNCONFIRMED, see docs).
  return batchReply('CreateGroup', 0, failures, { fields: { GroupId: groupId, Members: memberList(ctx, group) } });
};

/** Adding a current member again is a no-op success: ZIM documents no "already a member" code. */
export const inviteUsersIntoGroup: Handler<'InviteUsersIntoGroup'> = (ctx, req) => {
  const { state, now } = ctx;
  ctx.checkGroupRate(req.GroupId);
  requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  const infos: Array<{ UserId: string; EnterGroupTime?: number | undefined; IsInvite?: number | undefined }> = req
    .GroupMemberInfos?.length
    ? req.GroupMemberInfos
    : (req.UserIds ?? []).map((UserId) => ({ UserId }));
  requireBatchSize('InviteUsersIntoGroup', infos.length);
  const candidates = infos.filter((m) => m.UserId !== req.FromUserId);
  const joined: string[] = [];

  const failures = processItems(
    candidates,
    (m) => m.UserId,
    (m) => {
      const time = businessTime(m.EnterGroupTime, now);
      return (
        joinProblem(ctx, group, m.UserId) ??
        (isProblem(time) ? time : undefined) ??
        (m.IsInvite === 1
          ? problem(ZimCode.PARAM_INVALID, 'IsInvite=1 (invitations needing acceptance) is not emulated')
          : undefined)
      );
    },
    (m) => {
      const n = state.userNumber(m.UserId)!;
      if (group.members.has(n)) return;
      const joinTime = businessTime(m.EnterGroupTime, now) as number;
      state.addMember(group, n, { role: ZIM_ROLE.member, joinTime, nickname: '' });
      joined.push(m.UserId);
    }
  );
  if (joined.length > 0 && ctx.callbackSwitches.groupCallbacksOnServerOps) {
    ctx.emit(groupJoinCallback(group.id, 'Invited', req.FromUserId, joined));
  }
  return batchReply('InviteUsersIntoGroup', candidates.length, failures);
};

/** Removing the owner hands ownership to the earliest remaining member (§6.8). */
export const kickoutGroupUser: Handler<'KickoutGroupUser'> = (ctx, req) => {
  const { state } = ctx;
  requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  if (utf8Bytes(req.CustomReason ?? '') > ZIM_FIELD_LIMITS.kickReasonBytes) {
    refuse(ZimCode.PARAM_INVALID, 'CustomReason too long');
  }
  const group = requireGroup(ctx, req.GroupId);
  requireBatchSize('KickoutGroupUser', req.UserId.length);
  const removed: string[] = [];
  const failures = processItems(
    req.UserId,
    (id) => id,
    (id) => {
      const n = state.userNumber(id);
      return n !== undefined && group.members.has(n)
        ? undefined
        : problem(ZimCode.NOT_A_GROUP_MEMBER_TO_REMOVE, 'user is not in the group');
    },
    (id) => {
      const n = state.userNumber(id)!;
      const wasOwner = group.members.get(n)?.role === ZIM_ROLE.owner;
      state.removeMember(group, n);
      const heir = group.members.values().next();
      if (wasOwner && !heir.done) heir.value.role = ZIM_ROLE.owner;
      removed.push(id);
    }
  );
  if (removed.length > 0 && ctx.callbackSwitches.groupCallbacksOnServerOps) {
    ctx.emit(groupExitCallback(group.id, 'Kickout', req.FromUserId, removed));
  }
  return batchReply('KickoutGroupUser', req.UserId.length, failures);
};

/** Next is a page index, as in ZIM's example (0 → 1 → 2 → 0); keep Limit the same across pages. */
export const queryGroupMemberList: Handler<'QueryGroupMemberList'> = (ctx, req) => {
  const group = requireGroup(ctx, req.GroupId);
  const limit = clampLimit('QueryGroupMemberList', req.Limit);
  const pageIndex = cursorValue(req.Next);
  const members = [...group.members].slice(pageIndex * limit, (pageIndex + 1) * limit);
  const more = (pageIndex + 1) * limit < group.members.size;
  return ok({
    TotalCount: group.members.size,
    Next: more ? pageIndex + 1 : 0,
    MemberList: members.map(([n, m]) => ({
      UserId: ctx.state.userId(n),
      UserName: ctx.state.user(n).name,
      UserNickName: m.nickname,
      Role: m.role,
    })),
  });
};

/** Roles SetGroupMemberRole accepts: admin, member, or a custom role in the documented range (UNCONFIRMED: others). */
const isSettableRole = (role: number) =>
  role === ZIM_ROLE.admin || role === ZIM_ROLE.member || (role >= 100 && role <= 255);

/** Who may change roles and nicknames: the owner or an admin (660600032 names exactly these). */
function requireManager(group: GroupRecord, operator: number): void {
  const role = group.members.get(operator)?.role;
  if (role !== ZIM_ROLE.owner && role !== ZIM_ROLE.admin) {
    refuse(ZimCode.NO_GROUP_PERMISSION, 'FromUserId must be the group owner or an admin');
  }
}

/** One member's role. Setting the role a member already has succeeds silently, like re-inviting a member. */
export const setGroupMemberRole: Handler<'SetGroupMemberRole'> = (ctx, req) => {
  const { state } = ctx;
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  if (req.ToUserId === req.FromUserId) refuse(ZimCode.FROM_EQUALS_TO, 'FromUserId cannot equal ToUserId');
  if (req.Role === ZIM_ROLE.owner) refuse(ZimCode.ROLE_CANNOT_BE_OWNER, 'Role cannot be set to 1');
  if (!isSettableRole(req.Role)) refuse(ZimCode.PARAM_INVALID, 'Role must be 2, 3 or within 100..255');
  requireManager(group, from);
  const to = state.userNumber(req.ToUserId);
  const target: GroupMember | undefined = to === undefined ? undefined : group.members.get(to);
  if (!target) refuse(ZimCode.USER_NOT_IN_GROUP, `${req.ToUserId} is not in the group`);
  if (target.role === ZIM_ROLE.owner) refuse(ZimCode.NO_GROUP_PERMISSION, "the owner's role changes only by transfer");
  target.role = req.Role;
  return ok();
};

/** Up to 20 members' nicknames; an empty Nickname clears it. 1 call/s per group. */
export const setGroupMembersNickname: Handler<'SetGroupMembersNickname'> = (ctx, req) => {
  const { state, config } = ctx;
  ctx.checkGroupRate(req.GroupId);
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  requireBatchSize('SetGroupMembersNickname', req.UserIds.length);
  requireManager(group, from);
  const memberOf = (userId: string) => {
    const n = state.userNumber(userId);
    return n === undefined ? undefined : group.members.get(n);
  };
  const failures = processItems(
    req.UserIds,
    (u) => u.UserId,
    (u) =>
      idProblem(u.UserId, config.behaviour.allowSpaceInIds) ??
      (memberOf(u.UserId) ? undefined : problem(ZimCode.USER_NOT_IN_GROUP, 'user is not in the group')) ??
      (utf8Bytes(u.Nickname) > ZIM_FIELD_LIMITS.groupNicknameBytes
        ? problem(ZimCode.PARAM_INVALID, `Nickname over ${ZIM_FIELD_LIMITS.groupNicknameBytes} bytes`)
        : undefined),
    (u) => {
      memberOf(u.UserId)!.nickname = u.Nickname;
    }
  );
  return batchReply('SetGroupMembersNickname', req.UserIds.length, failures, {
    allFailedCode: ZimCode.GROUP_OPERATION_FAILED_FOR_ALL,
  });
};

/**
 * Who may change a group's data and attributes (the owner or an admin) or hand over ownership (the owner), when
 * behaviour.groupEditsRequireRole is on. The pages name only a registered operator (UNCONFIRMED, assumption #59).
 */
function requireEditor(ctx: HandlerContext, group: GroupRecord, operator: number, ownerOnly: boolean): void {
  if (!ctx.config.behaviour.groupEditsRequireRole) return;
  const role = group.members.get(operator)?.role;
  if (role === ZIM_ROLE.owner || (!ownerOnly && role === ZIM_ROLE.admin)) return;
  refuse(ZimCode.NO_GROUP_PERMISSION, `FromUserId must be the group owner${ownerOnly ? '' : ' or an admin'}`);
}

/** Name, notice and avatar: a field present (even '') replaces the old value, an absent one keeps it. */
export const updateGroupData: Handler<'UpdateGroupData'> = (ctx, req) => {
  ctx.checkGroupRate(req.GroupId);
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  if (req.GroupName === undefined && req.GroupNotice === undefined && req.GroupAvatar === undefined) {
    refuse(ZimCode.PARAM_INVALID, 'at least one of GroupName, GroupNotice and GroupAvatar is required');
  }
  const fieldsProblem = groupFieldsProblem(req);
  if (fieldsProblem) refuse(fieldsProblem.code, fieldsProblem.message);
  requireEditor(ctx, group, from, false);
  if (req.GroupName !== undefined) group.name = req.GroupName;
  if (req.GroupNotice !== undefined) group.notice = req.GroupNotice;
  if (req.GroupAvatar !== undefined) group.avatar = req.GroupAvatar;
  group.dataSeq = (group.dataSeq ?? 0) + 1;
  return ok();
};

/** ZIM's documented reason for a key that cannot be deleted because the group has no such key. */
const MISSING_KEY_REASON = 'key db-non-existent';

/**
 * Action 0 sets each Key (new keys are appended, existing ones keep their place); the whole call is refused when a
 * key or value has a bad length (660600020) or the group would hold more than 10 attributes (660600019). Action 1
 * deletes keys; a key the group lacks is listed in FailKeys and the call still answers Code 0 (UNCONFIRMED, #60).
 */
export const modifyGroupAttribute: Handler<'ModifyGroupAttribute'> = (ctx, req) => {
  ctx.checkGroupRate(req.GroupId);
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  if (req.Attributes.length === 0) refuse(ZimCode.PARAM_INVALID, 'Attributes is empty');
  requireEditor(ctx, group, from, false);
  const L = ZIM_FIELD_LIMITS;
  const current = new Map(group.attributes.map((a) => [a.Key, a.Value]));
  const failKeys: Array<{ Key: string; Reason: string }> = [];
  const changed: Array<{ Key: string; Value: string }> = [];

  if ((req.Action ?? 0) === 0) {
    for (const a of req.Attributes) {
      if (a.Value === undefined) refuse(ZimCode.PARAM_INVALID, `attribute ${a.Key} has no Value`);
      const key = utf8Bytes(a.Key);
      if (key === 0 || key > L.groupAttributeKeyBytes || utf8Bytes(a.Value) > L.groupAttributeValueBytes) {
        refuse(ZimCode.GROUP_ATTRIBUTE_LENGTH, `attribute ${a.Key} has a bad length`);
      }
      current.set(a.Key, a.Value);
      changed.push({ Key: a.Key, Value: a.Value });
    }
    if (current.size > L.groupAttributes) {
      refuse(ZimCode.TOO_MANY_GROUP_ATTRIBUTES, `a group holds at most ${L.groupAttributes} attributes`);
    }
  } else {
    for (const { Key } of req.Attributes) {
      const value = current.get(Key);
      if (value === undefined) failKeys.push({ Key, Reason: MISSING_KEY_REASON });
      else {
        current.delete(Key);
        changed.push({ Key, Value: value });
      }
    }
  }
  group.attributes = [...current].map(([Key, Value]) => ({ Key, Value }));
  return ok({ FailKeys: failKeys, Attributes: { Attributes: changed } });
};

/**
 * NewOwner (a member, else 660600024) becomes the owner and the old owner a plain member (role 3). Handing the
 * group to its current owner changes nothing and succeeds, so a replay after a lost answer is harmless.
 */
export const transferGroupOwner: Handler<'TransferGroupOwner'> = (ctx, req) => {
  const { state } = ctx;
  ctx.checkGroupRate(req.GroupId);
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  requireValidId(req.NewOwner, 'NewOwner', ctx.config.behaviour.allowSpaceInIds);
  const n = state.userNumber(req.NewOwner);
  const heir = n === undefined ? undefined : group.members.get(n);
  if (!heir) refuse(ZimCode.USER_NOT_IN_GROUP, `NewOwner ${req.NewOwner} is not in the group`);
  if (heir.role === ZIM_ROLE.owner) return ok();
  requireEditor(ctx, group, from, true);
  for (const m of group.members.values()) if (m.role === ZIM_ROLE.owner) m.role = ZIM_ROLE.member;
  heir.role = ZIM_ROLE.owner;
  return ok();
};

/** The owner of a group, or '' when it has none left. */
export function ownerOf(ctx: HandlerContext, group: GroupRecord): string {
  for (const [n, m] of group.members) if (m.role === ZIM_ROLE.owner) return ctx.state.userId(n);
  return '';
}

/** Disbands a group; the operator can be any registered user (coexistence.md §2.4). 1 call/s per group. */
export const dismissGroup: Handler<'DismissGroup'> = (ctx, req) => {
  ctx.checkGroupRate(req.GroupId);
  requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  const members = [...group.members.keys()].map((n) => ctx.state.userId(n));
  const owner = ownerOf(ctx, group);
  ctx.state.deleteGroup(group);
  if (ctx.callbackSwitches.groupCallbacksOnServerOps) {
    ctx.emit(groupDestroyCallback({ groupId: group.id, operator: req.FromUserId, owner, members }));
  }
  return ok();
};

/** MuteGroup's longest timed mute, as documented for MuteGroupMembers (UNCONFIRMED for MuteGroup): 30 days. */
const MAX_MUTE_SECONDS = 2_592_000;

/**
 * Mutes every member (IsAllMuted) or some roles (MuteRoleList) for Duration seconds (-1: no end); with none of the
 * three, unmutes ([EN:group/mute-a-group]). The operator must be the owner or an admin, and an admin may not mute
 * the owner's role. The same mute set again succeeds and changes nothing. 20/s per app.
 */
export const muteGroup: Handler<'MuteGroup'> = (ctx, req) => {
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  requireManager(group, from);
  if (req.IsAllMuted === undefined && req.MuteRoleList === undefined && req.Duration === undefined) {
    delete group.mute;
    return ok();
  }
  const duration = req.Duration ?? 0;
  if (duration < -1 || duration > MAX_MUTE_SECONDS)
    refuse(ZimCode.PARAM_INVALID, `Duration must be -1, 0 or 1..${MAX_MUTE_SECONDS} seconds`);
  const roles = req.MuteRoleList ?? [];
  if (group.members.get(from)?.role === ZIM_ROLE.admin && roles.includes(ZIM_ROLE.owner))
    refuse(ZimCode.NO_GROUP_PERMISSION, 'an admin cannot mute the owner (MuteRoleList contains 1)');
  if (duration === 0) {
    delete group.mute;
    return ok();
  }
  const mute: GroupMute = {
    all: req.IsAllMuted === true,
    // "If Duration is non-zero and IsAllMuted is false, the passed MuteRoleList overwrites the previous list."
    roles: req.IsAllMuted === true ? [] : [...new Set(roles)].sort((a, b) => a - b),
    expireTime: duration === -1 ? -1 : ctx.now + duration * 1000,
  };
  group.mute = mute;
  return ok();
};

/** A group's profile and its mute state (IsAllForbid, or ForbidList of muted roles, and ForbidExpireTime). */
export const queryGroupInfo: Handler<'QueryGroupInfo'> = (ctx, req) => {
  requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  const mute = group.mute && (group.mute.expireTime === -1 || group.mute.expireTime > ctx.now) ? group.mute : undefined;
  return ok({
    GroupId: group.id,
    GroupName: group.name,
    GroupNotice: group.notice,
    GroupAvatar: group.avatar,
    GroupDataSeq: group.dataSeq ?? 0,
    ...(mute?.all ? { IsAllForbid: true } : { ForbidList: mute?.roles ?? [] }),
    ForbidExpireTime: mute?.expireTime ?? 0,
    GroupCreateTime: group.createTime,
    GroupAttributes: group.attributes,
  });
};
