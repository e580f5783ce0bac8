/**
 * Response validation at the boundary: every ZIM answer is checked with zod and turned into the typed, camelCase
 * results callers use. Input comes from parseZimJson, so integers beyond 2^53 arrive as bigint; MsgId and cursors
 * become exact decimal strings, and a bigint anywhere else fails validation instead of being rounded.
 */
import { z } from 'zod';
import type { ZimAction } from './actions';
import { outcomeOfCode, type ZimItemFailure } from './errors';

const integer = z.number().int();
const optionalText = z
  .string()
  .nullish()
  .transform((v) => v ?? '');
/** MsgId: a JSON number that may exceed 2^53, or a string (ImportPeerMsg documents a string). */
const exactId = z.union([z.bigint(), z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).transform(String);
/** Opaque cursor; '0' means no more pages. */
const cursor = z
  .union([z.bigint(), z.number().int().nonnegative(), z.string()])
  .nullish()
  .transform((v) => (v === undefined || v === null || v === '' ? '0' : String(v)));

export const EnvelopeSchema = z.object({
  Code: integer,
  Message: optionalText,
  RequestId: z
    .union([z.string(), z.number(), z.bigint()])
    .nullish()
    .transform((v) => (v === undefined || v === null ? undefined : String(v))),
});
export type Envelope = z.output<typeof EnvelopeSchema>;

const failureItem = z.object({ UserId: z.string(), SubCode: integer, SubMessage: z.string().nullish() });
/** A per-item failure list (ErrorList / ErrList / ErrorUsers); absent or null means none. */
export const FailureListSchema = z
  .array(failureItem)
  .nullish()
  .transform((items): ZimItemFailure[] =>
    (items ?? []).map((f) => ({
      id: f.UserId,
      code: f.SubCode,
      ...(f.SubMessage ? { message: f.SubMessage } : {}),
      outcome: outcomeOfCode(f.SubCode),
    }))
  );

const batch = (field: 'ErrorList' | 'ErrList' | 'ErrorUsers') =>
  z.object({ [field]: FailureListSchema }).transform((r) => ({ failures: r[field] as ZimItemFailure[] }));

const messagePage = z
  .object({
    Next: cursor,
    List: z
      .array(
        z.object({
          Sender: z.string(),
          MsgType: integer,
          SubMsgType: integer.nullish().transform((v) => v ?? 0),
          MsgBody: optionalText,
          MsgId: exactId,
          MsgSeq: integer,
          Payload: z.string().nullish(),
          MsgTime: integer,
          IsEmpty: integer.nullish().transform((v) => v ?? 0),
        })
      )
      .nullish(),
  })
  .transform((r) => ({
    next: r.Next,
    messages: (r.List ?? []).map((m) => ({
      sender: m.Sender,
      msgType: m.MsgType,
      subMsgType: m.SubMsgType,
      msgBody: m.MsgBody,
      msgId: m.MsgId,
      msgSeq: m.MsgSeq,
      msgTime: m.MsgTime,
      ...(m.Payload ? { payload: m.Payload } : {}),
      isEmpty: m.IsEmpty,
    })),
  }));

const countedPage = <T extends z.ZodType>(listField: string, item: T) =>
  z.object({ TotalCount: integer.nullish(), Next: cursor, [listField]: z.array(item).nullish() }).transform((r) => {
    const list = (r[listField] ?? []) as z.output<T>[];
    return { totalCount: (r.TotalCount as number | null | undefined) ?? list.length, next: r.Next as string, list };
  });

const keyValues = z
  .array(z.object({ Key: z.string(), Value: z.string() }))
  .nullish()
  .transform((v) => (v ?? []).map((a) => ({ key: a.Key, value: a.Value })));

export const ZIM_RESPONSE_SCHEMAS = {
  UserRegister: batch('ErrorList'),
  ModifyUserInfo: batch('ErrorList'),
  AddFriends: batch('ErrorList'),
  AddUsersToBlacklist: batch('ErrList'),
  ImportPeerMsg: z.object({ MsgId: exactId, MsgSeq: integer }).transform((r) => ({ msgId: r.MsgId, msgSeq: r.MsgSeq })),
  CreateGroup: z
    .object({
      GroupId: z.string(),
      Members: z.array(z.object({ UserId: z.string(), UserName: optionalText })).nullish(),
      ErrorUsers: FailureListSchema,
    })
    .transform((r) => ({
      groupId: r.GroupId,
      members: (r.Members ?? []).map((m) => ({ userId: m.UserId, userName: m.UserName })),
      failures: r.ErrorUsers,
    })),
  InviteUsersIntoGroup: batch('ErrorUsers'),
  KickoutGroupUser: batch('ErrorList'),
  SetGroupMemberRole: z.object({}).transform(() => ({})),
  SetGroupMembersNickname: batch('ErrorUsers'),
  ImportGroupMsg: z.object({ MsgSeq: integer }).transform((r) => ({ msgSeq: r.MsgSeq })),
  QueryPeerMsg: messagePage,
  QueryGroupMsg: messagePage,
  QueryUserInfos: z
    .object({
      Result: z
        .array(z.object({ UserId: z.string(), UserName: optionalText, UserAvatar: optionalText, Extra: optionalText }))
        .nullish(),
      ErrorList: FailureListSchema,
    })
    .transform((r) => ({
      users: (r.Result ?? []).map((u) => ({
        userId: u.UserId,
        userName: u.UserName,
        userAvatar: u.UserAvatar,
        extra: u.Extra,
      })),
      failures: r.ErrorList,
    })),
  QueryFriendList: countedPage(
    'FriendInfos',
    z
      .object({
        UserId: z.string(),
        UserName: optionalText,
        Avatar: optionalText,
        Wording: optionalText,
        FriendAlias: optionalText,
        CreateTime: integer,
        Attributes: keyValues,
      })
      .transform((f) => ({
        userId: f.UserId,
        userName: f.UserName,
        avatar: f.Avatar,
        wording: f.Wording,
        friendAlias: f.FriendAlias,
        createTime: f.CreateTime,
        attributes: f.Attributes,
      }))
  ).transform(({ list, ...rest }) => ({ ...rest, friends: list })),
  QueryBlacklist: countedPage(
    'Blacklist',
    z
      .object({ UserId: z.string(), UserName: optionalText, Avatar: optionalText, UpdateTime: integer })
      .transform((b) => ({ userId: b.UserId, userName: b.UserName, avatar: b.Avatar, updateTime: b.UpdateTime }))
  ).transform(({ list, ...rest }) => ({ ...rest, blocked: list })),
  QueryGroupMemberList: countedPage(
    'MemberList',
    z
      .object({ UserId: z.string(), UserName: optionalText, UserNickName: optionalText, Role: integer })
      .transform((m) => ({ userId: m.UserId, userName: m.UserName, userNickName: m.UserNickName, role: m.Role }))
  ).transform(({ list, ...rest }) => ({ ...rest, members: list })),
  QueryConversationList: countedPage(
    'List',
    z
      .object({ ConvId: z.string(), ConvType: integer.nullish(), UpdateTime: integer })
      .transform((c) => ({ convId: c.ConvId, convType: c.ConvType ?? 0, updateTime: c.UpdateTime }))
  ).transform(({ list, ...rest }) => ({ ...rest, conversations: list })),
  ClearConversationUnread: z.object({}).transform(() => ({})),
  SendPeerMessage: z
    .object({
      ErrorList: FailureListSchema,
      SuccList: z.array(z.object({ UserId: z.string(), MsgId: exactId, MsgSeq: integer })).nullish(),
    })
    .transform((r) => ({
      failures: r.ErrorList,
      sent: (r.SuccList ?? []).map((m) => ({ userId: m.UserId, msgId: m.MsgId, msgSeq: m.MsgSeq })),
    })),
  // MsgId is a JSON number beyond 2^53 here (coexistence.md §2.2): exactId keeps it exact.
  SendGroupMessage: z
    .object({ MsgId: exactId, MsgSeq: integer })
    .transform((r) => ({ msgId: r.MsgId, msgSeq: r.MsgSeq })),
  DismissGroup: z.object({}).transform(() => ({})),
  MuteGroup: z.object({}).transform(() => ({})),
  // §6.15: only one of IsAllForbid and ForbidList is present. ForbidList is taken to list the muted roles, as
  // MuteGroup's MuteRoleList does (UNCONFIRMED: the page gives no type); ForbidExpireTime in ms, -1 for no end
  // (UNCONFIRMED).
  QueryGroupInfo: z
    .object({
      GroupId: z.string(),
      GroupName: optionalText,
      GroupNotice: optionalText,
      GroupAvatar: optionalText,
      GroupDataSeq: integer.nullish(),
      GroupAttributes: keyValues,
      GroupCreateTime: integer.nullish(),
      IsAllForbid: z.union([z.boolean(), z.number()]).optional(),
      ForbidList: z.array(z.number()).nullish(),
      ForbidExpireTime: z.number().optional(),
    })
    .transform((r) => ({
      groupId: r.GroupId,
      groupName: r.GroupName,
      groupNotice: r.GroupNotice,
      groupAvatar: r.GroupAvatar,
      /** How many times the group's data was changed ([EN:group/query-group-info]). */
      groupDataSeq: r.GroupDataSeq ?? 0,
      attributes: r.GroupAttributes,
      createTime: r.GroupCreateTime ?? 0,
      mute: {
        all: r.IsAllForbid === true || r.IsAllForbid === 1,
        roles: r.ForbidList ?? [],
        expireTime: r.ForbidExpireTime ?? 0,
      },
    })),
  DeleteFriends: batch('ErrorList'),
  RemoveUsersFromBlacklist: batch('ErrList'),
  UpdateGroupData: z.object({}).transform(() => ({})),
  // FailKeys: the keys not set or deleted, with ZIM's reason text; Attributes.Attributes: the ones that were.
  ModifyGroupAttribute: z
    .object({
      FailKeys: z
        .array(z.object({ Key: z.string(), Reason: optionalText }))
        .nullish()
        .transform((v) => (v ?? []).map((f) => ({ key: f.Key, reason: f.Reason }))),
      Attributes: z.object({ Attributes: keyValues }).nullish(),
    })
    .transform((r) => ({ failedKeys: r.FailKeys, attributes: r.Attributes?.Attributes ?? [] })),
  TransferGroupOwner: z.object({}).transform(() => ({})),
} as const satisfies Record<ZimAction, z.ZodType>;

export type ZimResult<A extends ZimAction> = z.output<(typeof ZIM_RESPONSE_SCHEMAS)[A]> & { requestId?: string };

export type BatchResult = ZimResult<'UserRegister'>;
export type MessagePage = ZimResult<'QueryPeerMsg'>;
export type ZimMessage = MessagePage['messages'][number];
