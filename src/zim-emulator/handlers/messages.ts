/** ImportPeerMsg, ImportGroupMsg, QueryPeerMsg and QueryGroupMsg (zim-api.md §6.5, §6.9–§6.11, §9.9–§9.11). */
import { ZimCode } from '../../zim-client/codes';
import { DAY_MS } from '../../zim-client/limits';
import { SOURCE, sendMsgCallback } from '../callback-payloads';
import { queriedBody, messageProblem } from '../message-body';
import type { ConversationLog, NewMessage } from '../message-store';
import { clampLimit, cursorValue, ok, refuse, requireValidId, type Reply } from '../rules';
import { requireGroup, requireUser, type Handler, type HandlerContext, type ParsedRequest } from './context';

/** IsEmpty value of a message older than the retention period (ZIM destroys those). */
const EXPIRED = 1;

function retentionStart(ctx: HandlerContext): number {
  return ctx.now - ctx.config.limits.retentionDays * DAY_MS;
}

/**
 * Validates an imported message and its time: SendMessageTime 0/absent = now; otherwise within the retention window
 * and not in the future; in strict mode not older than the conversation's newest message.
 */
function acceptedMessage(
  ctx: HandlerContext,
  sender: number,
  req: ParsedRequest<'ImportPeerMsg'> | ParsedRequest<'ImportGroupMsg'>,
  log: ConversationLog | undefined
): NewMessage {
  const p = messageProblem(req, ctx.config.limits);
  if (p) refuse(p.code, p.message);
  const time = req.SendMessageTime || ctx.now;
  if (time > ctx.now) refuse(ZimCode.TIME_IN_FUTURE, 'SendMessageTime is later than the current time');
  if (time < retentionStart(ctx)) {
    refuse(ZimCode.PARAM_INVALID, `SendMessageTime is older than the ${ctx.config.limits.retentionDays}-day retention`);
  }
  if (log && ctx.config.behaviour.ordering === 'strict' && time < ctx.state.messages.newestTime(log)) {
    refuse(ZimCode.PARAM_INVALID, "SendMessageTime is earlier than the conversation's newest message");
  }
  return {
    sender,
    time,
    msgType: req.MessageType,
    subMsgType: req.SubMsgType ?? 0,
    priority: req.Priority,
    body: req.MessageBody.Message,
    extendedData: req.MessageBody.ExtendedData,
    searchedContent: req.SearchedContent,
  };
}

/** Writes into ImportedUserId's own copy of the conversation only (§6.5). */
export const importPeerMsg: Handler<'ImportPeerMsg'> = (ctx, req) => {
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const to = requireUser(ctx, req.ToUserId, 'ToUserId', ZimCode.USER_NOT_REGISTERED);
  if (from === to) refuse(ZimCode.PARAM_INVALID, 'FromUserId equals ToUserId');
  if (req.ImportedUserId !== req.FromUserId && req.ImportedUserId !== req.ToUserId) {
    refuse(ZimCode.PARAM_INVALID, 'ImportedUserId must be FromUserId or ToUserId');
  }
  const [owner, peer] = req.ImportedUserId === req.FromUserId ? [from, to] : [to, from];
  const message = acceptedMessage(ctx, from, req, ctx.state.peerLog(owner, peer));
  const { index, seq } = ctx.state.appendPeerMessage(owner, peer, message);
  const msgId = ctx.state.messages.msgId(index).toString();
  if (ctx.callbackSwitches.importFiresSendMsg) {
    // As a server-API one-to-one send would: conv_id '' and the owner's copy in user_list.
    const receivers = [{ UserId: req.ImportedUserId, MsgId: msgId, MsgSeq: seq }];
    ctx.emit(importCallback(req.FromUserId, 'peer', '', message, msgId, seq, receivers, ctx));
  }
  return ok({ MsgId: msgId, MsgSeq: seq });
};

export const importGroupMsg: Handler<'ImportGroupMsg'> = (ctx, req) => {
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  if (ctx.config.behaviour.groupImportRequiresMembership && !group.members.has(from)) {
    refuse(ZimCode.USER_NOT_IN_GROUP, 'FromUserId is not in the group');
  }
  const message = acceptedMessage(ctx, from, req, group.history);
  const { index, seq } = ctx.state.appendGroupMessage(group, message);
  if (ctx.callbackSwitches.importFiresSendMsg) {
    const msgId = ctx.state.messages.msgId(index).toString();
    ctx.emit(importCallback(req.FromUserId, 'group', group.id, message, msgId, seq, undefined, ctx));
  }
  return ok({ MsgSeq: seq });
};

/** The send_msg an import fires when the switch says imports do (UNCONFIRMED; off by default). */
function importCallback(
  from: string,
  conv: 'peer' | 'group',
  convId: string,
  m: NewMessage,
  msgId: string,
  msgSeq: number,
  receivers: Array<{ UserId: string; MsgId: string; MsgSeq: number }> | undefined,
  ctx: HandlerContext
) {
  return sendMsgCallback(
    {
      from,
      conv,
      convId,
      msgType: m.msgType,
      subMsgType: m.subMsgType,
      body: m.body,
      extendedData: m.extendedData,
      msgId,
      msgSeq,
      time: m.time,
      source: SOURCE.serverApi,
      ...(receivers ? { receivers } : {}),
    },
    ctx.callbackSwitches
  );
}

export const queryPeerMsg: Handler<'QueryPeerMsg'> = (ctx, req) => {
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  requireValidId(req.ToUserId, 'ToUserId', ctx.config.behaviour.allowSpaceInIds);
  const to = ctx.state.userNumber(req.ToUserId);
  return messagePage(ctx, 'QueryPeerMsg', to === undefined ? undefined : ctx.state.peerLog(from, to), req);
};

export const queryGroupMsg: Handler<'QueryGroupMsg'> = (ctx, req) =>
  messagePage(ctx, 'QueryGroupMsg', requireGroup(ctx, req.GroupId).history, req);

/**
 * Newest first. Next is opaque to clients; here it is the global number of the oldest message returned plus one, so
 * a page boundary stays put while older messages are sorted in (lenient mode). Expired messages are IsEmpty=1 and
 * returned only with WithEmptyMsg=1.
 */
function messagePage(
  ctx: HandlerContext,
  action: 'QueryPeerMsg' | 'QueryGroupMsg',
  log: ConversationLog | undefined,
  req: { Limit?: number | undefined; Next?: number | string | undefined; WithEmptyMsg?: number | undefined }
): Reply {
  const store = ctx.state.messages;
  const limit = clampLimit(action, req.Limit);
  const cursor = cursorValue(req.Next);
  const before = !log ? 0 : cursor === 0 ? log.entries.length : store.positionOf(log, cursor - 1);
  if (before < 0 || (!log && cursor !== 0)) refuse(ZimCode.PARAM_INVALID, 'Next does not belong to this conversation');
  if (!log) return ok({ Next: 0 }, { List: '[]' });

  const expiredBefore = retentionStart(ctx);
  const withEmpty = req.WithEmptyMsg === 1;
  const { indices, more } = store.pageNewestFirst(
    log,
    before,
    limit,
    (i) => withEmpty || store.time(i) >= expiredBefore
  );
  const items = indices.map((i) => {
    const m = store.get(i);
    const isEmpty = m.time < expiredBefore ? EXPIRED : 0;
    // Built by hand: MsgId is a JSON number beyond 2^53, which JSON.stringify cannot write.
    return (
      `{"Sender":${JSON.stringify(ctx.state.userId(m.sender))},"MsgType":${m.msgType},"SubMsgType":${m.subMsgType},` +
      `"MsgBody":${JSON.stringify(isEmpty ? '' : queriedBody(m.msgType, m.body))},"MsgId":${store.msgId(i)},` +
      `"MsgSeq":${m.seq},"Payload":${JSON.stringify(m.extendedData ?? '')},"MsgTime":${m.time},"IsEmpty":${isEmpty}}`
    );
  });
  return ok({ Next: more ? indices[indices.length - 1]! + 1 : 0 }, { List: `[${items.join(',')}]` });
}
