/**
 * The contract between zim-migrate and a customer's legacy chat backend during coexistence (docs/coexistence.md):
 * the routing events the backend posts to our receiver, the write API we call to write as one of its users, and
 * the per-conversation position. zod is the source of truth; `npm run schema:coexist` writes the JSON Schema.
 *
 * Echo identification: a write we make comes back to us as a routing event, and must be recognised, never
 * mirrored back. The contract accepts two ways, and an adapter must offer at least one:
 *   - originTag: the backend stores the `originTag` we send and returns it in the message's routing event;
 *   - clientMsgId: the backend stores the `clientMsgId` we send and returns it in the routing event.
 */
import { z } from 'zod';

const id = z.string().min(1).max(128);
/** ms since the epoch. */
const epochMs = z.number().int().nonnegative();

/** A one-to-one conversation (the two users, any order) or a group. */
export const LegacyConversationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('peer'), users: z.tuple([id, id]) }),
  z.object({ kind: z.literal('group'), groupId: id }),
]);
export type LegacyConversation = z.output<typeof LegacyConversationSchema>;

/** A message as the backend stores it. `seq` is its position in the conversation: 1, 2, 3… with no gaps. */
export const LegacyMessageSchema = z.object({
  id,
  seq: z.number().int().positive(),
  from: id,
  /** The receiver of a one-to-one message. */
  to: id.optional(),
  body: z.string().max(32_768),
  sentAt: epochMs,
  /** Echo identification: what the writer passed as originTag, returned unchanged. */
  originTag: z.string().max(128).optional(),
  /** Echo identification: what the writer passed as clientMsgId, returned unchanged. */
  clientMsgId: z.string().max(128).optional(),
});
export type LegacyMessage = z.output<typeof LegacyMessageSchema>;

const eventBase = {
  /** Unique per event; a redelivery (retry or duplicate) carries the same id. */
  eventId: id,
  occurredAt: epochMs,
};

export const LegacyRoutingEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...eventBase,
    type: z.literal('message.created'),
    conversation: LegacyConversationSchema,
    message: LegacyMessageSchema,
  }),
  z.object({
    ...eventBase,
    type: z.literal('group.created'),
    groupId: id,
    name: z.string().max(256),
    owner: id,
    members: z.array(id),
    operator: id,
  }),
  z.object({ ...eventBase, type: z.literal('group.dismissed'), groupId: id, operator: id }),
  z.object({
    ...eventBase,
    type: z.literal('group.changed'),
    groupId: id,
    operator: id,
    name: z.string().max(256).optional(),
    notice: z.string().max(1024).optional(),
    avatar: z.string().max(1024).optional(),
  }),
  z.object({ ...eventBase, type: z.literal('group.members_joined'), groupId: id, operator: id, users: z.array(id) }),
  z.object({ ...eventBase, type: z.literal('group.members_left'), groupId: id, operator: id, users: z.array(id) }),
]);
export type LegacyRoutingEvent = z.output<typeof LegacyRoutingEventSchema>;

/** POST {api}/v1/messages, as `from` (Authorization: Bearer <token>). */
export const LegacySendRequestSchema = z
  .object({
    from: id,
    to: id.optional(),
    groupId: id.optional(),
    body: z.string().max(32_768),
    originTag: z.string().max(128).optional(),
    clientMsgId: z.string().max(128).optional(),
  })
  .refine((r) => (r.to === undefined) !== (r.groupId === undefined), 'give exactly one of `to` and `groupId`');
export type LegacySendRequest = z.input<typeof LegacySendRequestSchema>;
export const LegacySendResponseSchema = z.object({ message: LegacyMessageSchema });

/**
 * GET {api}/v1/conversations/{key}/messages?afterSeq=N&limit=M: the conversation's messages after position N,
 * oldest first. `key` is `peer:<a>:<b>` (a < b) or `group:<groupId>`; `position` is the highest seq.
 */
export const LegacyMessagePageSchema = z.object({
  messages: z.array(LegacyMessageSchema),
  position: z.number().int().nonnegative(),
});

/**
 * Group writes: POST {api}/v1/groups, POST /v1/groups/{id}/members, POST /v1/groups/{id}/members/remove,
 * DELETE /v1/groups/{id}. They must be convergent, which is what lets a retry after an ambiguous outcome settle
 * it: adding a member already in and removing one already out answer 200 and post no routing event; creating an
 * existing group answers 409 and dismissing a missing one 404 (both mean "already so" to us).
 */
export const LegacyCreateGroupSchema = z.object({
  operator: id,
  groupId: id,
  name: z.string().max(256),
  members: z.array(id).default([]),
});
export const LegacyMembersChangeSchema = z.object({ operator: id, users: z.array(id).min(1) });
export const LegacyDismissSchema = z.object({ operator: id });

/**
 * POST {api}/v1/groups/{id}/profile (optional, offered when `capabilities.groupProfile` is true): sets the fields
 * given, as `operator`. Convergent like the other group writes: fields that already hold these values change
 * nothing, answer 200 and post no routing event; a change posts `group.changed` with the fields that changed.
 * zim-migrate writes ZIM-side profile changes through it (docs/coexistence.md §3.1, §9).
 */
export const LegacyGroupProfileSchema = z
  .object({
    operator: id,
    name: z.string().max(256).optional(),
    notice: z.string().max(1024).optional(),
    avatar: z.string().max(1024).optional(),
  })
  .refine((r) => r.name !== undefined || r.notice !== undefined || r.avatar !== undefined, 'give a field to set');
export type LegacyGroupProfile = z.input<typeof LegacyGroupProfileSchema>;

/**
 * GET {api}/v1/groups/{id} (optional, offered when `capabilities.groupState` is true): the group as it is now, 404
 * when there is none (never created, or dismissed). The reconciliation audit compares it with ZIM's to find group
 * events that were lost (docs/coexistence.md §9); `createdAt` lets it tell a lost creation from an old group.
 */
export const LegacyGroupStateSchema = z.object({
  group: z.object({
    groupId: id,
    name: z.string().max(256),
    owner: id,
    members: z.array(id),
    createdAt: z.number().int().nonnegative().optional(),
    /** The profile's other fields ('' when unset); absent: the adapter does not keep it, and it is not compared. */
    notice: z.string().max(1024).optional(),
    avatar: z.string().max(1024).optional(),
  }),
});
export type LegacyGroupState = z.output<typeof LegacyGroupStateSchema>['group'];

/**
 * GET {api}/v1/users/{id}/conversations?since=<ms>&limit=<n>[&cursor=<next>] (optional, offered when
 * `capabilities.conversationList` is true): the conversations the user takes part in (their one-to-one
 * conversations, the groups they are a member of) whose newest message is at or after `since`, by the contract's
 * conversation key, at most `limit` a page, in a stable order of the adapter's choosing; `next` is the cursor of the
 * next page, absent on the last. 404 (an unknown user): none. The reconciliation audit lists them to find
 * conversations whose every routing event was lost (docs/coexistence.md §9).
 */
export const LegacyUserConversationsSchema = z.object({
  conversations: z.array(
    z.object({
      /** `peer:<a>:<b>` (a < b) or `group:<groupId>`, as in GET /v1/conversations/{key}/messages. */
      key: z
        .string()
        .regex(/^(peer:[^:]+:[^:]+|group:.+)$/)
        .max(300),
      /** The time of its newest message. */
      lastMessageAt: epochMs,
    })
  ),
  next: z.string().min(1).max(512).optional(),
});
export type LegacyUserConversations = z.output<typeof LegacyUserConversationsSchema>;

/** GET {api}/v1/capabilities: what the adapter offers; checked before coexistence starts. */
export const LegacyCapabilitiesSchema = z.object({
  contractVersion: z.literal(1),
  echoIdentification: z.object({ originTag: z.boolean(), clientMsgId: z.boolean() }),
  /** Whether GET /v1/groups/{id} is offered (absent: no; the audit then compares messages only). */
  groupState: z.boolean().optional(),
  /** Whether POST /v1/groups/{id}/profile is offered (absent: no; ZIM-side profile changes are then not mirrored). */
  groupProfile: z.boolean().optional(),
  /**
   * Whether GET /v1/users/{id}/conversations is offered (absent: no; the audit then finds a conversation whose every
   * routing event was lost only when ZIM lists it).
   */
  conversationList: z.boolean().optional(),
});
export type LegacyCapabilities = z.output<typeof LegacyCapabilitiesSchema>;

export class NoEchoIdentificationError extends Error {
  constructor() {
    super(
      'the legacy adapter offers no echo identification (neither originTag nor clientMsgId is returned in its ' +
        'routing events): our own writes would be mirrored back forever, so coexistence refuses to start'
    );
  }
}

/** The echo identification coexistence will use; throws when the adapter offers none. */
export function requireEchoIdentification(caps: LegacyCapabilities): Array<'originTag' | 'clientMsgId'> {
  const ways = (['originTag', 'clientMsgId'] as const).filter((w) => caps.echoIdentification[w]);
  if (ways.length === 0) throw new NoEchoIdentificationError();
  return ways;
}

/** The conversation key both sides share (and the workflow id's tail): one-to-one pairs sorted. */
export function conversationKey(c: LegacyConversation): string {
  if (c.kind === 'group') return `group:${c.groupId}`;
  const [a, b] = [...c.users].sort();
  return `peer:${a}:${b}`;
}

/** Headers of a signed routing event delivery. */
export const LEGACY_SIGNATURE_HEADER = 'x-legacy-signature';
export const LEGACY_TIMESTAMP_HEADER = 'x-legacy-timestamp';
