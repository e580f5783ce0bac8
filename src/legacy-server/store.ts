/**
 * The reference legacy chat server's state: users, one-to-one and group conversations with per-conversation
 * sequences, groups with members. Every change is reported to `onEvent` as the contract's routing event, whoever
 * made it (an App 1.0 user or zim-migrate through the write API): that is what makes echoes possible.
 */
import {
  conversationKey,
  type LegacyConversation,
  type LegacyMessage,
  type LegacyRoutingEvent,
} from '../coexist/legacy-contract';

export class LegacyRefusal extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

export interface LegacyGroup {
  id: string;
  name: string;
  notice?: string;
  avatar?: string;
  owner: string;
  members: Set<string>;
  createdAt: number;
}

export interface EchoFields {
  /** Which echo identification the server returns in routing events (and declares in its capabilities). */
  originTag: boolean;
  clientMsgId: boolean;
}

type EventBody = LegacyRoutingEvent extends infer E
  ? E extends unknown
    ? Omit<E, 'eventId' | 'occurredAt'>
    : never
  : never;

export class LegacyStore {
  readonly users = new Set<string>();
  readonly groups = new Map<string, LegacyGroup>();
  readonly conversations = new Map<string, { conversation: LegacyConversation; messages: LegacyMessage[] }>();
  #events = 0;
  #messages = 0;
  /**
   * Writes by their clientMsgId: a write repeating one returns the stored message and writes nothing (the contract
   * recommends it, docs/coexistence.md §1.2): a retry that resends a write still in flight cannot double it.
   */
  readonly #byClientMsgId = new Map<string, LegacyMessage>();

  constructor(
    private readonly echo: EchoFields,
    private readonly onEvent: (e: LegacyRoutingEvent) => void,
    private readonly now: () => number = Date.now
  ) {}

  addUsers(ids: string[]): void {
    for (const id of ids) this.users.add(id);
  }

  /**
   * History from before capture (the rehearsal's sample export, src/testing/seed-legacy.ts): a group as the legacy
   * system already held it, routing nothing (no one acts now).
   */
  seedGroup(g: Omit<LegacyGroup, 'members'> & { members: string[] }): void {
    this.groups.set(g.id, { ...g, members: new Set([g.owner, ...g.members]) });
  }

  /**
   * History from before capture: a message under its own id and time, routing nothing. Seed a conversation oldest
   * first and before any send: its seq follows the calls. Returns its conversation's key.
   */
  seedMessage(m: { id: string; from: string; to?: string; groupId?: string; body: string; sentAt: number }): string {
    const conversation: LegacyConversation =
      m.to !== undefined ? { kind: 'peer', users: [m.from, m.to] } : { kind: 'group', groupId: m.groupId! };
    const key = conversationKey(conversation);
    let conv = this.conversations.get(key);
    if (!conv) this.conversations.set(key, (conv = { conversation, messages: [] }));
    const { groupId: _g, ...message } = m;
    conv.messages.push({ ...message, seq: conv.messages.length + 1 });
    return key;
  }

  #requireUser(id: string, role: string): void {
    if (!this.users.has(id)) throw new LegacyRefusal(404, `${role} ${id} is not a user`);
  }

  #requireGroup(id: string): LegacyGroup {
    const g = this.groups.get(id);
    if (!g) throw new LegacyRefusal(404, `no group ${id}`);
    return g;
  }

  #emit(body: EventBody): void {
    this.onEvent({ ...body, eventId: `lg-${++this.#events}`, occurredAt: this.now() });
  }

  send(req: {
    from: string;
    to?: string | undefined;
    groupId?: string | undefined;
    body: string;
    originTag?: string | undefined;
    clientMsgId?: string | undefined;
  }): LegacyMessage {
    this.#requireUser(req.from, 'from');
    let conversation: LegacyConversation;
    if (req.to !== undefined) {
      this.#requireUser(req.to, 'to');
      if (req.to === req.from) throw new LegacyRefusal(400, 'to must not be from');
      conversation = { kind: 'peer', users: [req.from, req.to] };
    } else {
      const g = this.#requireGroup(req.groupId!);
      if (!g.members.has(req.from)) throw new LegacyRefusal(403, `${req.from} is not in group ${g.id}`);
      conversation = { kind: 'group', groupId: g.id };
    }
    const written = req.clientMsgId !== undefined ? this.#byClientMsgId.get(req.clientMsgId) : undefined;
    if (written) return written;
    const key = conversationKey(conversation);
    let conv = this.conversations.get(key);
    if (!conv) this.conversations.set(key, (conv = { conversation, messages: [] }));
    const message: LegacyMessage = {
      id: `lm-${++this.#messages}`,
      seq: conv.messages.length + 1,
      from: req.from,
      ...(req.to !== undefined ? { to: req.to } : {}),
      body: req.body,
      sentAt: this.now(),
      ...(req.originTag !== undefined ? { originTag: req.originTag } : {}),
      ...(req.clientMsgId !== undefined ? { clientMsgId: req.clientMsgId } : {}),
    };
    conv.messages.push(message);
    if (req.clientMsgId !== undefined) this.#byClientMsgId.set(req.clientMsgId, message);
    const { originTag, clientMsgId, ...routed } = message;
    this.#emit({
      type: 'message.created',
      conversation: conv.conversation,
      message: {
        ...routed,
        ...(this.echo.originTag && originTag !== undefined ? { originTag } : {}),
        ...(this.echo.clientMsgId && clientMsgId !== undefined ? { clientMsgId } : {}),
      },
    });
    return message;
  }

  /** Messages after `afterSeq`, oldest first; `position` is the conversation's highest seq (0 when empty). */
  page(key: string, afterSeq: number, limit: number): { messages: LegacyMessage[]; position: number } {
    const messages = this.conversations.get(key)?.messages ?? [];
    return { messages: messages.slice(afterSeq, afterSeq + limit), position: messages.length };
  }

  createGroup(req: { operator: string; groupId: string; name: string; members: string[] }): void {
    this.#requireUser(req.operator, 'operator');
    if (this.groups.has(req.groupId)) throw new LegacyRefusal(409, `group ${req.groupId} exists`);
    for (const m of req.members) this.#requireUser(m, 'member');
    const members = new Set([req.operator, ...req.members]);
    this.groups.set(req.groupId, {
      id: req.groupId,
      name: req.name,
      owner: req.operator,
      members,
      createdAt: this.now(),
    });
    this.#emit({
      type: 'group.created',
      groupId: req.groupId,
      name: req.name,
      owner: req.operator,
      members: [...members],
      operator: req.operator,
    });
  }

  /** Adds the users not yet members; no event when nothing changed (convergent, so loops end). */
  join(groupId: string, operator: string, users: string[]): void {
    const g = this.#requireGroup(groupId);
    for (const u of users) this.#requireUser(u, 'user');
    const added = users.filter((u) => !g.members.has(u));
    for (const u of added) g.members.add(u);
    if (added.length) this.#emit({ type: 'group.members_joined', groupId, operator, users: added });
  }

  leave(groupId: string, operator: string, users: string[]): void {
    const g = this.#requireGroup(groupId);
    const removed = users.filter((u) => g.members.has(u));
    for (const u of removed) g.members.delete(u);
    if (removed.length) this.#emit({ type: 'group.members_left', groupId, operator, users: removed });
  }

  /** Sets the fields given; no event when nothing changed. */
  change(
    groupId: string,
    operator: string,
    fields: { name?: string | undefined; notice?: string | undefined; avatar?: string | undefined }
  ): void {
    const g = this.#requireGroup(groupId);
    const changed: { name?: string; notice?: string; avatar?: string } = {};
    if (fields.name !== undefined && fields.name !== g.name) changed.name = g.name = fields.name;
    if (fields.notice !== undefined && fields.notice !== (g.notice ?? '')) changed.notice = g.notice = fields.notice;
    if (fields.avatar !== undefined && fields.avatar !== (g.avatar ?? '')) changed.avatar = g.avatar = fields.avatar;
    if (Object.keys(changed).length) this.#emit({ type: 'group.changed', groupId, operator, ...changed });
  }

  dismiss(groupId: string, operator: string): void {
    this.#requireGroup(groupId);
    this.groups.delete(groupId);
    this.#emit({ type: 'group.dismissed', groupId, operator });
  }

  /** GET /v1/groups/{id}: the group as it is now (404 when there is none). */
  group(groupId: string) {
    const g = this.#requireGroup(groupId);
    return {
      groupId: g.id,
      name: g.name,
      owner: g.owner,
      members: [...g.members].sort(),
      createdAt: g.createdAt,
      notice: g.notice ?? '',
      avatar: g.avatar ?? '',
    };
  }

  /**
   * GET /v1/users/{id}/conversations: the user's one-to-one conversations and the groups they are in whose newest
   * message is at or after `since`, in key order after `cursor` (the previous page's last key), `limit` a page.
   */
  userConversations(userId: string, since: number, limit: number, cursor?: string) {
    this.#requireUser(userId, 'user');
    const active: { key: string; lastMessageAt: number }[] = [];
    for (const [key, c] of this.conversations) {
      const last = c.messages.at(-1);
      if (!last || last.sentAt < since || (cursor !== undefined && key <= cursor)) continue;
      const conv = c.conversation;
      if (conv.kind === 'peer' ? conv.users.includes(userId) : this.groups.get(conv.groupId)?.members.has(userId))
        active.push({ key, lastMessageAt: last.sentAt });
    }
    active.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const page = active.slice(0, limit);
    return { conversations: page, ...(active.length > limit ? { next: page.at(-1)!.key } : {}) };
  }

  /** Everything, for tests. */
  snapshot() {
    return {
      users: [...this.users].sort(),
      groups: [...this.groups.values()].map(({ createdAt: _at, ...g }) => ({ ...g, members: [...g.members].sort() })),
      conversations: [...this.conversations].map(([key, c]) => ({ key, ...c })),
    };
  }
}
