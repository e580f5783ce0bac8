/**
 * The business fields of each callback, as documented (coexistence.md §3.3, §3.5): snake_case names, msg_id as a
 * decimal string, msg_time in ms. Server-API sends pass the body through as sent; SDK sends of media carry it in the
 * URL-encoded snake_case form ZIM uses for queried messages (zim-api.md §7.3).
 */
import { CONV_TYPE, type CallbackPayload } from '../zim-callbacks/events';
import type { CallbackSwitches } from './callback-config';
import { queriedBody } from './message-body';

export const SOURCE = { sdk: 0, serverApi: 1 } as const;

export interface SentMessageFacts {
  from: string;
  /** 'peer' or 'group'. */
  conv: 'peer' | 'group';
  /** The peer (SDK one-to-one) or the group; ignored for server one-to-one sends, whose conv_id is ''. */
  convId: string;
  msgType: number;
  subMsgType: number;
  body: string;
  extendedData?: string | undefined;
  msgId: string;
  msgSeq: number;
  time: number;
  source: 0 | 1;
  /** Server-API one-to-one sends: each receiver's copy. */
  receivers?: Array<{ UserId: string; MsgId: string; MsgSeq: number }>;
}

export function sendMsgCallback(m: SentMessageFacts, switches: CallbackSwitches): CallbackPayload {
  const serverPeer = m.source === SOURCE.serverApi && m.conv === 'peer';
  // A batch send has one body but several messages: ZIM leaves msg_id and msg_seq empty and lists them in user_list.
  const batch = serverPeer && (m.receivers?.length ?? 0) !== 1;
  const fillTopId = !serverPeer || (!batch && switches.singleServerPeerSendFillsMsgId);
  const fields: Record<string, unknown> = {
    from_user_id: m.from,
    conv_type: m.conv === 'peer' ? CONV_TYPE.peer : CONV_TYPE.group,
    conv_id: serverPeer ? '' : m.convId,
    msg_type: m.msgType,
    sub_msg_type: m.subMsgType,
    ...(m.source !== SOURCE.sdk || switches.includeZeroSource ? { source: m.source } : {}),
    msg_body: m.source === SOURCE.sdk ? queriedBody(m.msgType, m.body) : m.body,
    msg_id: fillTopId ? m.msgId : '',
    ...(fillTopId ? { msg_seq: m.msgSeq } : {}),
    payload: m.extendedData ?? '',
    msg_time: m.time,
    send_result: 0,
    ...(serverPeer && switches.userListEnabled ? { user_list: m.receivers ?? [] } : {}),
  };
  return { event: 'send_msg', fields };
}

export function groupCreateCallback(g: {
  groupId: string;
  operator: string;
  owner: string;
  name: string;
  attributes: Array<{ Key: string; Value: string }>;
  members: string[];
}): CallbackPayload {
  return {
    event: 'group_create',
    fields: {
      group_id: g.groupId,
      operator_account: g.operator,
      owner_account: g.owner,
      group_name: g.name,
      attributes: g.attributes.map((a) => ({ key: a.Key, value: a.Value })),
      user_ids: g.members,
    },
  };
}

export function groupDestroyCallback(g: {
  groupId: string;
  operator: string;
  owner: string;
  members: string[];
}): CallbackPayload {
  return {
    event: 'group_destroy',
    fields: { group_id: g.groupId, operator_account: g.operator, owner_account: g.owner, user_ids: g.members },
  };
}

/** `operator` is the inviter; ZIM writes "invalid" for an Apply (a user joining by themselves). */
export function groupJoinCallback(groupId: string, joinType: 'Apply' | 'Invited', operator: string, users: string[]) {
  const payload: CallbackPayload = {
    event: 'group_join',
    fields: {
      group_id: groupId,
      join_type: joinType,
      operator_account: joinType === 'Apply' ? 'invalid' : operator,
      new_user_ids: users,
    },
  };
  return payload;
}

/** `operator` is the kicker; ZIM writes "invalid" for a Quit. */
export function groupExitCallback(groupId: string, exitType: 'Quit' | 'Kickout', operator: string, users: string[]) {
  const payload: CallbackPayload = {
    event: 'group_exit',
    fields: {
      group_id: groupId,
      exit_type: exitType,
      operator_account: exitType === 'Quit' ? 'invalid' : operator,
      exit_user_ids: users,
    },
  };
  return payload;
}
