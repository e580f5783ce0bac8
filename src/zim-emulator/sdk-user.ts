/**
 * Acting as an App 2.0 user (coexistence.md §6.2): what a user does through the ZIM SDK, stored in the same state
 * as the server API's writes, and announced with the callbacks an SDK action fires: send_msg with `source` 0 (ZIM
 * omits it), conv_id the peer or group, media bodies in their URL-encoded callback form. SDK group actions always
 * fire their group callbacks, whatever the switch for server-API group operations says.
 */
import { z } from 'zod';
import { ZimCode } from '../zim-client/codes';
import { ZIM_ROLE } from '../zim-client/roles';
import {
  SOURCE,
  groupExitCallback,
  groupJoinCallback,
  sendMsgCallback,
  type SentMessageFacts,
} from './callback-payloads';
import type { EmulatorCore, CallContext } from './core';
import { createGroup, dismissGroup } from './handlers/groups';
import { requireGroup, requireUser } from './handlers/context';
import { liveMessage, storeGroupMessage, storePeerMessage } from './handlers/sends';
import { MSG_ID_BASE, type NewMessage } from './message-store';
import { refuse } from './rules';

const id = z.string().min(1);
const conversation = {
  /** The sender (send) or author (edit). */
  from: id,
  /** The peer of a one-to-one message; or `groupId`. */
  to: id.optional(),
  groupId: id.optional(),
};
const oneConversation = (v: { to?: string | undefined; groupId?: string | undefined }) =>
  (v.to === undefined) !== (v.groupId === undefined);

export const SdkSendSchema = z
  .object({
    ...conversation,
    messageType: z.number().int().default(1),
    subMsgType: z.number().int().optional(),
    priority: z.number().int().default(1),
    body: z.string(),
    extendedData: z.string().optional(),
  })
  .refine(oneConversation, 'give exactly one of `to` and `groupId`');

export const SdkEditSchema = z
  .object({ ...conversation, msgId: z.string().regex(/^\d+$/), body: z.string(), extendedData: z.string().optional() })
  .refine(oneConversation, 'give exactly one of `to` and `groupId`');

export const SdkCreateGroupSchema = z.object({
  operator: id,
  groupId: id.optional(),
  name: z.string().optional(),
  members: z.array(id).default([]),
});
export const SdkGroupMemberSchema = z.object({ user: id, groupId: id });
export const SdkDismissGroupSchema = z.object({ operator: id, groupId: id });

/** send_msg as ZIM fires it for an SDK user's message in the conversation `req` names. */
function sdkSendMsg(
  ctx: CallContext,
  req: { from: string; to?: string | undefined; groupId?: string | undefined },
  m: Omit<SentMessageFacts, 'from' | 'conv' | 'convId' | 'source'>
) {
  return sendMsgCallback(
    {
      ...m,
      from: req.from,
      conv: req.to !== undefined ? 'peer' : 'group',
      convId: req.to ?? req.groupId!,
      source: SOURCE.sdk,
    },
    ctx.callbackSwitches
  );
}

/** Edits that do not reuse the msg_id, and refused sends, get ids from a range no message number reaches. */
const EDIT_ID_BASE = MSG_ID_BASE + (1n << 48n);

export class SdkUsers {
  #edits = 0n;

  constructor(private readonly core: EmulatorCore) {}

  send(input: unknown) {
    const req = SdkSendSchema.parse(input);
    const ctx = this.core.sdkContext();
    const from = requireUser(ctx, req.from, 'from', ZimCode.SENDER_NOT_REGISTERED);
    const message = liveMessage(ctx, from, {
      MessageType: req.messageType,
      Priority: req.priority,
      MessageBody: { Message: req.body, ExtendedData: req.extendedData },
      SubMsgType: req.subMsgType,
    });
    let sent: { msgId: string; msgSeq: number };
    if (req.to !== undefined) {
      const to = requireUser(ctx, req.to, 'to', ZimCode.USER_NOT_REGISTERED);
      if (to === from) refuse(ZimCode.PARAM_INVALID, 'to must not be from');
      if (ctx.state.blocksOf(to).has(from)) this.#failedSend(ctx, req, message, ZimCode.SENDER_BLOCKED);
      sent = storePeerMessage(ctx, from, to, message);
    } else {
      const group = requireGroup(ctx, req.groupId!);
      if (!group.members.has(from)) refuse(ZimCode.USER_NOT_IN_GROUP, `${req.from} is not in the group`);
      const stored = storeGroupMessage(ctx, group, message);
      sent = { msgId: stored.msgId.toString(), msgSeq: stored.msgSeq };
    }
    ctx.emit(
      sdkSendMsg(ctx, req, {
        msgType: message.msgType,
        subMsgType: message.subMsgType,
        body: message.body,
        extendedData: message.extendedData,
        ...sent,
        time: message.time,
      })
    );
    return this.#fire(ctx, { ...sent, time: message.time });
  }

  /**
   * A send ZIM refuses still fires send_msg, with `send_result` the code and (since 2024) a msg_id, but nothing is
   * stored: a receiver must never mirror it (coexistence.md §3.8). Then the SDK user sees the refusal.
   */
  #failedSend(ctx: CallContext, req: z.output<typeof SdkSendSchema>, message: NewMessage, code: number): never {
    const payload = sdkSendMsg(ctx, req, {
      msgType: message.msgType,
      subMsgType: message.subMsgType,
      body: message.body,
      extendedData: message.extendedData,
      msgId: (EDIT_ID_BASE + ++this.#edits).toString(),
      msgSeq: 0,
      time: message.time,
    });
    void this.core.callbacks.emit([{ ...payload, fields: { ...payload.fields, send_result: code } }]);
    refuse(code, `${req.from} is blocked by ${req.to ?? req.groupId}`);
  }

  /** An SDK edit: the stored body changes in every copy, and send_msg fires again (§1.2 fact 4). */
  edit(input: unknown) {
    const req = SdkEditSchema.parse(input);
    const ctx = this.core.sdkContext();
    const { state } = ctx;
    const from = requireUser(ctx, req.from, 'from', ZimCode.SENDER_NOT_REGISTERED);
    const index = state.messages.indexOfMsgId(BigInt(req.msgId));
    const log =
      req.to !== undefined
        ? state.peerLog(requireUser(ctx, req.to, 'to', ZimCode.USER_NOT_REGISTERED), from)
        : requireGroup(ctx, req.groupId!).history;
    if (
      index === undefined ||
      !log ||
      state.messages.positionOf(log, index) < 0 ||
      state.messages.sender(index) !== from
    ) {
      refuse(ZimCode.MESSAGE_NOT_FOUND, `no message ${req.msgId} of ${req.from} in this conversation`);
    }
    const stored = state.messages.get(index);
    // The edited content follows the same rules as a new message of the original's type.
    const edited = liveMessage(ctx, from, {
      MessageType: stored.msgType,
      Priority: stored.priority,
      MessageBody: { Message: req.body, ExtendedData: req.extendedData },
      SubMsgType: stored.subMsgType,
    });
    state.messages.editBody(index, edited.body, req.extendedData);
    const msgId = ctx.callbackSwitches.editReusesMsgId ? req.msgId : (EDIT_ID_BASE + ++this.#edits).toString();
    ctx.emit(
      sdkSendMsg(ctx, req, {
        msgType: stored.msgType,
        subMsgType: stored.subMsgType,
        body: req.body,
        extendedData: req.extendedData ?? stored.extendedData,
        msgId,
        msgSeq: stored.seq,
        time: ctx.now,
      })
    );
    return this.#fire(ctx, { msgId, msgSeq: stored.seq });
  }

  createGroup(input: unknown) {
    const req = SdkCreateGroupSchema.parse(input);
    const ctx = this.core.sdkContext({ groupCallbacksOnServerOps: true });
    const reply = createGroup(ctx, {
      GroupOwner: req.operator,
      UserId: req.members,
      ...(req.groupId !== undefined ? { GroupId: req.groupId } : {}),
      ...(req.name !== undefined ? { GroupName: req.name } : {}),
    });
    return this.#fire(ctx, { groupId: reply.fields?.GroupId, failures: reply.fields?.ErrorUsers });
  }

  /** The user joins by themselves (join_type Apply). */
  joinGroup(input: unknown) {
    const req = SdkGroupMemberSchema.parse(input);
    const ctx = this.core.sdkContext();
    const n = requireUser(ctx, req.user, 'user', ZimCode.USER_NOT_REGISTERED);
    const group = requireGroup(ctx, req.groupId);
    if (!group.members.has(n)) {
      if (group.members.size >= ctx.config.limits.maxGroupMembers)
        refuse(ZimCode.TOO_MANY_GROUP_MEMBERS, 'group is full');
      ctx.state.addMember(group, n, { role: ZIM_ROLE.member, joinTime: ctx.now, nickname: '' });
      ctx.emit(groupJoinCallback(group.id, 'Apply', '', [req.user]));
    }
    return this.#fire(ctx, { ok: true });
  }

  /** The user leaves (exit_type Quit); an owner who leaves hands the group to the earliest remaining member. */
  quitGroup(input: unknown) {
    const req = SdkGroupMemberSchema.parse(input);
    const ctx = this.core.sdkContext();
    const n = requireUser(ctx, req.user, 'user', ZimCode.USER_NOT_REGISTERED);
    const group = requireGroup(ctx, req.groupId);
    const member = group.members.get(n);
    if (!member) refuse(ZimCode.USER_NOT_IN_GROUP, `${req.user} is not in the group`);
    ctx.state.removeMember(group, n);
    const heir = group.members.values().next();
    if (member.role === ZIM_ROLE.owner && !heir.done) heir.value.role = ZIM_ROLE.owner;
    ctx.emit(groupExitCallback(group.id, 'Quit', '', [req.user]));
    return this.#fire(ctx, { ok: true });
  }

  dismissGroup(input: unknown) {
    const req = SdkDismissGroupSchema.parse(input);
    const ctx = this.core.sdkContext({ groupCallbacksOnServerOps: true });
    dismissGroup(ctx, { FromUserId: req.operator, GroupId: req.groupId });
    return this.#fire(ctx, { ok: true });
  }

  #fire<T>(ctx: CallContext, result: T): T {
    if (ctx.events) void this.core.callbacks.emit(ctx.events);
    return result;
  }
}
