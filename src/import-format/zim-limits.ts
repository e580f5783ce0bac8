/**
 * ZIM's limits that decide whether a record can be imported (../shared/zim-api.md §5, §5b, §7).
 * Fixed rules are constants; the ones a ZIM plan (or ZEGO support) changes live in `ZimLimits`.
 */
import { ZIM_BATCH_LIMITS, ZIM_FIELD_LIMITS } from '../zim-client/limits';

/** UserId / GroupId: ≤ 32 bytes of digits, letters and these symbols (space included, §5). */
export const ZIM_ID_PATTERN = /^[0-9A-Za-z!#$%&()+\-:;<=.>?@[\]^_{}|~ ]+$/;
export const ZIM_ID_MAX_BYTES = ZIM_FIELD_LIMITS.idBytes;

/** The same numbers the ZIM client and emulator use (src/zim-client/limits.ts), named as the import rules read them. */
export const ZIM_FIXED = {
  userNameBytes: ZIM_FIELD_LIMITS.userNameBytes,
  avatarUrlBytes: ZIM_FIELD_LIMITS.userAvatarBytes,
  groupNameChars: ZIM_FIELD_LIMITS.groupNameChars,
  groupNoticeBytes: ZIM_FIELD_LIMITS.groupNoticeBytes,
  groupAvatarBytes: ZIM_FIELD_LIMITS.groupAvatarBytes,
  groupAttributes: ZIM_FIELD_LIMITS.groupAttributes,
  groupAttributeKeyBytes: ZIM_FIELD_LIMITS.groupAttributeKeyBytes,
  groupAttributeValueBytes: ZIM_FIELD_LIMITS.groupAttributeValueBytes,
  friendAliasChars: ZIM_FIELD_LIMITS.friendAliasChars,
  friendWordingChars: ZIM_FIELD_LIMITS.friendWordingChars,
  friendAttributeKeys: ['k0', 'k1', 'k2', 'k3', 'k4'] as readonly string[],
  friendAttributesTotalBytes: ZIM_FIELD_LIMITS.friendAttributesTotalBytes,
  memberNicknameBytes: ZIM_FIELD_LIMITS.groupNicknameBytes,
  messageExtendedDataBytes: ZIM_FIELD_LIMITS.extendedDataBytes,
  searchedContentBytes: ZIM_FIELD_LIMITS.searchedContentBytes,
  subMsgTypeMax: ZIM_FIELD_LIMITS.subMsgTypeMax,
  mediaUrlBytes: 500,
  mediaFileNameBytes: 150,
  createGroupInitialMembers: ZIM_BATCH_LIMITS.CreateGroup.max,
  inviteBatch: ZIM_BATCH_LIMITS.InviteUsersIntoGroup.max,
  registerBatch: ZIM_BATCH_LIMITS.UserRegister.max,
  modifyUserBatch: ZIM_BATCH_LIMITS.ModifyUserInfo.max,
  friendBatch: ZIM_BATCH_LIMITS.AddFriends.max,
  blockBatch: ZIM_BATCH_LIMITS.AddUsersToBlacklist.max,
  memberNicknameBatch: ZIM_BATCH_LIMITS.SetGroupMembersNickname.max,
} as const;

/** ZIM MessageType numbers that the import APIs accept (§7.1). */
export const ZIM_MESSAGE_TYPE = { text: 1, image: 11, file: 12, audio: 13, video: 14, custom: 200 } as const;
export type MessageTypeName = keyof typeof ZIM_MESSAGE_TYPE;

export interface ZimLimits {
  /** Which preset these came from (informational). */
  plan: ZimPlanName;
  /** History message retention: ZIM refuses a SendMessageTime older than now − retentionDays. */
  retentionDays: number;
  maxGroupMembers: number;
  maxFriendsPerUser: number;
  maxBlocksPerUser: number;
  /** null = unlimited. */
  maxUsers: number | null;
  maxGroups: number | null;
  /** MessageBody.Message, default 2 KB, raisable to 32 KB by ZEGO support. */
  messageBytes: number;
  /** User Extra (ModifyUserInfo), default 2 KB, raisable to 32 KB. */
  userExtraBytes: number;
}

export type ZimPlanName = 'free' | 'pro' | 'enterprise';
export const ZIM_PLAN_NAMES: readonly ZimPlanName[] = ['free', 'pro', 'enterprise'];

const COMMON = { maxBlocksPerUser: 1000, messageBytes: 2048, userExtraBytes: 2048 };

/** §5b plan table. Pro is the default: the smallest plan that a production app migrates into. */
export const ZIM_PLANS: Record<ZimPlanName, ZimLimits> = {
  free: {
    plan: 'free',
    retentionDays: 7,
    maxGroupMembers: 20,
    maxFriendsPerUser: 20,
    maxUsers: 100,
    maxGroups: 20,
    ...COMMON,
  },
  pro: {
    plan: 'pro',
    retentionDays: 30,
    maxGroupMembers: 200,
    maxFriendsPerUser: 3000,
    maxUsers: null,
    maxGroups: null,
    ...COMMON,
  },
  enterprise: {
    plan: 'enterprise',
    retentionDays: 90,
    maxGroupMembers: 2000,
    maxFriendsPerUser: 3000,
    maxUsers: null,
    maxGroups: null,
    ...COMMON,
  },
};

export const DEFAULT_ZIM_PLAN: ZimPlanName = 'pro';
export const ZIM_MAX_RAISED_BYTES = 32 * 1024;
