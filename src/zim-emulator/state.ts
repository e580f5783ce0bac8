/**
 * Everything the emulated ZIM app stores, in memory. User ids are interned to small numbers, which the relation
 * maps and the message columns use instead of strings. Handlers enforce the rules; this class only keeps data
 * consistent (mutual indexes such as user → groups).
 */
import { MessageStore, newConversationLog, type ConversationLog, type NewMessage } from './message-store';

export interface UserRecord {
  name: string;
  avatar: string;
  extra: string;
  registeredAt: number;
}

export interface FriendEdge {
  alias: string;
  wording: string;
  attributes: Array<{ Key: string; Value: string }>;
  createTime: number;
}

export interface GroupMember {
  role: number;
  joinTime: number;
  /** The member's nickname in this group (SetGroupMembersNickname); '' when none. */
  nickname: string;
}

export interface GroupRecord {
  id: string;
  name: string;
  notice: string;
  avatar: string;
  attributes: Array<{ Key: string; Value: string }>;
  createTime: number;
  /** Interned user → membership, in join order (the first member inherits ownership). */
  members: Map<number, GroupMember>;
  history: ConversationLog;
  /** MsgSeq up to which each member cleared the unread count. */
  readSeq: Map<number, number>;
  /** Set by MuteGroup: every member, or these roles, until expireTime (ms; -1 no end). Absent: not muted. */
  mute?: GroupMute;
  /** UpdateGroupData calls that changed the group (QueryGroupInfo's GroupDataSeq); absent: none. */
  dataSeq?: number;
}

export interface GroupMute {
  all: boolean;
  roles: number[];
  expireTime: number;
}

/** One owner's copy of a one-to-one conversation (ImportPeerMsg's ImportedUserId). */
export interface PeerLog extends ConversationLog {
  readSeq: number;
}

/** How many same-time messages of the other owner's copy are compared, to share a body string. */
const SHARED_BODY_LOOKAHEAD = 8;

export class EmulatorState {
  readonly messages = new MessageStore();
  readonly #userNumbers = new Map<string, number>();
  readonly #userIds: string[] = [];
  readonly #users: UserRecord[] = [];
  readonly #friends = new Map<number, Map<number, FriendEdge>>();
  readonly #blocks = new Map<number, Map<number, number>>();
  readonly #groups = new Map<string, GroupRecord>();
  readonly #groupsOfUser = new Map<number, Set<string>>();
  /** Groups a user was removed from (kicked or quit) that still exist: ZIM still lists their conversations. */
  readonly #groupsLeftBy = new Map<number, Set<string>>();
  readonly #peerLogs = new Map<number, Map<number, PeerLog>>();
  #peerMessages = 0;
  #groupMessages = 0;
  #generatedGroups = 0;

  // Users

  /** The interned number of a registered user, or undefined. */
  userNumber(userId: string): number | undefined {
    return this.#userNumbers.get(userId);
  }
  userId(n: number): string {
    return this.#userIds[n]!;
  }
  user(n: number): UserRecord {
    return this.#users[n]!;
  }
  get userCount(): number {
    return this.#userIds.length;
  }

  registerUser(userId: string, profile: { name?: string | undefined; avatar?: string | undefined }, now: number) {
    const n = this.#userIds.length;
    this.#userNumbers.set(userId, n);
    this.#userIds.push(userId);
    this.#users.push({ name: profile.name ?? '', avatar: profile.avatar ?? '', extra: '', registeredAt: now });
    return n;
  }

  // Friends and blocks (each user's list keeps insertion order, which is the listing order)

  friendsOf(n: number): Map<number, FriendEdge> {
    return this.#friends.get(n) ?? new Map<number, FriendEdge>();
  }
  addFriend(owner: number, friend: number, edge: FriendEdge): void {
    getOrCreate(this.#friends, owner, () => new Map<number, FriendEdge>()).set(friend, edge);
  }
  /** Removes one entry of one user's friend list (the other side's list is left as it is). */
  removeFriend(owner: number, friend: number): boolean {
    return this.#friends.get(owner)?.delete(friend) ?? false;
  }
  blocksOf(n: number): Map<number, number> {
    return this.#blocks.get(n) ?? new Map<number, number>();
  }
  addBlock(owner: number, blocked: number, time: number): void {
    getOrCreate(this.#blocks, owner, () => new Map<number, number>()).set(blocked, time);
  }
  removeBlock(owner: number, blocked: number): boolean {
    return this.#blocks.get(owner)?.delete(blocked) ?? false;
  }

  // Groups

  group(groupId: string): GroupRecord | undefined {
    return this.#groups.get(groupId);
  }
  groups(): IterableIterator<GroupRecord> {
    return this.#groups.values();
  }
  get groupCount(): number {
    return this.#groups.size;
  }
  groupsOf(n: number): ReadonlySet<string> {
    return this.#groupsOfUser.get(n) ?? new Set<string>();
  }
  /** The existing groups the user was in and was removed from. */
  groupsLeftBy(n: number): ReadonlySet<string> {
    return this.#groupsLeftBy.get(n) ?? new Set<string>();
  }

  /** A fresh server-generated group id: '#' and a number, never a client-chosen id (those may not start with '#'). */
  generateGroupId(): string {
    this.#generatedGroups += 1;
    return `#${this.#generatedGroups.toString(36).padStart(8, '0')}`;
  }

  createGroup(fields: Omit<GroupRecord, 'members' | 'history' | 'readSeq'>): GroupRecord {
    const group: GroupRecord = { ...fields, members: new Map(), history: newConversationLog(), readSeq: new Map() };
    this.#groups.set(group.id, group);
    return group;
  }
  addMember(group: GroupRecord, n: number, member: GroupMember): void {
    group.members.set(n, member);
    getOrCreate(this.#groupsOfUser, n, () => new Set<string>()).add(group.id);
    this.#groupsLeftBy.get(n)?.delete(group.id);
  }
  /** Forgets a dismissed group (its history goes with it). */
  deleteGroup(group: GroupRecord): void {
    for (const n of group.members.keys()) this.#groupsOfUser.get(n)?.delete(group.id);
    for (const left of this.#groupsLeftBy.values()) left.delete(group.id);
    this.#groups.delete(group.id);
  }
  removeMember(group: GroupRecord, n: number): void {
    group.members.delete(n);
    this.#groupsOfUser.get(n)?.delete(group.id);
    getOrCreate(this.#groupsLeftBy, n, () => new Set<string>()).add(group.id);
  }

  // Messages

  peerLog(owner: number, peer: number): PeerLog | undefined {
    return this.#peerLogs.get(owner)?.get(peer);
  }
  peerLogsOf(owner: number): Map<number, PeerLog> {
    return this.#peerLogs.get(owner) ?? new Map<number, PeerLog>();
  }
  get peerConversationCount(): number {
    let n = 0;
    for (const logs of this.#peerLogs.values()) n += logs.size;
    return n;
  }
  get messageCounts(): { peer: number; group: number } {
    return { peer: this.#peerMessages, group: this.#groupMessages };
  }

  appendPeerMessage(owner: number, peer: number, message: NewMessage) {
    const logs = getOrCreate(this.#peerLogs, owner, () => new Map<number, PeerLog>());
    const log = getOrCreate(logs, peer, () => ({ ...newConversationLog(), readSeq: 0 }));
    this.#peerMessages += 1;
    return this.messages.append(log, { ...message, body: this.#sharedBody(peer, owner, message) });
  }

  appendGroupMessage(group: GroupRecord, message: NewMessage) {
    this.#groupMessages += 1;
    return this.messages.append(group.history, message);
  }

  /**
   * A one-to-one message is imported twice, once per owner. When the other owner's copy already holds the same
   * message (same sender, time and text), reuse that string so the body is stored once.
   */
  #sharedBody(otherOwner: number, otherPeer: number, message: NewMessage): string {
    const log = this.peerLog(otherOwner, otherPeer);
    if (!log) return message.body;
    const store = this.messages;
    const start = store.firstAtOrAfter(log, message.time);
    const end = Math.min(log.entries.length, start + SHARED_BODY_LOOKAHEAD);
    for (let p = start; p < end; p++) {
      const i = log.entries[p]!;
      if (store.time(i) !== message.time) break;
      if (store.sender(i) === message.sender && store.body(i) === message.body) return store.body(i);
    }
    return message.body;
  }
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}
