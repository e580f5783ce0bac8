/**
 * SendPeerMessage and SendGroupMessage (coexistence.md §2.1–§2.2): live sends, stamped with the server's clock,
 * stored in the same conversations as imports (so QueryPeerMsg/QueryGroupMsg read them back in order), each firing
 * a send_msg callback. The store functions are shared with the SDK-user endpoint (../sdk-user.ts).
 */
import { ZimCode } from '../../zim-client/codes';
import { SOURCE, sendMsgCallback } from '../callback-payloads';
import { COMMAND_MESSAGE, messageProblem } from '../message-body';
import type { NewMessage } from '../message-store';
import { batchReply, idProblem, ok, problem, processItems, refuse, requireBatchSize } from '../rules';
import type { GroupRecord } from '../state';
import { requireGroup, requireUser, type Handler, type HandlerContext } from './context';

export interface LiveMessage {
  MessageType: number;
  Priority: number;
  MessageBody: { Message: string; ExtendedData?: string | undefined };
  SubMsgType?: number | undefined;
  SearchedContent?: string | undefined;
}

/**
 * The message to store, once its content passes the rules imports follow (types, sizes, media JSON). A command
 * message is stored too, so it takes a MsgSeq: its send fires no callback, which leaves the gap a reconciler sees.
 */
export function liveMessage(ctx: HandlerContext, sender: number, m: LiveMessage): NewMessage {
  const p = messageProblem(m.MessageType === COMMAND_MESSAGE ? { ...m, MessageType: 1 } : m, ctx.config.limits);
  if (p) refuse(p.code, p.message);
  return {
    sender,
    time: ctx.now,
    msgType: m.MessageType,
    subMsgType: m.SubMsgType ?? 0,
    priority: m.Priority,
    body: m.MessageBody.Message,
    extendedData: m.MessageBody.ExtendedData,
    searchedContent: m.SearchedContent,
  };
}

/**
 * Stores a one-to-one message in both owners' copies under one MsgId (the receiver's copy gives it, the sender's
 * borrows it); returns the receiver's MsgId and MsgSeq. Whether SenderUnaware keeps it out of the sender's stored
 * history is UNCONFIRMED; it is stored there.
 */
export function storePeerMessage(ctx: HandlerContext, from: number, to: number, message: NewMessage, noUnread = false) {
  const { state } = ctx;
  const received = state.appendPeerMessage(to, from, message);
  if (!noUnread) state.messages.markRaisesUnread(received.index);
  const own = state.appendPeerMessage(from, to, message);
  state.messages.shareMsgId(own.index, received.index);
  return { msgId: state.messages.msgId(received.index).toString(), msgSeq: received.seq, index: received.index };
}

export function storeGroupMessage(ctx: HandlerContext, group: GroupRecord, message: NewMessage, noUnread = false) {
  const { index, seq } = ctx.state.appendGroupMessage(group, message);
  if (!noUnread) ctx.state.messages.markRaisesUnread(index);
  return { msgId: ctx.state.messages.msgId(index), msgSeq: seq, index };
}

export const sendPeerMessage: Handler<'SendPeerMessage'> = (ctx, req) => {
  const { state } = ctx;
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  requireBatchSize('SendPeerMessage', req.ToUserId.length);
  const message = liveMessage(ctx, from, req);
  const sent: Array<{ UserId: string; MsgId: string; MsgSeq: number }> = [];
  const receivers = [...new Set(req.ToUserId)];
  const failures = processItems(
    receivers,
    (id) => id,
    (id) =>
      idProblem(id, ctx.config.behaviour.allowSpaceInIds) ??
      (id === req.FromUserId ? problem(ZimCode.PARAM_INVALID, 'ToUserId must not contain FromUserId') : undefined) ??
      (state.userNumber(id) === undefined ? problem(ZimCode.USER_NOT_REGISTERED, 'user not registered') : undefined),
    (id) => {
      const noUnread = req.SendMsgOptions?.NoUnread === true;
      const { msgId, msgSeq } = storePeerMessage(ctx, from, state.userNumber(id)!, message, noUnread);
      sent.push({ UserId: id, MsgId: msgId, MsgSeq: msgSeq });
    }
  );
  if (sent.length > 0) {
    ctx.emit(
      sendMsgCallback(
        {
          from: req.FromUserId,
          conv: 'peer',
          convId: '',
          msgType: message.msgType,
          subMsgType: message.subMsgType,
          body: message.body,
          extendedData: message.extendedData,
          msgId: sent[0]!.MsgId,
          msgSeq: sent[0]!.MsgSeq,
          time: message.time,
          source: SOURCE.serverApi,
          receivers: sent,
        },
        ctx.callbackSwitches
      )
    );
  }
  return batchReply('SendPeerMessage', receivers.length, failures, { fields: { SuccList: sent } });
};

/** MsgId is written as a JSON number (beyond 2^53), as ZIM's page types it. */
export const sendGroupMessage: Handler<'SendGroupMessage'> = (ctx, req) => {
  const from = requireUser(ctx, req.FromUserId, 'FromUserId', ZimCode.SENDER_NOT_REGISTERED);
  const group = requireGroup(ctx, req.GroupId);
  // UNCONFIRMED whether the sender must be a member (coexistence.md §7.9); the import's switch decides both.
  if (ctx.config.behaviour.groupImportRequiresMembership && !group.members.has(from)) {
    refuse(ZimCode.USER_NOT_IN_GROUP, 'FromUserId is not in the group');
  }
  const message = liveMessage(ctx, from, req);
  // Targeted messages never count toward unread (coexistence.md §2.2).
  const noUnread = req.SendMsgOptions?.NoUnread === true || req.SendMsgOptions?.TargetOption !== undefined;
  const { msgId, msgSeq } = storeGroupMessage(ctx, group, message, noUnread);
  ctx.emit(
    sendMsgCallback(
      {
        from: req.FromUserId,
        conv: 'group',
        convId: group.id,
        msgType: message.msgType,
        subMsgType: message.subMsgType,
        body: message.body,
        extendedData: message.extendedData,
        msgId: msgId.toString(),
        msgSeq,
        time: message.time,
        source: SOURCE.serverApi,
      },
      ctx.callbackSwitches
    )
  );
  return ok({ MsgSeq: msgSeq }, { MsgId: msgId.toString() });
};
