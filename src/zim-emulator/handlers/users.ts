/** UserRegister, ModifyUserInfo and QueryUserInfos (zim-api.md §6.1, §6.2, §6.12). */
import { ZimCode } from '../../zim-client/codes';
import { ZIM_FIELD_LIMITS } from '../../zim-client/limits';
import { batchReply, idProblem, problem, processItems, requireBatchSize, utf8Bytes } from '../rules';
import type { Handler, HandlerContext } from './context';

function profileProblem(user: { UserName?: string | undefined; UserAvatar?: string | undefined }) {
  if (utf8Bytes(user.UserName ?? '') > ZIM_FIELD_LIMITS.userNameBytes) {
    return problem(ZimCode.USER_NAME_TOO_LONG, `UserName over ${ZIM_FIELD_LIMITS.userNameBytes} bytes`);
  }
  if (utf8Bytes(user.UserAvatar ?? '') > ZIM_FIELD_LIMITS.userAvatarBytes) {
    return problem(ZimCode.USER_AVATAR_TOO_LONG, `UserAvatar over ${ZIM_FIELD_LIMITS.userAvatarBytes} bytes`);
  }
  return undefined;
}

const idCheck = (ctx: HandlerContext, id: string, maxBytes?: number) =>
  idProblem(id, ctx.config.behaviour.allowSpaceInIds, maxBytes);
const byUserId = (u: { UserId: string }) => u.UserId;

export const userRegister: Handler<'UserRegister'> = (ctx, req) => {
  requireBatchSize('UserRegister', req.UserInfo.length);
  const failures = processItems(
    req.UserInfo,
    byUserId,
    (u) =>
      idCheck(ctx, u.UserId) ??
      profileProblem(u) ??
      (ctx.state.userNumber(u.UserId) === undefined
        ? undefined
        : problem(ZimCode.USER_ALREADY_EXISTS, 'user already exists')),
    (u) => ctx.state.registerUser(u.UserId, { name: u.UserName, avatar: u.UserAvatar }, ctx.now)
  );
  return batchReply('UserRegister', req.UserInfo.length, failures, { withSubMessage: true });
};

/** Omitted fields keep their value; an empty string clears one (as UpdateGroupData documents). */
export const modifyUserInfo: Handler<'ModifyUserInfo'> = (ctx, req) => {
  requireBatchSize('ModifyUserInfo', req.UserInfo.length);
  const maxExtra = ctx.config.limits.maxExtraBytes;
  const failures = processItems(
    req.UserInfo,
    byUserId,
    (u) =>
      idCheck(ctx, u.UserId) ??
      (ctx.state.userNumber(u.UserId) === undefined
        ? problem(ZimCode.USER_NOT_REGISTERED_MODIFY, 'user does not exist, register first')
        : undefined) ??
      profileProblem(u) ??
      (utf8Bytes(u.Extra ?? '') > maxExtra
        ? problem(ZimCode.PARAM_INVALID, `Extra over ${maxExtra} bytes`)
        : undefined),
    (u) => {
      const record = ctx.state.user(ctx.state.userNumber(u.UserId)!);
      if (u.UserName !== undefined) record.name = u.UserName;
      if (u.UserAvatar !== undefined) record.avatar = u.UserAvatar;
      if (u.Extra !== undefined) record.extra = u.Extra;
    }
  );
  return batchReply('ModifyUserInfo', req.UserInfo.length, failures, { withSubMessage: true });
};

export const queryUserInfos: Handler<'QueryUserInfos'> = (ctx, req) => {
  requireBatchSize('QueryUserInfos', req.UserIds.length);
  const result: Array<{ UserId: string; UserName: string; UserAvatar: string; Extra: string }> = [];
  const failures = processItems(
    req.UserIds,
    (id) => id,
    (id) =>
      idCheck(ctx, id, ZIM_FIELD_LIMITS.queryUserIdBytes) ??
      (ctx.state.userNumber(id) === undefined
        ? problem(ZimCode.USER_NOT_REGISTERED, 'user not registered')
        : undefined),
    (id) => {
      const u = ctx.state.user(ctx.state.userNumber(id)!);
      result.push({ UserId: id, UserName: u.name, UserAvatar: u.avatar, Extra: u.extra });
    }
  );
  return batchReply('QueryUserInfos', req.UserIds.length, failures, { fields: { Result: result } });
};
