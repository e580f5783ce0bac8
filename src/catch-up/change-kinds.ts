/**
 * The kinds of change a catch-up round carries from one export of an app to a later one (issue #13), shared by the
 * rehearsal data generator (`gen --evolve`) and the round's difference, so a test can hold one against the other.
 */
export const CHANGE_KINDS = [
  'users.added',
  'users.profile',
  'users.deactivated',
  'friends.added',
  'friends.removed',
  'blocks.added',
  'blocks.removed',
  'groups.created',
  'groups.dismissed',
  'groups.changed',
  'groups.owner',
  'members.joined',
  'members.left',
  'members.role',
  'members.nickname',
  'peer_messages.added',
  'group_messages.added',
  /** New messages older than their conversation's newest: ZIM cannot put them in order (conflicts). */
  'messages.late',
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export const noChanges = (): Record<ChangeKind, number> =>
  Object.fromEntries(CHANGE_KINDS.map((k) => [k, 0])) as Record<ChangeKind, number>;
