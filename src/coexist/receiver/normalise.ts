/**
 * Turns a verified callback or routing event into the SyncEvents a conversation workflow takes (none when there is
 * nothing to sync). Bodies go to the store here; events carry only the reference.
 */
import { CONV_TYPE, type ZimCallback } from '../../zim-callbacks';
import type { BodyUse } from '../coexist-store';
import { conversationKey, type LegacyRoutingEvent } from '../legacy-contract';
import { CLIENT_MSG_ID_PREFIX, legacyIdInPayload, ORIGIN_TAG_PREFIX, type SyncEvent } from '../sync-event';

export type EchoWay = 'originTag' | 'clientMsgId';
/** Stores a body for the messages that carry it (none: kept for good), returning its reference (CoexistStore). */
export type PutBody = (body: string, forMessages?: readonly BodyUse[]) => Promise<string>;

const peerConv = (a: string, b: string) => conversationKey({ kind: 'peer', users: [a, b] });

export async function normaliseZim(cb: ZimCallback, putBody: PutBody): Promise<SyncEvent[]> {
  if (cb.event === 'send_msg') {
    // A failed send stored nothing; rooms are not conversations.
    if (cb.send_result !== 0 || cb.conv_type === CONV_TYPE.room) return [];
    const group = cb.conv_type === CONV_TYPE.group;
    const receivers = (
      group
        ? [{ to: undefined, msgId: cb.msg_id, seq: cb.msg_seq ?? 0 }]
        : cb.user_list?.length
          ? cb.user_list.map((u) => ({ to: u.UserId, msgId: u.MsgId, seq: u.MsgSeq }))
          : [{ to: cb.conv_id, msgId: cb.msg_id, seq: cb.msg_seq ?? 0 }]
    ).filter((r) => r.msgId !== '' && (group || (r.to ?? '') !== ''));
    const echo = cb.source === 1;
    // Kept until each receiver's copy is mirrored (their ledger rows).
    const bodyRef = echo
      ? undefined
      : await putBody(
          cb.msg_body,
          receivers.map((r) => ({ origin: 'zim', originId: r.msgId }))
        );
    // The (keyed) body reference tells an edit (same msg_id, new body) from a redelivery; an echo has no body kept.
    const version = bodyRef?.slice(-16) ?? 'echo';
    return receivers.map((r) => ({
      eventKey: `zim:msg:${r.msgId}:${version}`,
      origin: 'zim',
      conv: group ? `group:${cb.conv_id}` : peerConv(cb.from_user_id, r.to!),
      kind: echo ? 'echo' : 'message',
      occurredAt: cb.msg_time,
      order: r.seq,
      from: cb.from_user_id,
      ...(group ? { groupId: cb.conv_id } : { to: r.to! }),
      ...(bodyRef !== undefined ? { bodyRef } : {}),
      msgId: r.msgId,
      ...(echo ? withEchoOf(legacyIdInPayload(cb.payload)) : {}),
    }));
  }
  const users =
    cb.event === 'group_create' || cb.event === 'group_destroy'
      ? cb.user_ids
      : cb.event === 'group_exit'
        ? cb.exit_user_ids
        : cb.new_user_ids;
  const groupEvent =
    cb.event === 'group_create'
      ? 'created'
      : cb.event === 'group_destroy'
        ? 'dismissed'
        : cb.event === 'group_exit'
          ? 'left'
          : 'joined';
  const profile = cb.event === 'group_create' ? { name: cb.group_name, owner: cb.owner_account } : undefined;
  return [
    {
      eventKey: `zim:grp:${cb.group_id}:${cb.event}:${[...users].sort().join(',')}:${String(cb.timestamp)}`,
      origin: 'zim',
      conv: `group:${cb.group_id}`,
      kind: 'group',
      occurredAt: groupTimeMs(Number(cb.timestamp)),
      order: 0,
      groupId: cb.group_id,
      groupEvent,
      users: [...users],
      // "invalid" is ZIM's operator for a user joining or leaving by themselves.
      ...(cb.operator_account !== 'invalid' && cb.operator_account !== '' ? { operator: cb.operator_account } : {}),
      ...(profile ? { bodyRef: await putBody(JSON.stringify(profile)) } : {}),
    },
  ];
}

/**
 * ZIM documents group timestamps in ms but its samples show seconds (coexistence.md §3.2): a value too small to be
 * ms is seconds. Seconds are floored, so a join sorts before the joiner's first message in the same second.
 */
export const groupTimeMs = (t: number) => (t < 100_000_000_000 ? t * 1000 : t);

const withEchoOf = (id: string | undefined) => (id === undefined ? {} : { echoOf: id });

/** Which ZIM message a legacy event echoes, by the echo identification the adapter offers. */
function echoedZimId(m: { originTag?: string | undefined; clientMsgId?: string | undefined }, ways: EchoWay[]) {
  if (ways.includes('clientMsgId') && m.clientMsgId?.startsWith(CLIENT_MSG_ID_PREFIX))
    return m.clientMsgId.slice(CLIENT_MSG_ID_PREFIX.length);
  if (ways.includes('originTag') && m.originTag?.startsWith(ORIGIN_TAG_PREFIX))
    return m.originTag.slice(ORIGIN_TAG_PREFIX.length);
  return undefined;
}

export async function normaliseLegacy(e: LegacyRoutingEvent, ways: EchoWay[], putBody: PutBody): Promise<SyncEvent[]> {
  if (e.type === 'message.created') {
    const m = e.message;
    const echoOf = echoedZimId(m, ways);
    const group = e.conversation.kind === 'group';
    const to = e.conversation.kind === 'peer' ? (m.to ?? e.conversation.users.find((u) => u !== m.from)) : undefined;
    if (!group && to === undefined) return [];
    const event: SyncEvent = {
      eventKey: `lg:msg:${m.id}`,
      origin: 'legacy',
      conv: conversationKey(e.conversation),
      kind: echoOf === undefined ? 'message' : 'echo',
      occurredAt: m.sentAt,
      order: m.seq,
      from: m.from,
      ...(e.conversation.kind === 'group' ? { groupId: e.conversation.groupId } : to ? { to } : {}),
      ...(echoOf === undefined
        ? { bodyRef: await putBody(m.body, [{ origin: 'legacy', originId: m.id }]) }
        : { echoOf }),
      msgId: m.id,
    };
    return [event];
  }
  const groupEvent = (
    {
      'group.created': 'created',
      'group.dismissed': 'dismissed',
      'group.changed': 'changed',
      'group.members_joined': 'joined',
      'group.members_left': 'left',
    } as const
  )[e.type];
  const users = e.type === 'group.created' ? e.members : 'users' in e ? e.users : undefined;
  const profile =
    e.type === 'group.created'
      ? { name: e.name, owner: e.owner }
      : e.type === 'group.changed'
        ? {
            ...(e.name !== undefined ? { name: e.name } : {}),
            ...(e.notice !== undefined ? { notice: e.notice } : {}),
            ...(e.avatar !== undefined ? { avatar: e.avatar } : {}),
          }
        : undefined;
  return [
    {
      eventKey: `lg:${e.eventId}`,
      origin: 'legacy',
      conv: `group:${e.groupId}`,
      kind: 'group',
      occurredAt: e.occurredAt,
      order: 0,
      groupId: e.groupId,
      groupEvent,
      ...(users ? { users } : {}),
      operator: e.operator,
      ...(profile ? { bodyRef: await putBody(JSON.stringify(profile)) } : {}),
    },
  ];
}
