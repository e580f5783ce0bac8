/**
 * Sendbird → our export records (docs/sources.md, "Sendbird"): users, distinct 2-member group channels as one-to-one
 * history, every other group channel and supergroup as a ZIM group (operators → admins), MESG/FILE/ADMM and unknown
 * message types to our message types. Pure functions of their input, the id map and the settings, so every unit
 * maps the same way. What cannot be mapped is counted in the report, never dropped silently.
 */
import type {
  GroupMemberRecord,
  GroupMessageRecord,
  GroupRecord,
  PeerMessageRecord,
  ReadStateRecord,
  UserRecord,
} from '../../import-format/schemas';
import type { IdMap } from '../id-map';
import type { ReportBuilder } from '../report';
import { optionalMs, toEpochMs } from '../time';
import type { SbChannel, SbFile, SbMember, SbMessage, SbUser } from './schemas';

export interface SendbirdMappingSettings {
  /** Admin messages (ADMM) have no sender: sent by `systemUserId` in groups, or dropped. */
  adminMessages: 'system' | 'drop';
  systemUserId: string;
  /** Messages with is_removed: left out (Sendbird's apps hide them) or kept as they were. */
  removedMessages: 'skip' | 'keep';
}

export const DEFAULT_MAPPING: SendbirdMappingSettings = {
  adminMessages: 'system',
  systemUserId: 'sendbird_admin',
  removedMessages: 'skip',
};

/** SubMsgTypes of the custom messages we write (docs/sources.md). */
export const SUBTYPE = { appData: 1, unknownType: 199 } as const;

const EXTENDED_DATA_BYTES = 1024;
const USER_EXTRA_BYTES = 2048;
const URL_BYTES = 500;
const GROUP_NAME_CHARS = 50;
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

export function mapUser(u: SbUser, ids: IdMap, report: ReportBuilder): UserRecord {
  const record: UserRecord = { id: ids.zimId(u.user_id, 'user') };
  if (u.nickname) record.nickname = u.nickname;
  if (u.profile_url) {
    if (bytes(u.profile_url) <= URL_BYTES) record.avatarUrl = u.profile_url;
    else
      report.add(
        'user.avatar-too-long',
        "profile_url longer than ZIM's 500 bytes: left out; re-host the image under a shorter URL",
        u.user_id
      );
  }
  if (u.metadata && Object.keys(u.metadata).length) {
    const extra = JSON.stringify({ metadata: u.metadata });
    if (bytes(extra) <= USER_EXTRA_BYTES) record.extendedData = extra;
    else report.add('user.metadata-too-large', 'metadata over 2 KB: left out of the profile', u.user_id);
  }
  const created = optionalMs(u.created_at);
  if (created !== undefined) record.createdAt = created;
  if (u.is_active === false) record.deactivated = true;
  return record;
}

/** A user we only know from a message or a membership (deleted from Sendbird): kept as a deactivated account. */
export function mapUnlistedUser(userId: string, nickname: string | undefined, ids: IdMap): UserRecord {
  return { id: ids.zimId(userId, 'user'), ...(nickname ? { nickname } : {}), deactivated: true };
}

export type ChannelKind = 'peer' | 'group';

/** A distinct group channel of exactly two members is a one-to-one conversation; everything else a group. */
export function channelKind(ch: SbChannel, memberCount: number): ChannelKind {
  return ch.is_distinct === true && ch.is_super !== true && memberCount === 2 ? 'peer' : 'group';
}

export interface MappedGroup {
  group: GroupRecord;
  members: GroupMemberRecord[];
}

/**
 * ZIM needs an owner and Sendbird has none: the first operator who is a member, else the channel's creator if a
 * member, else the first member listed. Other operators become admins.
 */
export function mapGroup(
  ch: SbChannel,
  members: SbMember[],
  operatorIds: string[],
  ids: IdMap,
  report: ReportBuilder
): MappedGroup | undefined {
  const memberIds = members.map((m) => m.user_id);
  if (memberIds.length === 0) {
    report.add(
      'channel.no-members',
      'a group channel without members: ZIM needs an owner, so it is left out',
      ch.channel_url
    );
    return undefined;
  }
  const isMember = new Set(memberIds);
  const ownerSource =
    operatorIds.find((o) => isMember.has(o)) ??
    (ch.created_by && isMember.has(ch.created_by.user_id) ? ch.created_by.user_id : undefined) ??
    memberIds[0]!;
  const operators = new Set(operatorIds);
  const group: GroupRecord = { id: ids.zimId(ch.channel_url, 'group'), owner: ids.zimId(ownerSource, 'user') };
  if (ch.name) {
    const chars = [...ch.name];
    if (chars.length > GROUP_NAME_CHARS) {
      group.name = chars.slice(0, GROUP_NAME_CHARS).join('');
      report.add('channel.name-shortened', "channel name over ZIM's 50 characters: cut to 50", ch.channel_url);
    } else group.name = ch.name;
  }
  if (ch.cover_url) {
    if (bytes(ch.cover_url) <= URL_BYTES) group.avatarUrl = ch.cover_url;
    else report.add('channel.cover-too-long', 'cover_url over 500 bytes: left out', ch.channel_url);
  }
  const attributes: Record<string, string> = {};
  for (const [key, value] of [
    ['sb_custom_type', ch.custom_type],
    ['sb_data', ch.data],
  ] as const) {
    if (!value) continue;
    if (bytes(value) <= 1024) attributes[key] = value;
    else
      report.add(
        'channel.data-too-large',
        `channel ${key.slice(3)} over 1 KB: left out of the group attributes`,
        ch.channel_url
      );
  }
  if (Object.keys(attributes).length) group.attributes = attributes;
  const created = optionalMs(ch.created_at);
  if (created !== undefined) group.createdAt = created;
  if (ch.freeze) {
    // Only operators may send in a frozen channel: the migration mutes the group's plain members after its history.
    group.muted = true;
    report.add(
      'channel.frozen',
      'frozen channel: exported as a muted group (after its history, MuteGroup mutes its plain members; the owner and admins can still send)',
      ch.channel_url
    );
  }
  const seen = new Set<string>();
  const out: GroupMemberRecord[] = [];
  for (const m of members) {
    if (seen.has(m.user_id)) continue;
    seen.add(m.user_id);
    const role = m.user_id === ownerSource ? 'owner' : operators.has(m.user_id) ? 'admin' : 'member';
    const record: GroupMemberRecord = { group: group.id, user: ids.zimId(m.user_id, 'user'), role };
    out.push(record);
  }
  for (const o of operatorIds)
    if (!isMember.has(o))
      report.add(
        'channel.operator-not-member',
        'an operator who is not a member: ZIM admins are members, so left out',
        `${ch.channel_url}/${o}`
      );
  return { group, members: out };
}

export interface ChannelContext {
  kind: ChannelKind;
  channelUrl: string;
  /** Zim group id, for groups. */
  groupId?: string;
  /** The two source user ids, for one-to-one channels. */
  pair?: [string, string];
}

export type MappedMessage =
  { kind: 'peer'; record: PeerMessageRecord } | { kind: 'group'; record: GroupMessageRecord } | undefined;

type Content = Pick<PeerMessageRecord, 'type' | 'body'> & { extendedData?: string };

/** Stable source id: Sendbird message ids are unique per application. */
export const sourceMessageId = (m: SbMessage) => String(m.message_id);

export function mapMessage(
  m: SbMessage,
  ctx: ChannelContext,
  settings: SendbirdMappingSettings,
  ids: IdMap,
  report: ReportBuilder,
  unlisted: Map<string, string | undefined>
): MappedMessage {
  const id = sourceMessageId(m);
  if (m.is_removed && settings.removedMessages === 'skip') {
    report.add(
      'message.removed',
      'deleted in Sendbird (is_removed): left out (--removed-messages keep imports them)',
      id
    );
    return undefined;
  }
  let senderSource = m.user?.user_id ?? undefined;
  if (m.type === 'ADMM' || !senderSource) {
    if (settings.adminMessages === 'drop') {
      report.add(
        'message.admin-dropped',
        'admin message (no sender): left out (--admin-messages system keeps them)',
        id
      );
      return undefined;
    }
    if (ctx.kind === 'peer') {
      report.add(
        'message.admin-in-dm',
        'admin message in a one-to-one channel: ZIM one-to-one history has only its two participants, so left out',
        id
      );
      return undefined;
    }
    senderSource = settings.systemUserId;
  }
  const content = mapContent(m, report);
  if (!content) return undefined;
  const sentAt = toEpochMs(m.created_at);
  const from = ids.zimId(senderSource, 'user');
  if (senderSource !== settings.systemUserId && !unlisted.has(senderSource))
    unlisted.set(senderSource, m.user?.nickname ?? undefined);
  if (ctx.kind === 'group')
    return { kind: 'group', record: { id, group: ctx.groupId!, from, sentAt, ...content } as GroupMessageRecord };
  const [a, b] = ctx.pair!;
  if (senderSource !== a && senderSource !== b) {
    report.add('message.sender-not-in-dm', "sender is not one of the one-to-one channel's two members: left out", id);
    return undefined;
  }
  const to = ids.zimId(senderSource === a ? b : a, 'user');
  return { kind: 'peer', record: { id, from, to, sentAt, ...content } as PeerMessageRecord };
}

function appData(m: SbMessage): string | undefined {
  if (!m.custom_type && !m.data) return undefined;
  return JSON.stringify({
    ...(m.custom_type ? { custom_type: m.custom_type } : {}),
    ...(m.data ? { data: m.data } : {}),
  });
}

function mapContent(m: SbMessage, report: ReportBuilder): Content | undefined {
  const id = sourceMessageId(m);
  const extra = appData(m);
  // data/custom_type ride along as extended data; too large for it (1 KB), the message becomes a custom one.
  const withExtra = (c: Content): Content => {
    if (extra === undefined) return c;
    if (bytes(extra) <= EXTENDED_DATA_BYTES) return { ...c, extendedData: extra };
    report.add(
      'message.data-as-custom',
      'data/custom_type over 1 KB: the message is a custom message (subType 1) holding text, custom_type and data',
      id
    );
    return {
      type: 'custom',
      body: {
        subType: SUBTYPE.appData,
        content: JSON.stringify({ message: m.message ?? '', custom_type: m.custom_type, data: m.data }),
      },
    };
  };
  if (m.type === 'MESG' || m.type === 'ADMM') {
    if (m.message) return withExtra({ type: 'text', body: { text: m.message } });
    if (extra !== undefined) return { type: 'custom', body: { subType: SUBTYPE.appData, content: extra } };
    report.add('message.empty', 'a text message with no text, data or custom_type: nothing to import', id);
    return undefined;
  }
  if (m.type === 'FILE') {
    const file = firstFile(m);
    if (!file?.url) {
      report.add('message.file-without-url', 'a file message without a file URL: left out', id);
      return undefined;
    }
    if (file.require_auth)
      report.add(
        'message.file-requires-auth',
        'Sendbird-hosted file behind auth: the URL is imported as is; download with the API token and re-host before cut-over',
        id
      );
    return withExtra(fileContent(file, id));
  }
  report.add(
    'message.unknown-type',
    `a message type we do not know: imported as a custom message (subType ${SUBTYPE.unknownType}) holding the raw message`,
    id
  );
  return { type: 'custom', body: { subType: SUBTYPE.unknownType, content: JSON.stringify(m) } };
}

function firstFile(m: SbMessage): SbFile | undefined {
  if (m.files && m.files.length) return m.files[0];
  const f = m.file as SbFile | undefined;
  return f && Object.keys(f).length ? f : undefined;
}

function fileContent(f: SbFile, id: string): Content {
  const url = f.url!;
  const fileName = f.name ?? f.file_name ?? url.split('/').pop()?.split('?')[0] ?? `file-${id}`;
  const size = f.size ?? f.file_size ?? undefined;
  const mime = f.type ?? f.file_type ?? '';
  const sized = size !== undefined && size !== null && size >= 0 ? { size: Math.round(size) } : {};
  if (mime.startsWith('image/')) {
    const t = f.thumbnails?.find((x) => x.url && x.width && x.height);
    const thumbnail = t
      ? { thumbnail: { url: t.url!, width: Math.round(t.width!), height: Math.round(t.height!) } }
      : {};
    return { type: 'image', body: { url, fileName, ...sized, ...thumbnail } };
  }
  // Sendbird keeps no duration: 0 says unknown.
  if (mime.startsWith('video/')) return { type: 'video', body: { url, fileName, ...sized, duration: 0 } };
  if (mime.startsWith('audio/')) return { type: 'audio', body: { url, fileName, ...sized, duration: 0 } };
  return { type: 'file', body: { url, fileName, ...sized } };
}

/** A message as written to the channel's file, in import order: all a read position needs of it. */
export interface WrittenMessage {
  id: string;
  sentAt: number;
}

/**
 * The channel's `read_receipt` (source user id → last-read time) as read states: each member's position is the last
 * message written at or before their time (Sendbird counts a message read when its created_at ≤ that time, so
 * messages sharing the time are read too). One-to-one channels give each owner's copy its own position. A member
 * who has read nothing written (time 0, or before the first message) and a reader who is not a member are reported,
 * not exported; whether a position is the conversation's newest is for validation to say (read.partial).
 */
export function mapReadReceipt(
  receipt: Record<string, number>,
  ctx: ChannelContext,
  members: readonly string[],
  written: readonly WrittenMessage[],
  ids: IdMap,
  report: ReportBuilder
): ReadStateRecord[] {
  const out: ReadStateRecord[] = [];
  const memberSet = new Set(ctx.kind === 'peer' ? ctx.pair! : members);
  const times = written.map((m) => m.sentAt);
  for (const [reader, time] of Object.entries(receipt)) {
    const example = `${ctx.channelUrl}/${reader}`;
    if (!memberSet.has(reader)) {
      report.add(
        'read-state.not-member',
        'a read receipt of a user who is not a member of the channel: left out',
        example
      );
      continue;
    }
    const at = time > 0 ? toEpochMs(time) : 0;
    const last = lastAtOrBefore(times, at);
    if (last < 0) {
      report.add(
        'read-state.nothing-read',
        "a member who has read none of the channel's messages: no read state (ZIM cannot mark a conversation unread)",
        example
      );
      continue;
    }
    const user = ids.zimId(reader, 'user');
    const lastReadMessage = written[last]!.id;
    if (ctx.kind === 'group') out.push({ user, group: ctx.groupId!, lastReadMessage });
    else {
      const [a, b] = ctx.pair!;
      out.push({ user, peer: ids.zimId(reader === a ? b : a, 'user'), lastReadMessage });
    }
  }
  return out;
}

/** Index of the last time ≤ t in ascending `times`, or -1. */
function lastAtOrBefore(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
