/**
 * AddFriends, DeleteFriends, AddUsersToBlacklist, RemoveUsersFromBlacklist, QueryFriendList and QueryBlacklist
 * (zim-api.md §6.3, §6.4, §6.13, §6.14; [EN:user/batch-delete-friends], [EN:user/batch-unblock-users]).
 */
import { ZimCode } from '../../zim-client/codes';
import { ZIM_FIELD_LIMITS } from '../../zim-client/limits';
import type { AddFriendsRequestSchema } from '../../zim-client/requests';
import {
  batchReply,
  businessTime,
  clampLimit,
  codePoints,
  cursorValue,
  idProblem,
  isProblem,
  ok,
  pageByOffset,
  problem,
  processItems,
  refuse,
  requireBatchSize,
  utf8Bytes,
  type ItemProblem,
} from '../rules';
import { requireUser, type Handler } from './context';
import type { z } from 'zod';

type FriendInfo = z.output<typeof AddFriendsRequestSchema>['FriendInfos'][number];

const FRIEND_ATTRIBUTE_KEYS = new Set(['k0', 'k1', 'k2', 'k3', 'k4']);

function friendFieldsProblem(f: FriendInfo): ItemProblem | undefined {
  if (codePoints(f.Wording ?? '') > ZIM_FIELD_LIMITS.friendWordingChars) {
    return problem(ZimCode.FRIEND_TEXT_TOO_LONG, 'Wording too long');
  }
  if (codePoints(f.FriendAlias ?? '') > ZIM_FIELD_LIMITS.friendAliasChars) {
    return problem(ZimCode.FRIEND_TEXT_TOO_LONG, 'FriendAlias too long');
  }
  const attributes = f.Attributes ?? [];
  if (attributes.length > ZIM_FIELD_LIMITS.friendAttributes) {
    return problem(ZimCode.FRIEND_ATTRIBUTE_PARAM, `more than ${ZIM_FIELD_LIMITS.friendAttributes} attributes`);
  }
  const keys = new Set<string>();
  let total = 0;
  for (const a of attributes) {
    if (!FRIEND_ATTRIBUTE_KEYS.has(a.Key)) return problem(ZimCode.FRIEND_ATTRIBUTE_KEY, `attribute key ${a.Key}`);
    if (keys.has(a.Key)) return problem(ZimCode.FRIEND_ATTRIBUTE_DUPLICATE_KEY, `duplicate attribute key ${a.Key}`);
    keys.add(a.Key);
    total += utf8Bytes(a.Key) + utf8Bytes(a.Value);
  }
  if (total > ZIM_FIELD_LIMITS.friendAttributesTotalBytes) {
    return problem(ZimCode.FRIEND_ATTRIBUTES_TOO_LONG, 'attributes too long');
  }
  return undefined;
}

/** Direct friendship import, mutual by default (behaviour.friendship). */
export const addFriends: Handler<'AddFriends'> = (ctx, req) => {
  const { state, config, now } = ctx;
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  requireBatchSize('AddFriends', req.FriendInfos.length, config.limits.maxFriendsPerCall);
  const ids = req.FriendInfos.map((f) => f.UserId);
  if (new Set(ids).size !== ids.length) refuse(ZimCode.DUPLICATE_USER_IDS, 'duplicate UserId in FriendInfos');
  const mutual = config.behaviour.friendship === 'mutual';
  const max = config.limits.maxFriendsPerUser;

  const failures = processItems(
    req.FriendInfos,
    (f) => f.UserId,
    (f) => {
      const target = state.userNumber(f.UserId);
      const time = businessTime(f.FriendTime, now);
      return (
        idProblem(f.UserId, config.behaviour.allowSpaceInIds) ??
        (f.UserId === req.FromUserId ? problem(ZimCode.FRIEND_SELF, 'cannot add yourself as a friend') : undefined) ??
        friendFieldsProblem(f) ??
        (isProblem(time) ? time : undefined) ??
        (target === undefined ? problem(ZimCode.USER_NOT_REGISTERED, 'user not registered') : undefined) ??
        (state.friendsOf(from).has(target!) ? problem(ZimCode.ALREADY_FRIENDS, 'already friends') : undefined) ??
        (state.friendsOf(from).size >= max || (mutual && state.friendsOf(target!).size >= max)
          ? problem(ZimCode.FRIEND_LIMIT, `friend list full (${max})`)
          : undefined)
      );
    },
    (f) => {
      const target = state.userNumber(f.UserId)!;
      const createTime = businessTime(f.FriendTime, now) as number;
      state.addFriend(from, target, {
        alias: f.FriendAlias ?? '',
        wording: f.Wording ?? '',
        attributes: f.Attributes ?? [],
        createTime,
      });
      if (mutual) state.addFriend(target, from, { alias: '', wording: f.Wording ?? '', attributes: [], createTime });
    }
  );
  const allUnregistered = failures.every((f) => f.code === ZimCode.USER_NOT_REGISTERED);
  return batchReply('AddFriends', req.FriendInfos.length, failures, {
    ...(allUnregistered ? { allFailedCode: ZimCode.NO_FRIEND_REGISTERED } : {}),
  });
};

export const addUsersToBlacklist: Handler<'AddUsersToBlacklist'> = (ctx, req) => {
  const { state, config, now } = ctx;
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.FROM_USER_NOT_REGISTERED);
  requireBatchSize('AddUsersToBlacklist', req.UserIds.length);
  const max = config.limits.maxBlocksPerUser;
  const failures = processItems(
    req.UserIds,
    (id) => id,
    (id) => {
      const target = state.userNumber(id);
      return (
        idProblem(id, config.behaviour.allowSpaceInIds) ??
        (id === req.FromUserId ? problem(ZimCode.BLOCK_SELF, 'cannot block yourself') : undefined) ??
        (target === undefined ? problem(ZimCode.USER_NOT_REGISTERED, 'user not registered') : undefined) ??
        (state.blocksOf(from).has(target!) ? problem(ZimCode.ALREADY_BLOCKED, 'already blocked') : undefined) ??
        (state.blocksOf(from).size >= max ? problem(ZimCode.BLOCKLIST_FULL, `blocklist full (${max})`) : undefined)
      );
    },
    (id) => state.addBlock(from, state.userNumber(id)!, now)
  );
  return batchReply('AddUsersToBlacklist', req.UserIds.length, failures, {
    allFailedCode: ZimCode.BLOCK_FAILED_FOR_ALL,
  });
};

/**
 * Ends friendships of FromUserId. DeleteType 1 (one-way) takes the target out of FromUserId's list only; 0 (two-way)
 * also takes FromUserId out of the target's list when it is there. A target not in FromUserId's list fails with
 * 660800034, whatever the target's own list holds (the page's wording; UNCONFIRMED, docs/zim-assumptions.md #58).
 */
export const deleteFriends: Handler<'DeleteFriends'> = (ctx, req) => {
  const { state, config } = ctx;
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  requireBatchSize('DeleteFriends', req.UserIds.length, config.limits.maxFriendsPerCall);
  if (new Set(req.UserIds).size !== req.UserIds.length) refuse(ZimCode.DUPLICATE_USER_IDS, 'duplicate id in UserIds');
  const twoWay = req.DeleteType === 0;
  const failures = processItems(
    req.UserIds,
    (id) => id,
    (id) => {
      const target = state.userNumber(id);
      return (
        idProblem(id, config.behaviour.allowSpaceInIds) ??
        (id === req.FromUserId ? problem(ZimCode.USER_IDS_CONTAIN_FROM, 'UserIds contains FromUserId') : undefined) ??
        (target === undefined ? problem(ZimCode.USER_NOT_REGISTERED, 'user not registered') : undefined) ??
        (state.friendsOf(from).has(target!) ? undefined : problem(ZimCode.NOT_A_FRIEND, 'not a friend'))
      );
    },
    (id) => {
      const target = state.userNumber(id)!;
      state.removeFriend(from, target);
      if (twoWay) state.removeFriend(target, from);
    }
  );
  return batchReply('DeleteFriends', req.UserIds.length, failures);
};

/** Unblocks users in FromUserId's blocklist; a user who is not in it fails with 660800044. */
export const removeUsersFromBlacklist: Handler<'RemoveUsersFromBlacklist'> = (ctx, req) => {
  const { state, config } = ctx;
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.FROM_USER_NOT_REGISTERED);
  requireBatchSize('RemoveUsersFromBlacklist', req.UserIds.length);
  const failures = processItems(
    req.UserIds,
    (id) => id,
    (id) => {
      const target = state.userNumber(id);
      return (
        idProblem(id, config.behaviour.allowSpaceInIds) ??
        (id === req.FromUserId ? problem(ZimCode.BLOCK_SELF, 'cannot unblock yourself') : undefined) ??
        (target === undefined ? problem(ZimCode.USER_NOT_REGISTERED, 'user not registered') : undefined) ??
        (state.blocksOf(from).has(target!) ? undefined : problem(ZimCode.NOT_IN_BLOCKLIST, 'not in the blocklist'))
      );
    },
    (id) => state.removeBlock(from, state.userNumber(id)!)
  );
  return batchReply('RemoveUsersFromBlacklist', req.UserIds.length, failures, {
    allFailedCode: ZimCode.UNBLOCK_FAILED_FOR_ALL,
  });
};

function relationPage<T>(
  action: 'QueryFriendList' | 'QueryBlacklist',
  entries: T[],
  request: { Limit?: number | undefined; Next?: number | string | undefined }
) {
  const { page, next } = pageByOffset(entries, clampLimit(action, request.Limit), cursorValue(request.Next));
  return { TotalCount: entries.length, Next: next, page };
}

export const queryFriendList: Handler<'QueryFriendList'> = (ctx, req) => {
  const { state } = ctx;
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const { page, ...counts } = relationPage('QueryFriendList', [...state.friendsOf(from)], req);
  return ok({
    ...counts,
    FriendInfos: page.map(([n, edge]) => ({
      UserId: state.userId(n),
      UserName: state.user(n).name,
      Avatar: state.user(n).avatar,
      Wording: edge.wording,
      FriendAlias: edge.alias,
      CreateTime: edge.createTime,
      Attributes: edge.attributes,
    })),
  });
};

export const queryBlacklist: Handler<'QueryBlacklist'> = (ctx, req) => {
  const { state } = ctx;
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.FROM_USER_NOT_REGISTERED);
  const { page, ...counts } = relationPage('QueryBlacklist', [...state.blocksOf(from)], req);
  return ok({
    ...counts,
    Blacklist: page.map(([n, time]) => ({
      UserId: state.userId(n),
      UserName: state.user(n).name,
      Avatar: state.user(n).avatar,
      UpdateTime: time,
    })),
  });
};
