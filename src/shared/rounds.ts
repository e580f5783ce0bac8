/**
 * A catch-up round's steps (issue #13), in the order the round workflow runs them. Shared by the workflow, the
 * staging engines and the CLI; free of Node APIs because workflow code imports it.
 *
 * Ops are batches of staged changes, one ZIM call per page. The order keeps every call valid: accounts exist before
 * anything names them; relations are removed before they are added (a friendship ended and begun again in one round
 * is two calls in that order); a group's joiners are invited by the owner ZIM still knows, then ownership moves,
 * then the new owner kicks, sets roles and nicknames; dismissed groups go last. New groups are set up, and new
 * messages imported, by the migration's own fan-out stages, restricted to the round's items.
 */
import { itemsPerCall } from '../zim-client/limits';

export const ROUND_OPS = [
  'register',
  'profile',
  'unfriend',
  'unblock',
  'friend',
  'block',
  'group-data',
  'group-attributes',
  'invite',
  'transfer',
  'kick',
  'role',
  'nickname',
  'dismiss',
] as const;
export type RoundOp = (typeof ROUND_OPS)[number];

/** The ZIM Action of each op, and how many items one call takes (per target: a user or a group). */
const op = (action: string) => ({ action, per: itemsPerCall(action) });
export const ROUND_OP_ACTION: Readonly<Record<RoundOp, { action: string; per: number }>> = {
  register: op('UserRegister'),
  profile: op('ModifyUserInfo'),
  unfriend: op('DeleteFriends'),
  unblock: op('RemoveUsersFromBlacklist'),
  friend: op('AddFriends'),
  block: op('AddUsersToBlacklist'),
  'group-data': op('UpdateGroupData'),
  'group-attributes': op('ModifyGroupAttribute'),
  invite: op('InviteUsersIntoGroup'),
  transfer: op('TransferGroupOwner'),
  kick: op('KickoutGroupUser'),
  role: op('SetGroupMemberRole'),
  nickname: op('SetGroupMembersNickname'),
  dismiss: op('DismissGroup'),
};

/** A step of a round: an op, or one of the migration's stages it reuses (restricted to the round's items). */
export type RoundStep = RoundOp | 'groups' | 'peer-messages' | 'group-messages' | 'verify';

/**
 * The round's steps in order, each after the previous one finished; the steps of an inner list run side by side.
 * New groups are set up once their members' accounts and relations are there and before anything edits them; the
 * messages come after every membership change (a joiner's first messages need the joiner in the group); verify last.
 */
export const ROUND_STEPS: readonly (RoundStep | readonly RoundStep[])[] = [
  'register',
  'profile',
  'unfriend',
  'unblock',
  'friend',
  'block',
  'groups',
  'group-data',
  'group-attributes',
  'invite',
  'transfer',
  'kick',
  'role',
  'nickname',
  'dismiss',
  ['peer-messages', 'group-messages'],
  'verify',
];

export type RoundState = 'staged' | 'running' | 'done' | 'cancelled';

/** The ledger stage of round ops; their keys carry the round number (ledger-keys.ts roundOp). */
export const ROUND_LEDGER_STAGE = 'round';

/** A round's workflows: `<migration>-round-<n>` stands where a migration id stands, so every child id is the round's. */
export const roundMigrationId = (migrationId: string, round: number) => `${migrationId}-round-${round}`;
