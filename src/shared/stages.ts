/**
 * The migration's stage graph (ZIM's documented order, zim-api.md §8). Shared by workflows, the plan and the CLI;
 * free of Node APIs because workflow code imports it.
 */
export const STAGES = [
  'accounts',
  'profiles',
  'friends',
  'blocks',
  'peer-messages',
  'groups',
  'group-messages',
  'read-state',
  'verify',
] as const;
export type Stage = (typeof STAGES)[number];

/** What must have finished before a stage may start. Verify waits for everything else. */
export const STAGE_DEPENDENCIES: Readonly<Record<Stage, readonly Stage[]>> = {
  accounts: [],
  profiles: ['accounts'],
  friends: ['accounts'],
  blocks: ['accounts'],
  'peer-messages': ['accounts'],
  groups: ['accounts'],
  'group-messages': ['groups'],
  // A conversation is marked read once its history is in.
  'read-state': ['peer-messages', 'group-messages'],
  verify: ['accounts', 'profiles', 'friends', 'blocks', 'peer-messages', 'groups', 'group-messages', 'read-state'],
};

/**
 * The ZIM Actions each stage calls as its work: the plan counts each stage's calls per Action and times a stage by
 * its slowest Action. The first is the stage's main budget (shown in progress). One read serves two stages: the
 * groups stage reads each group's member list once after its invites (the member check), and verify reads it
 * again; the plan counts each stage's pages. Reads made only to reconcile after an ambiguous failure (QueryPeerMsg
 * while importing, a pending admin role) are not planned: they are rare, and belong to verify.
 */
export const STAGE_ACTIONS = {
  accounts: ['UserRegister'],
  profiles: ['ModifyUserInfo'],
  friends: ['AddFriends'],
  blocks: ['AddUsersToBlacklist'],
  'peer-messages': ['ImportPeerMsg'],
  groups: [
    'CreateGroup',
    'InviteUsersIntoGroup',
    'KickoutGroupUser',
    'SetGroupMemberRole',
    'SetGroupMembersNickname',
    'QueryGroupMemberList',
  ],
  // MuteGroup: once per muted group (a frozen source channel), after its history.
  'group-messages': ['ImportGroupMsg', 'MuteGroup'],
  // Once per read state at its conversation's newest message (zim-api.md §6.17; ZIM offers no read-back).
  'read-state': ['ClearConversationUnread'],
  verify: [
    'QueryPeerMsg',
    'QueryGroupMsg',
    'QueryGroupMemberList',
    'QueryUserInfos',
    'QueryFriendList',
    'QueryBlacklist',
    'QueryGroupInfo',
  ],
} as const satisfies Record<Stage, readonly [string, ...string[]]>;

/** Every ZIM Action a migration calls, i.e. every budget an operator may change. */
export type MigrationAction = (typeof STAGE_ACTIONS)[Stage][number];
export const MIGRATION_ACTIONS: readonly MigrationAction[] = [...new Set(STAGES.flatMap((s) => STAGE_ACTIONS[s]))];

/** The ZIM Action whose budget a stage mainly spends. */
export const STAGE_ACTION: Readonly<Record<Stage, MigrationAction>> = Object.fromEntries(
  STAGES.map((s) => [s, STAGE_ACTIONS[s][0]])
) as Record<Stage, MigrationAction>;

/**
 * How a stage is driven: `pages` stages run one activity per page of records (one batch call each);
 * `fanout` stages start one durable child workflow per owner or group.
 */
export const STAGE_KIND: Readonly<Record<Stage, 'pages' | 'fanout'>> = {
  accounts: 'pages',
  profiles: 'pages',
  friends: 'pages',
  blocks: 'pages',
  'peer-messages': 'fanout',
  groups: 'fanout',
  'group-messages': 'fanout',
  'read-state': 'pages',
  verify: 'pages',
};

export function isStage(value: string): value is Stage {
  return (STAGES as readonly string[]).includes(value);
}

/**
 * Stages that may start now: selected, not started, and every selected dependency done. In sequential mode at most
 * one stage runs at a time, in the order of STAGES.
 */
export function readyStages(
  selected: readonly Stage[],
  status: Readonly<Partial<Record<Stage, 'running' | 'done'>>>,
  sequential: boolean
): Stage[] {
  if (sequential && selected.some((s) => status[s] === 'running')) return [];
  const ready = selected.filter(
    (s) => status[s] === undefined && STAGE_DEPENDENCIES[s].every((d) => !selected.includes(d) || status[d] === 'done')
  );
  return sequential ? ready.slice(0, 1) : ready;
}
