/** QueryConversationList and ClearConversationUnread (zim-api.md §6.17). */
import { ZimCode } from '../../zim-client/codes';
import type { ConversationLog } from '../message-store';
import { clampLimit, cursorValue, ok, pageByOffset, refuse } from '../rules';
import { requireUser, type Handler, type HandlerContext } from './context';

const CONV_PEER = 0;
const CONV_GROUP = 2;
/** ZIM lists only a user's newest 1000 conversations. */
const NEWEST_CONVERSATIONS = 1000;

interface Conversation {
  ConvId: string;
  ConvType: number;
  UpdateTime: number;
}

/**
 * The user's conversations: their own one-to-one copies, and the groups with history they are in or were kicked
 * from or left (ZIM still lists those; not dismissed ones, which are gone). UpdateTime is the newest message's time
 * (for a group left, whether ZIM stops at the leave is not documented). Ascending by UpdateTime, newest 1000 only.
 */
export function conversationsOf(ctx: HandlerContext, user: number): Conversation[] {
  const { state } = ctx;
  const store = state.messages;
  const list: Conversation[] = [];
  const add = (ConvId: string, ConvType: number, log: ConversationLog) => {
    if (log.entries.length > 0) list.push({ ConvId, ConvType, UpdateTime: store.newestTime(log) });
  };
  for (const [peer, log] of state.peerLogsOf(user)) add(state.userId(peer), CONV_PEER, log);
  for (const groupId of state.groupsOf(user)) add(groupId, CONV_GROUP, state.group(groupId)!.history);
  for (const groupId of state.groupsLeftBy(user)) add(groupId, CONV_GROUP, state.group(groupId)!.history);
  list.sort((a, b) => a.UpdateTime - b.UpdateTime);
  return list.slice(-NEWEST_CONVERSATIONS);
}

export const queryConversationList: Handler<'QueryConversationList'> = (ctx, req) => {
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const all = conversationsOf(ctx, from);
  const { page, next } = pageByOffset(all, clampLimit('QueryConversationList', req.Limit), cursorValue(req.Next));
  return ok({ TotalCount: all.length, Next: next, List: page });
};

/** Marks everything up to the newest message as read for this user. */
export const clearConversationUnread: Handler<'ClearConversationUnread'> = (ctx, req) => {
  const { state } = ctx;
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  if (req.ConvType !== CONV_PEER && req.ConvType !== CONV_GROUP)
    refuse(ZimCode.PARAM_INVALID, 'ConvType must be 0 or 2');
  const listed = conversationsOf(ctx, from).some((c) => c.ConvId === req.ConvId && c.ConvType === req.ConvType);
  if (!listed) refuse(ZimCode.CONVERSATION_NOT_FOUND, 'conversation not among the newest 1000');
  if (req.ConvType === CONV_PEER) {
    const log = state.peerLog(from, state.userNumber(req.ConvId)!)!;
    log.readSeq = log.lastSeq;
  } else {
    const group = state.group(req.ConvId)!;
    group.readSeq.set(from, group.history.lastSeq);
  }
  return ok();
};
