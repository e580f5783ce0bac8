/**
 * The import format, one zod schema per entity file: the single definition that the validator, the
 * JSON Schema (docs/import-format.schema.json, `npm run schema`) and the docs follow.
 * Shapes and ZIM's fixed id rules live here; limits that depend on the ZIM plan are in zim-checks.ts.
 * Objects are strict: an unknown field is reported, because a misspelt optional field would otherwise
 * lose data without a trace.
 */
import { z } from 'zod';
import { ZIM_ID_MAX_BYTES, ZIM_ID_PATTERN } from './zim-limits';

/** Zod issues whose message is a rule id are reported under that rule (see record-issues.ts). */
const zimId = (what: string) =>
  z
    .string()
    .min(1, { error: 'id.invalid' })
    .max(ZIM_ID_MAX_BYTES, { error: 'id.invalid' })
    .regex(ZIM_ID_PATTERN, { error: 'id.invalid' })
    .describe(`${what}: 1-32 bytes of digits, letters, space and !#$%&()+-:;<=.>?@[]^_{}|~`);

export const userId = zimId('A user id');
export const groupId = zimId('A group id');

/** The legacy message id: any non-empty string, kept end to end (staging, ledger, reports). */
export const sourceMessageId = z
  .string()
  .min(1)
  .max(128)
  .describe("The legacy system's message id, unique within the app's file of that message kind");

export const TIME_HINT = 'epoch milliseconds or ISO-8601 with an offset, e.g. 2024-05-01T12:00:00+08:00';
export const time = z
  .union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })], { error: `expected a time: ${TIME_HINT}` })
  .describe(`A time: ${TIME_HINT}`);

const text = (what: string) => z.string().describe(what);
const attributes = (what: string) => z.record(z.string(), z.string()).describe(what);

export const userRecord = z
  .strictObject({
    id: userId,
    nickname: text('Display name (ZIM UserName, ≤ 256 bytes)').optional(),
    avatarUrl: text('Avatar URL (ZIM UserAvatar, ≤ 500 bytes)').optional(),
    extendedData: text('Free-form extended data (ZIM Extra, ≤ 2 KB by default)').optional(),
    createdAt: time.optional(),
    deactivated: z
      .boolean()
      .describe(
        'A deactivated account is registered (so others keep its history) but owns no copies, relations or memberships'
      )
      .optional(),
  })
  .describe('users.ndjson: one user account per line');

export const friendRecord = z
  .strictObject({
    user: userId,
    friend: userId,
    alias: text("user's remark for friend (ZIM FriendAlias, ≤ 256 characters)").optional(),
    wording: text('Friend-request wording (ZIM Wording, ≤ 256 characters)').optional(),
    attributes: attributes('Friend attributes: keys k0..k4, keys and values ≤ 1024 bytes in total').optional(),
    since: time.optional(),
  })
  .describe('friends.ndjson: one directed friendship (user → friend) per line');

export const blockRecord = z
  .strictObject({ user: userId, blocked: userId, since: time.optional() })
  .describe('blocks.ndjson: user has blocked "blocked"; independent of friendships');

export const groupRecord = z
  .strictObject({
    id: groupId,
    name: text('Group name (≤ 50 characters)').optional(),
    owner: userId,
    avatarUrl: text('Group avatar URL (≤ 500 bytes)').optional(),
    notice: text('Group notice (≤ 300 bytes)').optional(),
    attributes: attributes('Group attributes: ≤ 10, keys ≤ 16 bytes, values ≤ 1024 bytes').optional(),
    createdAt: time.optional(),
    muted: z
      .boolean()
      .describe(
        'Muted (a frozen channel): after its history is imported, MuteGroup mutes its plain members (role 3), so only the owner and admins can send'
      )
      .optional(),
  })
  .describe('groups.ndjson: one group per line');

export const MEMBER_ROLES = ['owner', 'admin', 'member'] as const;
export const groupMemberRecord = z
  .strictObject({
    group: groupId,
    user: userId,
    role: z.enum(MEMBER_ROLES).describe("Defaults to member; the owner is the group record's owner").optional(),
    nickname: text('Nickname in the group (≤ 256 bytes)').optional(),
    joinedAt: time.optional(),
  })
  .describe('group_members.ndjson: one membership per line');

const url = text('URL of media hosted elsewhere (≤ 500 bytes); ZIM imports references, never files');
const fileName = text('File name (≤ 150 bytes)');
const bytes = z.number().int().nonnegative().describe('Size in bytes');
const pixels = z.number().int().nonnegative();
const seconds = z.number().nonnegative().describe('Duration in seconds');
const imageRef = z.strictObject({ url, width: pixels, height: pixels });

/** Message content: `type` selects the shape of `body`. Each maps to one ZIM MessageType (§7). */
const contentVariants = {
  text: { type: z.literal('text'), body: z.strictObject({ text: z.string().min(1) }) },
  image: {
    type: z.literal('image'),
    body: z.strictObject({
      url,
      fileName,
      width: pixels.optional(),
      height: pixels.optional(),
      size: bytes.optional(),
      large: imageRef.optional(),
      thumbnail: imageRef.optional(),
    }),
  },
  file: { type: z.literal('file'), body: z.strictObject({ url, fileName, size: bytes.optional() }) },
  audio: {
    type: z.literal('audio'),
    body: z.strictObject({ url, fileName, size: bytes.optional(), duration: seconds }),
  },
  video: {
    type: z.literal('video'),
    body: z.strictObject({
      url,
      fileName,
      size: bytes.optional(),
      duration: seconds,
      thumbnail: z.strictObject({ url, width: pixels.min(1), height: pixels.min(1) }).optional(),
    }),
  },
  custom: {
    type: z.literal('custom'),
    body: z.strictObject({
      subType: z.number().int().min(0).max(200).describe('Your custom type, 0..200 (ZIM SubMsgType)'),
      content: z.string().min(1),
      searchableContent: text('What client-side search matches (ZIM SearchedContent, ≤ 64 bytes)').optional(),
    }),
  },
} as const;

const messageCommon = {
  id: sourceMessageId,
  from: userId,
  sentAt: time,
  extendedData: text('Message extended data (ZIM ExtendedData, ≤ 1 KB)').optional(),
};

const peerCommon = {
  ...messageCommon,
  to: userId,
  deletedBy: z
    .array(userId)
    .max(2)
    .describe('Participants who deleted the message: their copy of the conversation leaves it out')
    .optional(),
};
const groupMessageCommon = { ...messageCommon, group: groupId };

/** A message file's schema: the fields every line has, plus `type` choosing the shape of `body`. */
function withContent<Common extends z.core.$ZodLooseShape>(common: Common) {
  const v = contentVariants;
  return z.discriminatedUnion('type', [
    z.strictObject({ ...common, ...v.text }),
    z.strictObject({ ...common, ...v.image }),
    z.strictObject({ ...common, ...v.file }),
    z.strictObject({ ...common, ...v.audio }),
    z.strictObject({ ...common, ...v.video }),
    z.strictObject({ ...common, ...v.custom }),
  ]);
}

export const peerMessageRecord = withContent(peerCommon).describe(
  'peer_messages.ndjson: one one-to-one message per line'
);
export const groupMessageRecord = withContent(groupMessageCommon).describe(
  'group_messages.ndjson: one group message per line'
);

/**
 * A reader's last-read position in one conversation, named by the last message read (its source id): exact, unlike
 * a time (several messages may share a millisecond, and a time between two messages names neither). A source that
 * keeps times (Sendbird's read_receipt) maps the time to the last message sent at or before it.
 */
export const readStateRecord = z
  .strictObject({
    user: userId.describe('The reader'),
    peer: userId.describe("One-to-one: the other participant (the reader's copy of the conversation)").optional(),
    group: groupId.describe('Group: the group').optional(),
    lastReadMessage: sourceMessageId.describe(
      'The id of the last message the reader has read, in the peer_messages or group_messages file of this conversation'
    ),
  })
  .refine((r) => (r.peer === undefined) !== (r.group === undefined), {
    error: 'give exactly one of peer and group',
    path: ['peer'],
  })
  .describe(
    'read_states.ndjson: how far a user has read one conversation (one-to-one or group); at most one line per user and conversation'
  );

/**
 * deletions.ndjson (incremental exports only, see manifest.ts): one record deleted in the legacy app since the
 * previous export, named by the same key its file uses. Accounts have no tombstones: a closed account is a user
 * record with `deactivated` (deleting it would orphan everyone's history with it). Messages have none either: ZIM
 * keeps imported history. A dismissed group's tombstone takes its members and history with it.
 */
const deletedAt = time.describe('When it was deleted in the legacy app').optional();
export const deletionRecord = z
  .discriminatedUnion('entity', [
    z.strictObject({ entity: z.literal('friends'), user: userId, friend: userId, at: deletedAt }),
    z.strictObject({ entity: z.literal('blocks'), user: userId, blocked: userId, at: deletedAt }),
    z.strictObject({ entity: z.literal('groups'), id: groupId, at: deletedAt }),
    z.strictObject({ entity: z.literal('group_members'), group: groupId, user: userId, at: deletedAt }),
  ])
  .describe('deletions.ndjson: one tombstone per line (incremental exports)');
export type DeletionRecord = z.infer<typeof deletionRecord>;

export type UserRecord = z.infer<typeof userRecord>;
export type FriendRecord = z.infer<typeof friendRecord>;
export type BlockRecord = z.infer<typeof blockRecord>;
export type GroupRecord = z.infer<typeof groupRecord>;
export type GroupMemberRecord = z.infer<typeof groupMemberRecord>;
export type PeerMessageRecord = z.infer<typeof peerMessageRecord>;
export type GroupMessageRecord = z.infer<typeof groupMessageRecord>;
export type ReadStateRecord = z.infer<typeof readStateRecord>;
/** Either message kind: its type, body and extendedData become a ZIM MessageBody. */
export type MessageRecord = PeerMessageRecord | GroupMessageRecord;
export type TimeValue = z.infer<typeof time>;

export const ENTITY_SCHEMAS = {
  users: userRecord,
  friends: friendRecord,
  blocks: blockRecord,
  groups: groupRecord,
  group_members: groupMemberRecord,
  peer_messages: peerMessageRecord,
  group_messages: groupMessageRecord,
  read_states: readStateRecord,
} as const;

export type Entity = keyof typeof ENTITY_SCHEMAS;
/** Read in this order: referential checks need users, then groups, before what refers to them. */
export const ENTITIES: readonly Entity[] = [
  'users',
  'groups',
  'friends',
  'blocks',
  'group_members',
  'peer_messages',
  'group_messages',
  // After the messages: a read position names one.
  'read_states',
];
