/**
 * The callbacks ZIM posts to an app's backend (coexistence.md §3.3, §3.5), as zod schemas: the emulator builds
 * them, a receiver parses them. Numbers that ZIM documents as arriving either way (appid, nonce, group timestamps)
 * are accepted as strings or numbers; msg_id stays a string end to end (it exceeds 2^53).
 */
import { z } from 'zod';

const token = z.union([z.string(), z.number()]);

/** The fields every callback carries; `signature` covers secret, timestamp and nonce, not the body. */
export const CallbackEnvelopeSchema = z.object({
  appid: token,
  event: z.string(),
  nonce: token,
  signature: z.string(),
  timestamp: token,
});

export const CONV_TYPE = { peer: 0, room: 1, group: 2 } as const;

export const SendMsgCallbackSchema = CallbackEnvelopeSchema.extend({
  event: z.literal('send_msg'),
  from_user_id: z.string(),
  conv_type: z.number().int(),
  /** The peer for SDK one-to-one sends, the group for group sends; '' for server-API one-to-one sends. */
  conv_id: z.string(),
  msg_type: z.number().int(),
  sub_msg_type: z.number().int().optional(),
  /** 0 (SDK, omitted by ZIM when 0) or 1 (server API). */
  source: z.number().int().optional(),
  msg_body: z.string(),
  msg_id: z.string(),
  msg_seq: z.number().int().optional(),
  payload: z.string().optional(),
  /** ms, when the server received the message. */
  msg_time: z.number(),
  send_result: z.number().int(),
  /** Server-API one-to-one sends only: each receiver's message. */
  user_list: z.array(z.object({ UserId: z.string(), MsgId: z.string(), MsgSeq: z.number().int() })).optional(),
});

export const GroupCreateCallbackSchema = CallbackEnvelopeSchema.extend({
  event: z.literal('group_create'),
  group_id: z.string(),
  operator_account: z.string(),
  owner_account: z.string(),
  group_name: z.string(),
  attributes: z.array(z.object({ key: z.string(), value: z.string() })),
  user_ids: z.array(z.string()),
});

export const GroupDestroyCallbackSchema = CallbackEnvelopeSchema.extend({
  event: z.literal('group_destroy'),
  group_id: z.string(),
  operator_account: z.string(),
  owner_account: z.string(),
  user_ids: z.array(z.string()),
});

export const GroupJoinCallbackSchema = CallbackEnvelopeSchema.extend({
  /** The EN sample says Apply_join_group; the table and the ZH page say group_join (§3.5). */
  event: z.enum(['group_join', 'Apply_join_group']),
  group_id: z.string(),
  join_type: z.enum(['Apply', 'Invited']),
  operator_account: z.string(),
  new_user_ids: z.array(z.string()),
});

export const GroupExitCallbackSchema = CallbackEnvelopeSchema.extend({
  event: z.literal('group_exit'),
  group_id: z.string(),
  exit_type: z.enum(['Quit', 'Kickout']),
  operator_account: z.string(),
  exit_user_ids: z.array(z.string()),
});

export const ZimCallbackSchema = z.union([
  SendMsgCallbackSchema,
  GroupCreateCallbackSchema,
  GroupDestroyCallbackSchema,
  GroupJoinCallbackSchema,
  GroupExitCallbackSchema,
]);

export type ZimCallback = z.output<typeof ZimCallbackSchema>;
export type SendMsgCallback = z.output<typeof SendMsgCallbackSchema>;

/** The events the emulator can send, by the name in `event` (group_join may be renamed, see the emulator config). */
export const ZIM_CALLBACK_EVENTS = ['send_msg', 'group_create', 'group_destroy', 'group_join', 'group_exit'] as const;
export type ZimCallbackEvent = (typeof ZIM_CALLBACK_EVENTS)[number];

/** A callback before signing: the event name and its business fields. */
export interface CallbackPayload {
  event: ZimCallbackEvent;
  fields: Record<string, unknown>;
}
