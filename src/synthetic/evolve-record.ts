/**
 * What `gen --evolve` changed, record by record (issue #13), kept when asked: the catch-up benchmark and its test
 * derive the ZIM calls a round needs from it, independently of the round's difference, so the two can disagree.
 * Consequences the legacy app implies are recorded where evolve makes them: a closed account's relations and
 * memberships end with it (a closed account owns none), and an owner handing a group over while closed (or
 * without a membership record) leaves it.
 */

/** A directed relation: [user, friend] or [user, blocked]. */
export type Pair = readonly [user: string, other: string];

export interface MemberRef {
  group: string;
  user: string;
}

export interface EvolveRecord {
  usersAdded: string[];
  /** Nickname or avatar differs from the earlier export's. */
  profilesChanged: string[];
  usersClosed: string[];
  friendsAdded: Pair[];
  /** By tombstone, or with an account closed. */
  friendsRemoved: Pair[];
  blocksAdded: Pair[];
  blocksRemoved: Pair[];
  /** Members counted with the owner; admins and members with a nickname among them. */
  groupsCreated: { id: string; members: number; admins: number; nicknames: number }[];
  groupsDismissed: string[];
  /** Name, avatar or notice differs. */
  groupsDataChanged: string[];
  groupsAttributesChanged: string[];
  ownersTransferred: string[];
  membersJoined: (MemberRef & { admin: boolean; nickname: boolean })[];
  membersLeft: (MemberRef & { why: 'tombstone' | 'closed' | 'owner-handed-over' })[];
  /** admin ↔ member (an owner's change of role is its transfer). */
  rolesChanged: MemberRef[];
  nicknamesChanged: MemberRef[];
  /** New one-to-one messages in order after their conversation's newest; `deletedBy` as exported. */
  peerMessagesAdded: { from: string; to: string; deletedBy: string[] }[];
  groupMessagesAdded: { group: string }[];
  /** Messages older than their conversation's newest (conflicts, never imported). */
  lateMessages: number;
}

export const emptyEvolveRecord = (): EvolveRecord => ({
  usersAdded: [],
  profilesChanged: [],
  usersClosed: [],
  friendsAdded: [],
  friendsRemoved: [],
  blocksAdded: [],
  blocksRemoved: [],
  groupsCreated: [],
  groupsDismissed: [],
  groupsDataChanged: [],
  groupsAttributesChanged: [],
  ownersTransferred: [],
  membersJoined: [],
  membersLeft: [],
  rolesChanged: [],
  nicknamesChanged: [],
  peerMessagesAdded: [],
  groupMessagesAdded: [],
  lateMessages: 0,
});
