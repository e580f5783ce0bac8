/**
 * Read access to everything the emulator stores, for tests, benchmarks and reports: in-process through
 * `emulator.inspect`, and over HTTP under /_emulator/ (docs/zim-emulator.md lists the routes). Lists are paged
 * with offset/limit so a state of millions of messages need not be dumped at once.
 */
import { z } from 'zod';
import type { EmulatorCore } from './core';
import { describeIssues } from './config';
import type { ConversationLog } from './message-store';
import { Refusal } from './rules';
import type { GroupRecord } from './state';

export interface MessageView {
  seq: number;
  /** Exact decimal MsgId (a 64-bit value beyond 2^53). */
  msgId: string;
  sender: string;
  msgType: number;
  subMsgType: number;
  priority: number;
  /** MsgTime = the imported SendMessageTime (or the server time when it was 0). */
  time: number;
  /** MessageBody.Message exactly as imported. */
  body: string;
  extendedData?: string;
  searchedContent?: string;
}

export interface UserView {
  userId: string;
  userName: string;
  userAvatar: string;
  extra: string;
  registeredAt: number;
}

export interface Paging {
  offset?: number;
  limit?: number;
}

const DEFAULT_PAGE = 10_000;

function slice<T>(items: T[], paging: Paging): T[] {
  const offset = paging.offset ?? 0;
  return items.slice(offset, offset + (paging.limit ?? DEFAULT_PAGE));
}

export class Inspector {
  constructor(private readonly core: EmulatorCore) {}

  /** Counts only: cheap at any size. */
  summary() {
    const s = this.core.state;
    let friendships = 0;
    let blocks = 0;
    let members = 0;
    for (let n = 0; n < s.userCount; n++) {
      friendships += s.friendsOf(n).size;
      blocks += s.blocksOf(n).size;
    }
    for (const g of s.groups()) members += g.members.size;
    const messages = s.messageCounts;
    return {
      users: s.userCount,
      /** Entries in friend lists (a mutual friendship counts twice). */
      friendListEntries: friendships,
      blocks,
      groups: s.groupCount,
      groupMembers: members,
      peerConversations: s.peerConversationCount,
      messages: { ...messages, total: messages.peer + messages.group },
    };
  }

  /**
   * How far each conversation copy has come: its lastSeq (one per message it took), keyed `peer:<owner>><peer>` or
   * `group:<id>`. Cheap enough to poll once a second in a chaos run (one pass over the conversations, no bodies).
   */
  progressMarks(): Map<string, number> {
    const s = this.core.state;
    const marks = new Map<string, number>();
    for (let n = 0; n < s.userCount; n++)
      for (const [peer, log] of s.peerLogsOf(n)) marks.set(`peer:${s.userId(n)}>${s.userId(peer)}`, log.lastSeq);
    for (const g of s.groups()) marks.set(`group:${g.id}`, g.history.lastSeq);
    return marks;
  }

  users(paging: Paging = {}): UserView[] {
    const s = this.core.state;
    const out: UserView[] = [];
    const end = Math.min(s.userCount, (paging.offset ?? 0) + (paging.limit ?? DEFAULT_PAGE));
    for (let n = paging.offset ?? 0; n < end; n++) out.push(this.#userView(n));
    return out;
  }

  /** A user's profile, friend list, blocklist, groups and one-to-one copies; undefined if not registered. */
  user(userId: string) {
    const s = this.core.state;
    const n = s.userNumber(userId);
    if (n === undefined) return undefined;
    return {
      ...this.#userView(n),
      friends: [...s.friendsOf(n)].map(([f, e]) => ({
        userId: s.userId(f),
        friendAlias: e.alias,
        wording: e.wording,
        attributes: e.attributes,
        createTime: e.createTime,
      })),
      blocked: [...s.blocksOf(n)].map(([b, time]) => ({ userId: s.userId(b), updateTime: time })),
      groups: [...s.groupsOf(n)],
      conversations: this.conversations(userId) ?? [],
    };
  }

  groupIds(paging: Paging = {}): string[] {
    return slice(
      [...this.core.state.groups()].map((g) => g.id),
      paging
    );
  }

  group(groupId: string) {
    const s = this.core.state;
    const g = s.group(groupId);
    if (!g) return undefined;
    return {
      groupId: g.id,
      groupName: g.name,
      groupNotice: g.notice,
      groupAvatar: g.avatar,
      attributes: g.attributes,
      dataSeq: g.dataSeq ?? 0,
      createTime: g.createTime,
      members: [...g.members].map(([n, m]) => ({
        userId: s.userId(n),
        role: m.role,
        joinTime: m.joinTime,
        nickname: m.nickname,
      })),
      messageCount: g.history.entries.length,
      lastSeq: g.history.lastSeq,
      ...(g.mute && { mute: { ...g.mute } }),
    };
  }

  /** A group's shared history, oldest first. */
  groupMessages(groupId: string, paging: Paging = {}): MessageView[] | undefined {
    const g = this.core.state.group(groupId);
    return g && this.#messages(g.history, paging);
  }

  /** The one-to-one conversations `owner` holds a copy of. */
  conversations(owner: string) {
    const s = this.core.state;
    const n = s.userNumber(owner);
    if (n === undefined) return undefined;
    return [...s.peerLogsOf(n)].map(([peer, log]) => ({
      peer: s.userId(peer),
      messageCount: log.entries.length,
      lastSeq: log.lastSeq,
      unread: this.#unread(log, n, log.readSeq),
    }));
  }

  /** `owner`'s own copy of the conversation with `peer`, oldest first. */
  conversation(owner: string, peer: string, paging: Paging = {}): MessageView[] | undefined {
    const s = this.core.state;
    const o = s.userNumber(owner);
    const p = s.userNumber(peer);
    const log = o === undefined || p === undefined ? undefined : s.peerLog(o, p);
    return log && this.#messages(log, paging);
  }

  /** Unread count of a member in a group (sends raise it; imports only with behaviour.importRaisesUnread). */
  groupUnread(groupId: string, userId: string): number | undefined {
    const s = this.core.state;
    const g: GroupRecord | undefined = s.group(groupId);
    const n = s.userNumber(userId);
    if (!g || n === undefined || !g.members.has(n)) return undefined;
    return this.#unread(g.history, n, g.readSeq.get(n) ?? 0);
  }

  /**
   * Deletes one entry of a user's friend list or blocklist behind the API's back, as drift between a migration and
   * a later check would (tests of verify). False when there was no such entry.
   */
  dropRelation(kind: 'friends' | 'blocked', owner: string, target: string): boolean {
    const s = this.core.state;
    const o = s.userNumber(owner);
    const t = s.userNumber(target);
    if (o === undefined || t === undefined) return false;
    return kind === 'friends' ? s.removeFriend(o, t) : s.removeBlock(o, t);
  }

  /** Everything at once. Only for small states. */
  dump() {
    const s = this.core.state;
    const users = this.users({ limit: s.userCount });
    return {
      summary: this.summary(),
      users: users.map((u) => {
        const full = this.user(u.userId)!;
        return {
          ...full,
          conversations: full.conversations.map((c) => ({
            ...c,
            messages: this.conversation(u.userId, c.peer, { limit: Infinity }),
          })),
        };
      }),
      groups: [...s.groups()].map((g) => ({
        ...this.group(g.id),
        messages: this.groupMessages(g.id, { limit: Infinity }),
      })),
    };
  }

  #userView(n: number): UserView {
    const s = this.core.state;
    const u = s.user(n);
    return {
      userId: s.userId(n),
      userName: u.name,
      userAvatar: u.avatar,
      extra: u.extra,
      registeredAt: u.registeredAt,
    };
  }

  #messages(log: ConversationLog, paging: Paging): MessageView[] {
    const s = this.core.state;
    return slice(log.entries, paging).map((i) => {
      const m = s.messages.get(i);
      return {
        seq: m.seq,
        msgId: s.messages.msgId(i).toString(),
        sender: s.userId(m.sender),
        msgType: m.msgType,
        subMsgType: m.subMsgType,
        priority: m.priority,
        time: m.time,
        body: m.body,
        ...(m.extendedData ? { extendedData: m.extendedData } : {}),
        ...(m.searchedContent ? { searchedContent: m.searchedContent } : {}),
      };
    });
  }

  #unread(log: ConversationLog, reader: number, readSeq: number): number {
    const imports = this.core.config.behaviour.importRaisesUnread;
    const store = this.core.state.messages;
    return log.entries.filter(
      (i) => store.seq(i) > readSeq && store.sender(i) !== reader && (imports || store.raisesUnread(i))
    ).length;
  }
}

export interface IntrospectionResponse {
  status: number;
  body: unknown;
}

const PagingSchema = z.object({
  offset: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().positive().optional(),
});
const DeliveryFilterSchema = z.object({
  outcome: z.enum(['pending', 'delivered', 'dropped', 'lost']).optional(),
  event: z.string().optional(),
});
const ResetSchema = z.object({ state: z.boolean().optional(), counters: z.boolean().optional() });

export const INTROSPECTION_PREFIX = '/_emulator/';

function processMemory() {
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    arrayBufferBytes: m.arrayBuffers,
    cpuMicros: cpu.user + cpu.system,
  };
}

/** Routes one request under /_emulator/. `segments` are the URL-decoded path parts after the prefix. */
export function routeIntrospection(
  core: EmulatorCore,
  inspector: Inspector,
  method: string,
  segments: string[],
  query: Record<string, string | undefined>,
  body: unknown
): IntrospectionResponse {
  const found = (value: unknown, what: string): IntrospectionResponse =>
    value === undefined ? { status: 404, body: { error: `${what} not found` } } : { status: 200, body: value };
  const paging = PagingSchema.safeParse(query);
  if (!paging.success) return { status: 400, body: { error: describeIssues(paging.error) } };
  const page = paging.data;
  const [head, a, b, c] = segments;
  const route = `${method} ${head ?? ''}${segments.length > 1 ? `/${segments.length - 1}` : ''}`;

  try {
    switch (route) {
      case 'GET health':
        return { status: 200, body: { ok: true, appId: core.appId, ...processMemory() } };
      case 'GET config':
        return { status: 200, body: core.publicConfig() };
      // configure() and faults.set() validate with zod: a bad body becomes a 400 below.
      case 'POST limits':
        return { status: 200, body: core.configure(body ?? {}) };
      case 'GET faults':
        return { status: 200, body: core.faults.config };
      case 'POST faults':
        return { status: 200, body: core.faults.set(body ?? {}) };
      case 'POST reset': {
        const what = ResetSchema.parse(body ?? {});
        core.reset(what);
        return { status: 200, body: { ok: true } };
      }
      case 'GET counters':
        return { status: 200, body: core.counters.snapshot() };
      case 'GET state':
        return { status: 200, body: query.full === '1' ? inspector.dump() : inspector.summary() };
      case 'GET users':
        return { status: 200, body: inspector.users(page) };
      case 'GET users/1':
        return found(inspector.user(a!), `user ${a}`);
      case 'GET groups':
        return { status: 200, body: inspector.groupIds(page) };
      case 'GET groups/1':
        return found(inspector.group(a!), `group ${a}`);
      case 'GET groups/2':
        if (b !== 'messages') break;
        return found(inspector.groupMessages(a!, page), `group ${a}`);
      case 'GET conversations/1':
        return found(inspector.conversations(a!), `user ${a}`);
      case 'DELETE users/3':
        if (b !== 'friends' && b !== 'blocked') break;
        return inspector.dropRelation(b, a!, c!)
          ? { status: 200, body: { ok: true } }
          : { status: 404, body: { error: `${a} has no ${b} entry ${c}` } };
      case 'GET callbacks':
        return {
          status: 200,
          body: {
            config: core.callbacks.publicConfig(),
            counters: core.counters.snapshot().callbacks,
            pending: core.callbacks.pending,
            deliveries: core.callbacks.log(DeliveryFilterSchema.parse(query)),
          },
        };
      case 'POST callbacks':
        return { status: 200, body: core.callbacks.configure(body ?? {}) };
      case 'POST sdk/1': {
        const sdk = core.sdk;
        const ops: Record<string, (input: unknown) => unknown> = {
          send: (i) => sdk.send(i),
          edit: (i) => sdk.edit(i),
          'create-group': (i) => sdk.createGroup(i),
          'join-group': (i) => sdk.joinGroup(i),
          'quit-group': (i) => sdk.quitGroup(i),
          'dismiss-group': (i) => sdk.dismissGroup(i),
        };
        const op = Object.hasOwn(ops, a!) ? ops[a!] : undefined;
        if (!op) break;
        return { status: 200, body: op(body ?? {}) };
      }
      case 'GET conversations/2':
        return found(inspector.conversation(a!, b!, page), `conversation ${a} → ${b}`);
    }
  } catch (err) {
    if (err instanceof z.ZodError) return { status: 400, body: { error: describeIssues(err) } };
    // What ZIM would refuse an SDK user, with its code.
    if (err instanceof Refusal) return { status: 422, body: { code: err.code, error: err.zimMessage } };
    if (err instanceof TypeError) return { status: 400, body: { error: err.message } };
    throw err;
  }
  return { status: 404, body: { error: `no route ${method} ${INTROSPECTION_PREFIX}${segments.join('/')}` } };
}
