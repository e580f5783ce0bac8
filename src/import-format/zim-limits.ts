/**
 * ZIM's limits that decide whether a record can be imported (../shared/zim-api.md §5, §5b, §7).
 * Fixed rules are constants; the ones a ZIM plan (or ZEGO support) changes live in `ZimLimits`.
 */
import { ZIM_FIELD_LIMITS, ZIM_PLAN_NAMES, ZIM_PLAN_QUOTAS, ZIM_PLANS, type ZimPlan } from '../zim-client/limits';

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
} as const;

/** ZIM MessageType numbers that the import APIs accept (§7.1). */
export const ZIM_MESSAGE_TYPE = { text: 1, image: 11, file: 12, audio: 13, video: 14, custom: 200 } as const;
export type MessageTypeName = keyof typeof ZIM_MESSAGE_TYPE;

export interface ZimLimits {
  /** Which preset these came from (informational). */
  plan: ZimPlan;
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

/** Each ZIM plan's limits as validation reads them (src/zim-client/limits.ts defines them). */
export const ZIM_PLAN_LIMITS = Object.fromEntries(
  ZIM_PLAN_NAMES.map((plan): [ZimPlan, ZimLimits] => {
    const p = ZIM_PLANS[plan];
    return [
      plan,
      {
        plan,
        retentionDays: p.retentionDays,
        maxGroupMembers: p.maxGroupMembers,
        maxFriendsPerUser: p.maxFriendsPerUser,
        ...ZIM_PLAN_QUOTAS[plan],
        maxBlocksPerUser: p.maxBlocksPerUser,
        messageBytes: p.maxMessageBytes,
        userExtraBytes: p.maxExtraBytes,
      },
    ];
  })
) as Record<ZimPlan, ZimLimits>;

export const ZIM_MAX_RAISED_BYTES = 32 * 1024;
