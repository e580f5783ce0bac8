/** The ZIM Actions a migration calls, in the stage graph that orders them, and their default rate budgets (zim-api.md §1). */

export type StageName =
  'accounts' | 'profiles' | 'friends' | 'blocks' | 'peerMessages' | 'groups' | 'groupMessages' | 'verify';

/** ARCHITECTURE.md's stage graph: accounts first; group history after groups; verification last. */
export const STAGES = [
  { name: 'accounts', after: [], actions: ['UserRegister'] },
  { name: 'profiles', after: ['accounts'], actions: ['ModifyUserInfo'] },
  { name: 'friends', after: ['accounts'], actions: ['AddFriends'] },
  { name: 'blocks', after: ['accounts'], actions: ['AddUsersToBlacklist'] },
  { name: 'peerMessages', after: ['accounts'], actions: ['ImportPeerMsg'] },
  {
    name: 'groups',
    after: ['accounts'],
    actions: ['CreateGroup', 'InviteUsersIntoGroup', 'SetGroupMemberRole', 'SetGroupMembersNickname'],
  },
  { name: 'groupMessages', after: ['groups'], actions: ['ImportGroupMsg'] },
  {
    name: 'verify',
    after: ['profiles', 'friends', 'blocks', 'peerMessages', 'groupMessages'],
    actions: [
      'QueryUserInfos',
      'QueryFriendList',
      'QueryBlacklist',
      'QueryPeerMsg',
      'QueryGroupMemberList',
      'QueryGroupMsg',
    ],
  },
] as const satisfies readonly { name: StageName; after: readonly StageName[]; actions: readonly string[] }[];

export type ZimAction = (typeof STAGES)[number]['actions'][number];
export const ZIM_ACTIONS: readonly ZimAction[] = STAGES.flatMap((s) => s.actions);

/** Actions whose limit is per group (1/s each), not per app. */
export const PER_GROUP_ACTIONS: ReadonlySet<ZimAction> = new Set(['InviteUsersIntoGroup', 'SetGroupMembersNickname']);

export const DEFAULT_RATE_PER_SECOND = 20;
export const DEFAULT_RATES: Record<ZimAction, number> = Object.fromEntries(
  ZIM_ACTIONS.map((a) => [a, PER_GROUP_ACTIONS.has(a) ? 1 : DEFAULT_RATE_PER_SECOND])
) as Record<ZimAction, number>;
