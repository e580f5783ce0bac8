/**
 * The conversations a user was active in since a time, as each side lists them: how the reconciliation audit finds
 * conversations the store does not know, those whose every callback or routing event was lost (docs/coexistence.md
 * §9). Keys are the contract's (`peer:<a>:<b>` with a < b, `group:<id>`). Each reader pages until the side says it is
 * done or `maxPages` ran out; `cut` says the listing may have left out conversations active since `since`.
 */
import { parseConversation } from './audit';
import type { LegacyClient } from './legacy-client';
import { conversationKey, type LegacyUserConversations } from './legacy-contract';

export interface Listed {
  keys: string[];
  cut: boolean;
}

/** ZIM lists only a user's newest 1000 conversations (zim-api.md §6.17). */
export const ZIM_LISTED_CONVERSATIONS = 1000;
/** QueryConversationList's largest page. */
export const ZIM_CONVERSATION_PAGE = 500;

const CONV_PEER = 0;
const CONV_GROUP = 2;

export interface ZimConversationPage {
  conversations: { convId: string; convType: number; updateTime: number }[];
  next: string;
}

/** A time ZIM gives in seconds or ms (its unit is not documented here): a value too small for ms is seconds. */
const toMs = (t: number) => (t < 1e11 ? t * 1000 : t);

/** The one-to-one key of two users (sorted, as the contract's). */
const peerKey = (a: string, b: string) => conversationKey({ kind: 'peer', users: [a, b] });

/**
 * ZIM's QueryConversationList for `user` (`read` makes the call, in its call-schedule slot), every page: the list is
 * ascending by UpdateTime, so the newest come last. Keeps the one-to-one and group conversations updated since
 * `since`. Cut when the list holds ZIM's 1000 and even its oldest is that recent (older active ones are beyond its
 * reach), or when `maxPages` ran out first.
 */
export async function zimConversationsSince(
  read: (cursor: { Next?: string }) => Promise<ZimConversationPage>,
  user: string,
  since: number,
  maxPages: number
): Promise<Listed> {
  const keys = new Set<string>();
  let listed = 0;
  let oldest = Infinity;
  let next: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const r = await read(next === undefined ? {} : { Next: next });
    for (const c of r.conversations) {
      listed++;
      const at = toMs(c.updateTime);
      oldest = Math.min(oldest, at);
      if (at < since) continue;
      if (c.convType === CONV_GROUP) keys.add(`group:${c.convId}`);
      else if (c.convType === CONV_PEER && c.convId !== user) keys.add(peerKey(user, c.convId));
    }
    if (r.conversations.length === 0 || r.next === '0' || r.next === '')
      return { keys: [...keys], cut: listed >= ZIM_LISTED_CONVERSATIONS && oldest >= since };
    next = r.next;
  }
  return { keys: [...keys], cut: true };
}

/**
 * The legacy side's GET /v1/users/{id}/conversations for `user` since `since`, every page by its cursor. Keys are
 * checked: a peer key is put in order, and one that does not name `user` is dropped, as is any other malformed key.
 */
export async function legacyConversationsSince(
  legacy: Pick<LegacyClient, 'userConversations'>,
  user: string,
  since: number,
  pageSize: number,
  maxPages: number
): Promise<Listed> {
  const keys = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const r: LegacyUserConversations = await legacy.userConversations(user, since, pageSize, cursor);
    for (const c of r.conversations) {
      if (c.lastMessageAt < since) continue;
      const conv = parseConversation(c.key);
      if (conv?.kind === 'group') keys.add(c.key);
      else if (conv && conv.users[0] !== conv.users[1] && conv.users.includes(user)) keys.add(peerKey(...conv.users));
    }
    if (r.next === undefined || r.conversations.length === 0) return { keys: [...keys], cut: false };
    cursor = r.next;
  }
  return { keys: [...keys], cut: true };
}
