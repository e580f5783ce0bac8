/**
 * The ZIM calls a catch-up round needs for what `gen --evolve` changed (issue #13), derived from evolve's own
 * record (evolve-record.ts) with ZIM's batch rules (zim-api.md §1, §6.16): the yardstick the catch-up benchmark
 * holds the round's calls against. It shares nothing with the round's difference but the batch sizes, so a kind
 * of change the difference counts wrong shows as a mismatch.
 */
import type { ChangeKind } from '../catch-up/change-kinds';
import { ROUND_ACTIONS, type RoundAction } from '../catch-up/difference';
import type { EvolveRecord } from './evolve-record';

/** CreateGroup takes the owner and up to this many initial members; the rest are invited. */
const CREATE_GROUP_MEMBERS = 100;

const batches = (n: number, per: number) => Math.ceil(n / per);

/** Calls of an Action batched per key (a user's relations, a group's members): ceil(n / per) for each key. */
function perKey(keys: Iterable<string>, per: number): number {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  let calls = 0;
  for (const n of counts.values()) calls += batches(n, per);
  return calls;
}

/** DismissGroup takes a group's members with it: no one leaves a dismissed group by a call of its own. */
function leftKeptGroups(r: EvolveRecord) {
  const dismissed = new Set(r.groupsDismissed);
  return r.membersLeft.filter((m) => !dismissed.has(m.group));
}

/** The changes per kind as ZIM sees them (a closed account's relations and memberships included). */
export function changesInRecord(r: EvolveRecord): Record<ChangeKind, number> {
  return {
    'users.added': r.usersAdded.length,
    'users.profile': r.profilesChanged.length,
    'users.deactivated': r.usersClosed.length,
    'friends.added': r.friendsAdded.length,
    'friends.removed': r.friendsRemoved.length,
    'blocks.added': r.blocksAdded.length,
    'blocks.removed': r.blocksRemoved.length,
    'groups.created': r.groupsCreated.length,
    'groups.dismissed': r.groupsDismissed.length,
    'groups.changed': new Set([...r.groupsDataChanged, ...r.groupsAttributesChanged]).size,
    'groups.owner': r.ownersTransferred.length,
    'members.joined': r.membersJoined.length,
    'members.left': leftKeptGroups(r).length,
    'members.role': r.rolesChanged.length,
    'members.nickname': r.nicknamesChanged.length,
    'peer_messages.added': r.peerMessagesAdded.length,
    'group_messages.added': r.groupMessagesAdded.length,
    'messages.late': r.lateMessages,
  };
}

/**
 * The users a DeleteFriends call is made from: a friendship ended on both sides takes one two-way call (ZIM's
 * DeleteType 0 ends both records), made from the smaller id. One-way and two-way removals of one user would be two
 * calls; evolve's removals do not tell them apart here, so a round that splits them shows as made > needed.
 */
function friendshipsEnded(r: EvolveRecord): string[] {
  const removed = new Set(r.friendsRemoved.map(([user, friend]) => `${user}\u0000${friend}`));
  return r.friendsRemoved
    .filter(([user, friend]) => !(user > friend && removed.has(`${friend}\u0000${user}`)))
    .map(([user]) => user);
}

export function callsNeeded(r: EvolveRecord): Record<RoundAction, number> {
  const per = (a: RoundAction) => ROUND_ACTIONS[a].per;
  const left = leftKeptGroups(r);
  const peerCopies = r.peerMessagesAdded.reduce(
    (n, m) => n + [m.from, m.to].filter((side) => !m.deletedBy.includes(side)).length,
    0
  );
  const joinedPerGroup = r.membersJoined.map((m) => m.group);
  return {
    UserRegister: batches(r.usersAdded.length, per('UserRegister')),
    ModifyUserInfo: batches(r.profilesChanged.length, per('ModifyUserInfo')),
    AddFriends: perKey(
      r.friendsAdded.map(([user]) => user),
      per('AddFriends')
    ),
    DeleteFriends: perKey(friendshipsEnded(r), per('DeleteFriends')),
    AddUsersToBlacklist: perKey(
      r.blocksAdded.map(([user]) => user),
      per('AddUsersToBlacklist')
    ),
    RemoveUsersFromBlacklist: perKey(
      r.blocksRemoved.map(([user]) => user),
      per('RemoveUsersFromBlacklist')
    ),
    CreateGroup: r.groupsCreated.length,
    DismissGroup: r.groupsDismissed.length,
    UpdateGroupData: r.groupsDataChanged.length,
    ModifyGroupAttribute: r.groupsAttributesChanged.length,
    TransferGroupOwner: r.ownersTransferred.length,
    InviteUsersIntoGroup:
      r.groupsCreated.reduce(
        (n, g) => n + batches(Math.max(0, g.members - 1 - CREATE_GROUP_MEMBERS), per('InviteUsersIntoGroup')),
        0
      ) + perKey(joinedPerGroup, per('InviteUsersIntoGroup')),
    KickoutGroupUser: perKey(
      left.map((m) => m.group),
      per('KickoutGroupUser')
    ),
    // Admins are set once they are in: a new group's, a joiner made admin, and each admin ↔ member change.
    SetGroupMemberRole:
      r.rolesChanged.length +
      r.groupsCreated.reduce((n, g) => n + g.admins, 0) +
      r.membersJoined.filter((m) => m.admin).length,
    SetGroupMembersNickname: perKey(
      [
        ...r.nicknamesChanged.map((m) => m.group),
        ...r.membersJoined.filter((m) => m.nickname).map((m) => m.group),
        ...r.groupsCreated.flatMap((g) => Array<string>(g.nicknames).fill(g.id)),
      ],
      per('SetGroupMembersNickname')
    ),
    // Each owner's copy is one import; a side that deleted the message has none.
    ImportPeerMsg: peerCopies,
    ImportGroupMsg: r.groupMessagesAdded.length,
  };
}
