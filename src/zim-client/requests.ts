/**
 * Request shapes of every Action, in ZIM's own field names (zim-api.md §6). The client takes these types; the
 * emulator parses incoming bodies with these schemas. The schemas check structure only: ZIM answers limit
 * violations with specific codes, so lengths, counts and ranges are the emulator's rules, not zod's.
 */
import { z } from 'zod';
import type { ZimAction } from './actions';

const text = z.string();
const integer = z.number().int();
/** An opaque cursor as returned by a previous page ('0' or absent on the first call). */
const cursor = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]);
const keyValues = z.array(z.object({ Key: text, Value: text }));

const userInfo = z.object({ UserId: text, UserName: text.optional(), UserAvatar: text.optional() });

export const UserRegisterRequestSchema = z.object({ UserInfo: z.array(userInfo) });
export const ModifyUserInfoRequestSchema = z.object({
  UserInfo: z.array(userInfo.extend({ Extra: text.optional() })),
});

export const AddFriendsRequestSchema = z.object({
  FromUserId: text,
  FriendInfos: z.array(
    z.object({
      UserId: text,
      Wording: text.optional(),
      FriendAlias: text.optional(),
      /** ms; 0 or absent = now. */
      FriendTime: integer.optional(),
      Attributes: keyValues.optional(),
    })
  ),
});

export const AddUsersToBlacklistRequestSchema = z.object({ FromUserId: text, UserIds: z.array(text) });

export const MessageBodySchema = z.object({
  Message: text,
  ExtendedData: text.optional(),
  // Accepted and ignored on import (§6.5).
  OfflinePush: z.unknown().optional(),
  HasReceipt: integer.optional(),
});

const importedMessage = {
  FromUserId: text,
  MessageType: integer,
  /** 1 low, 2 medium, 3 high. */
  Priority: integer,
  MessageBody: MessageBodySchema,
  SubMsgType: integer.optional(),
  SearchedContent: text.optional(),
  /** ms, the original send time; 0 or absent = now. Import oldest first. */
  SendMessageTime: integer.optional(),
};

export const ImportPeerMsgRequestSchema = z.object({
  ...importedMessage,
  ToUserId: text,
  /** Whose copy of the conversation receives the message: FromUserId or ToUserId. */
  ImportedUserId: text,
});

export const ImportGroupMsgRequestSchema = z.object({ ...importedMessage, GroupId: text });

/** Live sends (coexistence.md §2.1–§2.2): stamped with the server's time, so no SendMessageTime. */
const sentMessage = {
  FromUserId: text,
  MessageType: integer,
  Priority: integer,
  MessageBody: MessageBodySchema,
  SubMsgType: integer.optional(),
  SearchedContent: text.optional(),
};

export const SendPeerMessageRequestSchema = z.object({
  ...sentMessage,
  /** ≤100 receivers, each a conversation of its own; never FromUserId. */
  ToUserId: z.array(text),
  /** 1: the sender's own clients are not told of the send. */
  SenderUnaware: integer.optional(),
  SendMsgOptions: z.object({ NoUnread: z.boolean().optional() }).optional(),
});

export const SendGroupMessageRequestSchema = z.object({
  ...sentMessage,
  GroupId: text,
  SendMsgOptions: z
    .object({
      NoUnread: z.boolean().optional(),
      TargetOption: z.object({ ReceiverUserIds: z.array(text), Inclusive: z.boolean().optional() }).optional(),
    })
    .optional(),
});

/** GET; the operator can be any registered user (coexistence.md §2.4). 1 call/s per group. */
export const DismissGroupRequestSchema = z.object({ FromUserId: text, GroupId: text });

/** A query-string boolean arrives as text. */
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/**
 * GET, 20/s ([EN:group/mute-a-group]): mutes every member (`IsAllMuted`) or the roles in `MuteRoleList`, for
 * `Duration` seconds (-1: no end; 0 with nothing else: unmute). An admin may not mute role 1 (the owner).
 */
export const MuteGroupRequestSchema = z.object({
  FromUserId: text,
  GroupId: text,
  IsAllMuted: flag.optional(),
  // A GET: the emulator gets `MuteRoleList[]` values as text.
  MuteRoleList: z
    .array(
      z.union([
        integer,
        z
          .string()
          .regex(/^-?\d+$/)
          .transform(Number),
      ])
    )
    .optional(),
  Duration: integer.optional(),
});

/**
 * POST, ≤20 ids, 20/s ([EN:user/batch-delete-friends]). DeleteType 0: two-way (neither keeps the other);
 * 1: one-way (the target leaves FromUserId's list, FromUserId stays in the target's).
 */
export const DeleteFriendsRequestSchema = z.object({
  FromUserId: text,
  UserIds: z.array(text),
  DeleteType: z.union([z.literal(0), z.literal(1)]),
});

/** POST, ≤20 ids, 20/s ([EN:user/batch-unblock-users]): AddUsersToBlacklist's shape. */
export const RemoveUsersFromBlacklistRequestSchema = z.object({ FromUserId: text, UserIds: z.array(text) });

/**
 * POST, 20/s ([EN:group/update-group-data]). At least one of the three fields; a field present as '' clears it, an
 * absent one is left as it is (so never send a field you do not mean to change).
 */
export const UpdateGroupDataRequestSchema = z.object({
  FromUserId: text,
  GroupId: text,
  GroupName: text.optional(),
  GroupNotice: text.optional(),
  GroupAvatar: text.optional(),
});

/**
 * POST, 20/s ([EN:group/modify-group-attributes]). `Action` 0 (default) sets each Key to its Value (creating it
 * when new), 1 deletes the Keys (Value not needed). The body's `Action` is this field, not the query's Action name.
 */
export const ModifyGroupAttributeRequestSchema = z.object({
  Action: z.union([z.literal(0), z.literal(1)]).optional(),
  FromUserId: text,
  GroupId: text,
  Attributes: z.array(z.object({ Key: text, Value: text.optional() })),
});

/** GET, 1 call/s per group ([EN:group/transfer-the-group-ownership]): NewOwner must be in the group. */
export const TransferGroupOwnerRequestSchema = z.object({ FromUserId: text, GroupId: text, NewOwner: text });

/** POST, 20/s (§6.15). */
export const QueryGroupInfoRequestSchema = z.object({ FromUserId: text, GroupId: text });

export const CreateGroupRequestSchema = z.object({
  /** Empty or absent: ZIM generates an id starting with '#'. */
  GroupId: text.optional(),
  GroupName: text.optional(),
  GroupNotice: text.optional(),
  GroupAvatar: text.optional(),
  GroupOwner: text,
  /** Initial members (the owner need not be listed). */
  UserId: z.array(text).optional(),
  Attributes: keyValues.optional(),
  CreateGroupTime: integer.optional(),
});

export const InviteUsersIntoGroupRequestSchema = z.object({
  FromUserId: text,
  GroupId: text,
  /** Used only when GroupMemberInfos is empty. */
  UserIds: z.array(text).optional(),
  GroupMemberInfos: z
    .array(z.object({ UserId: text, EnterGroupTime: integer.optional(), IsInvite: integer.optional() }))
    .optional(),
});

export const KickoutGroupUserRequestSchema = z.object({
  FromUserId: text,
  GroupId: text,
  UserId: z.array(text),
  CustomReason: text.optional(),
});

/** §6.16: one member per call. Role 2 admin, 3 member, or a custom value (recommended 100..255); never 1 (owner). */
export const SetGroupMemberRoleRequestSchema = z.object({
  FromUserId: text,
  GroupId: text,
  ToUserId: text,
  Role: integer,
});

/** §6.16: `UserIds` holds objects, not ids, as the page documents; ≤20 a call, 1 call/s per group. */
export const SetGroupMembersNicknameRequestSchema = z.object({
  FromUserId: text,
  GroupId: text,
  UserIds: z.array(z.object({ UserId: text, Nickname: text })),
});

const page = { Limit: integer.optional(), Next: cursor.optional() };

export const QueryPeerMsgRequestSchema = z.object({
  FromUserId: text,
  ToUserId: text,
  ...page,
  WithEmptyMsg: integer.optional(),
});
export const QueryGroupMsgRequestSchema = z.object({ GroupId: text, ...page, WithEmptyMsg: integer.optional() });
export const QueryUserInfosRequestSchema = z.object({ UserIds: z.array(text) });
export const QueryFriendListRequestSchema = z.object({ FromUserId: text, ...page });
export const QueryBlacklistRequestSchema = z.object({ FromUserId: text, ...page });
export const QueryGroupMemberListRequestSchema = z.object({ GroupId: text, ...page });
export const QueryConversationListRequestSchema = z.object({ FromUserId: text, ...page });
export const ClearConversationUnreadRequestSchema = z.object({
  FromUserId: text,
  /** The peer's user id or the group id. */
  ConvId: text,
  /** 0 one-to-one, 2 group. */
  ConvType: integer,
});

export const ZIM_REQUEST_SCHEMAS = {
  UserRegister: UserRegisterRequestSchema,
  ModifyUserInfo: ModifyUserInfoRequestSchema,
  AddFriends: AddFriendsRequestSchema,
  AddUsersToBlacklist: AddUsersToBlacklistRequestSchema,
  ImportPeerMsg: ImportPeerMsgRequestSchema,
  CreateGroup: CreateGroupRequestSchema,
  InviteUsersIntoGroup: InviteUsersIntoGroupRequestSchema,
  KickoutGroupUser: KickoutGroupUserRequestSchema,
  SetGroupMemberRole: SetGroupMemberRoleRequestSchema,
  SetGroupMembersNickname: SetGroupMembersNicknameRequestSchema,
  ImportGroupMsg: ImportGroupMsgRequestSchema,
  QueryPeerMsg: QueryPeerMsgRequestSchema,
  QueryGroupMsg: QueryGroupMsgRequestSchema,
  QueryUserInfos: QueryUserInfosRequestSchema,
  QueryFriendList: QueryFriendListRequestSchema,
  QueryBlacklist: QueryBlacklistRequestSchema,
  QueryGroupMemberList: QueryGroupMemberListRequestSchema,
  QueryConversationList: QueryConversationListRequestSchema,
  ClearConversationUnread: ClearConversationUnreadRequestSchema,
  SendPeerMessage: SendPeerMessageRequestSchema,
  SendGroupMessage: SendGroupMessageRequestSchema,
  DismissGroup: DismissGroupRequestSchema,
  MuteGroup: MuteGroupRequestSchema,
  QueryGroupInfo: QueryGroupInfoRequestSchema,
  DeleteFriends: DeleteFriendsRequestSchema,
  RemoveUsersFromBlacklist: RemoveUsersFromBlacklistRequestSchema,
  UpdateGroupData: UpdateGroupDataRequestSchema,
  ModifyGroupAttribute: ModifyGroupAttributeRequestSchema,
  TransferGroupOwner: TransferGroupOwnerRequestSchema,
} as const satisfies Record<ZimAction, z.ZodType>;

/** Numeric parameters of GET Actions, which arrive as query strings. */
export const NUMERIC_QUERY_PARAMS = new Set(['Limit', 'Next', 'ConvType', 'Role', 'Duration']);

export type ZimRequest<A extends ZimAction> = z.input<(typeof ZIM_REQUEST_SCHEMAS)[A]>;

export type UserRegisterRequest = ZimRequest<'UserRegister'>;
export type ModifyUserInfoRequest = ZimRequest<'ModifyUserInfo'>;
export type AddFriendsRequest = ZimRequest<'AddFriends'>;
export type AddUsersToBlacklistRequest = ZimRequest<'AddUsersToBlacklist'>;
export type ImportPeerMsgRequest = ZimRequest<'ImportPeerMsg'>;
export type CreateGroupRequest = ZimRequest<'CreateGroup'>;
export type InviteUsersIntoGroupRequest = ZimRequest<'InviteUsersIntoGroup'>;
export type KickoutGroupUserRequest = ZimRequest<'KickoutGroupUser'>;
export type SetGroupMemberRoleRequest = ZimRequest<'SetGroupMemberRole'>;
export type SetGroupMembersNicknameRequest = ZimRequest<'SetGroupMembersNickname'>;
export type ImportGroupMsgRequest = ZimRequest<'ImportGroupMsg'>;
export type QueryPeerMsgRequest = ZimRequest<'QueryPeerMsg'>;
export type QueryGroupMsgRequest = ZimRequest<'QueryGroupMsg'>;
export type QueryUserInfosRequest = ZimRequest<'QueryUserInfos'>;
export type QueryFriendListRequest = ZimRequest<'QueryFriendList'>;
export type QueryBlacklistRequest = ZimRequest<'QueryBlacklist'>;
export type QueryGroupMemberListRequest = ZimRequest<'QueryGroupMemberList'>;
export type QueryConversationListRequest = ZimRequest<'QueryConversationList'>;
export type ClearConversationUnreadRequest = ZimRequest<'ClearConversationUnread'>;
export type SendPeerMessageRequest = ZimRequest<'SendPeerMessage'>;
export type SendGroupMessageRequest = ZimRequest<'SendGroupMessage'>;
export type DismissGroupRequest = ZimRequest<'DismissGroup'>;
export type MuteGroupRequest = ZimRequest<'MuteGroup'>;
export type QueryGroupInfoRequest = ZimRequest<'QueryGroupInfo'>;
export type DeleteFriendsRequest = ZimRequest<'DeleteFriends'>;
export type RemoveUsersFromBlacklistRequest = ZimRequest<'RemoveUsersFromBlacklist'>;
export type UpdateGroupDataRequest = ZimRequest<'UpdateGroupData'>;
export type ModifyGroupAttributeRequest = ZimRequest<'ModifyGroupAttribute'>;
export type TransferGroupOwnerRequest = ZimRequest<'TransferGroupOwner'>;
