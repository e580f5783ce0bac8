/**
 * ZIM's documented limits in one place (zim-api.md §1, §5, §5b, §9): the emulator enforces them, the client and the
 * migration size their batches and budgets by them, and the tests are generated from them.
 */
import type { ZimAction } from './actions';
import { ZimCode } from './codes';

export interface RateLimit {
  perSecond: number;
  /** The code ZIM answers when the limit is exceeded. */
  code: number;
}

/** Per-Action, per-AppId limits over one second. Codes for the import endpoints are UNCONFIRMED (§9.3). */
export const ZIM_RATE_LIMITS: Record<ZimAction, RateLimit> = {
  UserRegister: { perSecond: 20, code: ZimCode.USER_REGISTER_RATE_LIMITED },
  ModifyUserInfo: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  AddFriends: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  AddUsersToBlacklist: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  ImportPeerMsg: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  CreateGroup: { perSecond: 20, code: ZimCode.CREATE_GROUP_RATE_LIMITED },
  InviteUsersIntoGroup: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  KickoutGroupUser: { perSecond: 20, code: ZimCode.KICKOUT_RATE_LIMITED },
  SetGroupMemberRole: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  // Documented only per group (1/s); the app-wide 20/s every Action has is assumed on top, as for invites.
  SetGroupMembersNickname: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  ImportGroupMsg: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  QueryPeerMsg: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  QueryGroupMsg: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  QueryUserInfos: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  QueryFriendList: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  QueryBlacklist: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  QueryGroupMemberList: { perSecond: 20, code: ZimCode.GROUP_MEMBER_LIST_RATE_LIMITED },
  QueryConversationList: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  ClearConversationUnread: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  SendPeerMessage: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  // 10/s per the send page and the overview; per AppID and its code are UNCONFIRMED (coexistence.md §2.2).
  SendGroupMessage: { perSecond: 10, code: ZimCode.APP_RATE_LIMITED },
  // Documented per group (1/s); the app-wide 20/s is assumed on top, as for the other per-group Actions.
  DismissGroup: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  // [EN:group/mute-a-group]: 20/s; its rate-limit code is UNCONFIRMED.
  MuteGroup: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  QueryGroupInfo: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  DeleteFriends: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  RemoveUsersFromBlacklist: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
  // 20/s, and the only rate-limit code their pages list is the group-level 660300006: whether the 20/s is counted
  // per app or per group is UNCONFIRMED (per app here; docs/zim-assumptions.md #57).
  UpdateGroupData: { perSecond: 20, code: ZimCode.GROUP_RATE_LIMITED },
  ModifyGroupAttribute: { perSecond: 20, code: ZimCode.GROUP_RATE_LIMITED },
  // Documented per group (1/s); the app-wide 20/s is assumed on top, as for the other per-group Actions.
  TransferGroupOwner: { perSecond: 20, code: ZimCode.APP_RATE_LIMITED },
};

/** Limits per group (one second window), on top of the per-app limit. */
export const ZIM_GROUP_RATE_LIMITS: Partial<Record<ZimAction, RateLimit>> = {
  InviteUsersIntoGroup: { perSecond: 1, code: ZimCode.GROUP_RATE_LIMITED },
  SetGroupMembersNickname: { perSecond: 1, code: ZimCode.GROUP_RATE_LIMITED },
  DismissGroup: { perSecond: 1, code: ZimCode.GROUP_RATE_LIMITED },
  TransferGroupOwner: { perSecond: 1, code: ZimCode.GROUP_RATE_LIMITED },
};

/** A call budget: calls per second, per app, or per group (the call's key) when `perKey`. */
export interface Budget {
  rate: number;
  perKey?: boolean;
}

/** ZIM's rate for an Action without a documented limit of its own (§1). */
export const DEFAULT_RATE = 20;

/** Documented limits of Actions a migration does not call (§1): what a budget set for one of them starts from. */
const OTHER_BUDGETS: Readonly<Record<string, Budget>> = {
  QueryAppGroupList: { rate: 1 },
};

/**
 * ZIM's default budget for an Action, from the limits above: per group where ZIM limits it per group (the per-app
 * limit on top is never the tighter one), else per app. The operator can change any budget while a migration runs.
 */
export function defaultBudget(action: string): Budget {
  const own = <T>(table: Partial<Record<string, T>>) => (Object.hasOwn(table, action) ? table[action] : undefined);
  const perGroup = own(ZIM_GROUP_RATE_LIMITS);
  if (perGroup) return { rate: perGroup.perSecond, perKey: true };
  const perApp = own(ZIM_RATE_LIMITS);
  return perApp ? { rate: perApp.perSecond } : (own(OTHER_BUDGETS) ?? { rate: DEFAULT_RATE });
}

export interface BatchLimit {
  /** The body field holding the batch. */
  field: string;
  max: number;
  /** The code for a batch over the limit (the whole call is refused). */
  code: number;
}

/**
 * Fixed per-call batch sizes. AddFriends' size is a plan setting (20, raisable to 50: see `maxFriendsPerCall`).
 * Codes marked UNCONFIRMED in §9.7: UserRegister/ModifyUserInfo (660000002) and QueryUserInfos (660000011);
 * SetGroupMembersNickname documents its 20 but no code (660000011 assumed).
 */
export type BatchLimitedAction =
  | 'UserRegister'
  | 'ModifyUserInfo'
  | 'AddFriends'
  | 'AddUsersToBlacklist'
  | 'CreateGroup'
  | 'InviteUsersIntoGroup'
  | 'KickoutGroupUser'
  | 'SetGroupMembersNickname'
  | 'QueryUserInfos'
  | 'SendPeerMessage'
  | 'DeleteFriends'
  | 'RemoveUsersFromBlacklist';

export const ZIM_BATCH_LIMITS: Record<BatchLimitedAction, BatchLimit> = {
  UserRegister: { field: 'UserInfo', max: 100, code: ZimCode.PARAM_INVALID },
  ModifyUserInfo: { field: 'UserInfo', max: 100, code: ZimCode.PARAM_INVALID },
  AddFriends: { field: 'FriendInfos', max: 20, code: ZimCode.FRIEND_BATCH_TOO_LARGE },
  AddUsersToBlacklist: { field: 'UserIds', max: 20, code: ZimCode.BLOCK_LIST_TOO_LONG },
  CreateGroup: { field: 'UserId', max: 100, code: ZimCode.TOO_MANY_GROUP_MEMBERS },
  InviteUsersIntoGroup: { field: 'UserIds', max: 100, code: ZimCode.TOO_MANY_USERS },
  KickoutGroupUser: { field: 'UserId', max: 50, code: ZimCode.TOO_MANY_USERS },
  SetGroupMembersNickname: { field: 'UserIds', max: 20, code: ZimCode.TOO_MANY_USERS },
  QueryUserInfos: { field: 'UserIds', max: 100, code: ZimCode.TOO_MANY_USERS },
  // ≤100 receivers is documented, the code for more is not (UNCONFIRMED).
  SendPeerMessage: { field: 'ToUserId', max: 100, code: ZimCode.TOO_MANY_USERS },
  // 20 by default, up to 50 by arrangement like AddFriends (the emulator reads `maxFriendsPerCall` for both).
  DeleteFriends: { field: 'UserIds', max: 20, code: ZimCode.FRIEND_BATCH_TOO_LARGE },
  RemoveUsersFromBlacklist: { field: 'UserIds', max: 20, code: ZimCode.BLOCK_LIST_TOO_LONG },
};

/** Items one call of `action` takes: its batch limit, or 1 for an Action that acts on one item. */
export function itemsPerCall(action: string): number {
  return Object.hasOwn(ZIM_BATCH_LIMITS, action) ? ZIM_BATCH_LIMITS[action as BatchLimitedAction].max : 1;
}

export type PagedAction =
  | 'QueryPeerMsg'
  | 'QueryGroupMsg'
  | 'QueryFriendList'
  | 'QueryBlacklist'
  | 'QueryGroupMemberList'
  | 'QueryConversationList';

/** Page sizes are clamped, never refused: ≤0 or absent becomes the default, above max becomes max. */
export const ZIM_PAGE_LIMITS: Record<PagedAction, { default: number; max: number }> = {
  QueryPeerMsg: { default: 10, max: 100 },
  QueryGroupMsg: { default: 10, max: 100 },
  QueryFriendList: { default: 100, max: 100 },
  QueryBlacklist: { default: 100, max: 100 },
  QueryGroupMemberList: { default: 1000, max: 1000 },
  QueryConversationList: { default: 100, max: 500 },
};

/** String and count limits (§5, §7). Bytes are UTF-8 bytes; "chars" are Unicode code points. */
export const ZIM_FIELD_LIMITS = {
  idBytes: 32,
  /** QueryUserInfos documents 64 B per id (a doc inconsistency, §5). */
  queryUserIdBytes: 64,
  userNameBytes: 256,
  userAvatarBytes: 500,
  groupNameChars: 50,
  groupNoticeBytes: 300,
  groupAvatarBytes: 500,
  groupAttributes: 10,
  groupAttributeKeyBytes: 16,
  groupAttributeValueBytes: 1024,
  friendWordingChars: 256,
  friendAliasChars: 256,
  friendAttributes: 5,
  friendAttributesTotalBytes: 1024,
  kickReasonBytes: 32,
  groupNicknameBytes: 256,
  extendedDataBytes: 1024,
  searchedContentBytes: 64,
  subMsgTypeMax: 200,
  multiMsgItems: 20,
  /** Request Timestamp may differ from the server clock by this much (§2). */
  timestampToleranceSeconds: 600,
} as const;

/** Message types importable into 1:1 and group conversations (§7.1); 2 (signaling) is not. */
export const IMPORTABLE_MESSAGE_TYPES = [1, 10, 11, 12, 13, 14, 200] as const;

export interface PlanLimits {
  /** History retention: bounds SendMessageTime on import and expires old messages. */
  retentionDays: number;
  /** MessageBody.Message, all types but multi-item (default 2 KB, up to 32 KB by arrangement). */
  maxMessageBytes: number;
  /** MessageBody.Message for multi-item (type 10) messages (default 5 KB). */
  maxMultiItemMessageBytes: number;
  /** ModifyUserInfo Extra (default 2 KB, up to 32 KB by arrangement). */
  maxExtraBytes: number;
  /** Members per group, owner included. */
  maxGroupMembers: number;
  maxFriendsPerUser: number;
  maxBlocksPerUser: number;
  /** AddFriends batch size (20 by default, 50 by arrangement). */
  maxFriendsPerCall: number;
}

const BASE_PLAN = {
  maxMessageBytes: 2 * 1024,
  maxMultiItemMessageBytes: 5 * 1024,
  maxExtraBytes: 2 * 1024,
  maxBlocksPerUser: 1000,
  maxFriendsPerCall: 20,
};

/** §5b. Free/Pro/Enterprise differ in retention, group size and friend count. */
export const ZIM_PLANS = {
  free: { ...BASE_PLAN, retentionDays: 7, maxGroupMembers: 20, maxFriendsPerUser: 20 },
  pro: { ...BASE_PLAN, retentionDays: 30, maxGroupMembers: 200, maxFriendsPerUser: 3000 },
  enterprise: { ...BASE_PLAN, retentionDays: 90, maxGroupMembers: 2000, maxFriendsPerUser: 3000 },
} as const satisfies Record<string, PlanLimits>;

export type ZimPlan = keyof typeof ZIM_PLANS;
export const ZIM_PLAN_NAMES = Object.keys(ZIM_PLANS) as [ZimPlan, ...ZimPlan[]];
/** Pro is the default: the smallest plan that a production app migrates into. */
export const DEFAULT_ZIM_PLAN: ZimPlan = 'pro';

/** §5b: how many users and groups an app may hold (null: no limit). Validation checks them; the emulator does not. */
export const ZIM_PLAN_QUOTAS: Record<ZimPlan, { maxUsers: number | null; maxGroups: number | null }> = {
  free: { maxUsers: 100, maxGroups: 20 },
  pro: { maxUsers: null, maxGroups: null },
  enterprise: { maxUsers: null, maxGroups: null },
};

export const DAY_MS = 86_400_000;
