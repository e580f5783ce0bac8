/**
 * ZIM's limits that decide whether a record can be imported (../shared/zim-api.md §5, §5b, §7).
 * Fixed rules are constants; the ones a ZIM plan (or ZEGO support) changes live in `ZimLimits`.
 */

/** UserId / GroupId: ≤ 32 bytes of digits, letters and these symbols (space included, §5). */
export const ZIM_ID_PATTERN = /^[0-9A-Za-z!#$%&()+\-:;<=.>?@[\]^_{}|~ ]+$/;
export const ZIM_ID_MAX_BYTES = 32;

export const ZIM_FIXED = {
  userNameBytes: 256,
  avatarUrlBytes: 500,
  groupNameChars: 50,
  groupNoticeBytes: 300,
  groupAvatarBytes: 500,
  groupAttributes: 10,
  groupAttributeKeyBytes: 16,
  groupAttributeValueBytes: 1024,
  friendAliasChars: 256,
  friendWordingChars: 256,
  friendAttributeKeys: ['k0', 'k1', 'k2', 'k3', 'k4'] as readonly string[],
  friendAttributesTotalBytes: 1024,
  memberNicknameBytes: 256,
  messageExtendedDataBytes: 1024,
  searchedContentBytes: 64,
  subMsgTypeMax: 200,
  mediaUrlBytes: 500,
  mediaFileNameBytes: 150,
  createGroupInitialMembers: 100,
  inviteBatch: 100,
  registerBatch: 100,
  modifyUserBatch: 100,
  friendBatch: 20,
  blockBatch: 20,
  memberNicknameBatch: 20,
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
