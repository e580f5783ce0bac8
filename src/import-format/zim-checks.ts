/**
 * ZIM's rules that a record's shape cannot express: byte and character limits, times against "now" and
 * the plan's retention, self-relations, and the limits that depend on the ZIM plan (zim-limits.ts).
 * Each returns the issues of one record; an empty list means ZIM will take it.
 */
import type { ZimMessageContent } from './message-body';
import type { RuleId } from './rules';
import type {
  BlockRecord,
  FriendRecord,
  GroupMemberRecord,
  GroupMessageRecord,
  GroupRecord,
  MessageRecord,
  PeerMessageRecord,
  TimeValue,
  UserRecord,
} from './schemas';
import { DAY_MS, PLAUSIBLE_EPOCH_MS, toEpochMs } from './time';
import { ZIM_FIXED, type ZimLimits } from './zim-limits';

export interface RecordIssue {
  rule: RuleId;
  message: string;
}

export interface CheckContext {
  limits: ZimLimits;
  /** "Now" for the future and retention checks (the --as-of option; defaults to the real now). */
  asOfMs: number;
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const chars = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

class Issues {
  readonly list: RecordIssue[] = [];
  add(rule: RuleId, message: string): void {
    this.list.push({ rule, message });
  }
  maxBytes(field: string, value: string | undefined, max: number, rule: RuleId = 'size.field'): void {
    if (value !== undefined && value.length * 3 > max && bytes(value) > max)
      this.add(rule, `${field} is ${bytes(value)} bytes; ZIM accepts at most ${max}`);
  }
  maxChars(field: string, value: string | undefined, max: number): void {
    if (value !== undefined && value.length > max && chars(value) > max)
      this.add('size.field', `${field} is ${chars(value)} characters; ZIM accepts at most ${max}`);
  }
  /** A past time; `retention` marks message times, which the plan's retention window also bounds. */
  time(field: string, value: TimeValue | undefined, ctx: CheckContext, retention = false): void {
    if (value === undefined) return;
    const ms = toEpochMs(value);
    if (typeof value === 'number' && ms < PLAUSIBLE_EPOCH_MS) {
      this.add('time.seconds', `${field} ${value} is before 1973 as milliseconds; it looks like seconds`);
    } else if (ms > ctx.asOfMs) {
      this.add('time.future', `${field} ${new Date(ms).toISOString()} is after ${new Date(ctx.asOfMs).toISOString()}`);
    } else if (retention && ms < ctx.asOfMs - ctx.limits.retentionDays * DAY_MS) {
      const days = Math.floor((ctx.asOfMs - ms) / DAY_MS);
      this.add(
        'time.retention',
        `${field} is ${days} days old; the ${ctx.limits.plan} plan keeps ${ctx.limits.retentionDays} days of history`
      );
    }
  }
}

export function checkUser(r: UserRecord, ctx: CheckContext): RecordIssue[] {
  const is = new Issues();
  is.maxBytes('nickname', r.nickname, ZIM_FIXED.userNameBytes);
  is.maxBytes('avatarUrl', r.avatarUrl, ZIM_FIXED.avatarUrlBytes);
  is.maxBytes('extendedData', r.extendedData, ctx.limits.userExtraBytes, 'size.user-extra');
  is.time('createdAt', r.createdAt, ctx);
  return is.list;
}

export function checkFriend(r: FriendRecord, ctx: CheckContext): RecordIssue[] {
  const is = new Issues();
  if (r.user === r.friend) is.add('relation.self', `${r.user} befriends themselves`);
  is.maxChars('alias', r.alias, ZIM_FIXED.friendAliasChars);
  is.maxChars('wording', r.wording, ZIM_FIXED.friendWordingChars);
  if (r.attributes) {
    const keys = Object.keys(r.attributes);
    const bad = keys.filter((k) => !ZIM_FIXED.friendAttributeKeys.includes(k));
    if (bad.length) is.add('friend.attributes', `attribute keys ${bad.join(', ')} are not among k0..k4`);
    const total = Object.entries(r.attributes).reduce((n, [k, v]) => n + bytes(k) + bytes(v), 0);
    if (total > ZIM_FIXED.friendAttributesTotalBytes)
      is.add('friend.attributes', `attributes are ${total} bytes; ZIM accepts ${ZIM_FIXED.friendAttributesTotalBytes}`);
  }
  is.time('since', r.since, ctx);
  return is.list;
}

export function checkBlock(r: BlockRecord, ctx: CheckContext): RecordIssue[] {
  const is = new Issues();
  if (r.user === r.blocked) is.add('relation.self', `${r.user} blocks themselves`);
  is.time('since', r.since, ctx);
  return is.list;
}

export function checkGroup(r: GroupRecord, ctx: CheckContext): RecordIssue[] {
  const is = new Issues();
  if (r.id.startsWith('#')) is.add('id.group-hash', `group id ${r.id} starts with #`);
  is.maxChars('name', r.name, ZIM_FIXED.groupNameChars);
  is.maxBytes('notice', r.notice, ZIM_FIXED.groupNoticeBytes);
  is.maxBytes('avatarUrl', r.avatarUrl, ZIM_FIXED.groupAvatarBytes);
  if (r.attributes) {
    const entries = Object.entries(r.attributes);
    if (entries.length > ZIM_FIXED.groupAttributes)
      is.add('group.attributes', `${entries.length} attributes; ZIM accepts ${ZIM_FIXED.groupAttributes}`);
    for (const [k, v] of entries) {
      if (bytes(k) > ZIM_FIXED.groupAttributeKeyBytes || bytes(v) > ZIM_FIXED.groupAttributeValueBytes)
        is.add('group.attributes', `attribute ${JSON.stringify(k).slice(0, 40)} is too long`);
    }
  }
  is.time('createdAt', r.createdAt, ctx);
  return is.list;
}

export function checkGroupMember(r: GroupMemberRecord, ctx: CheckContext): RecordIssue[] {
  const is = new Issues();
  is.maxBytes('nickname', r.nickname, ZIM_FIXED.memberNicknameBytes);
  is.time('joinedAt', r.joinedAt, ctx);
  return is.list;
}

export function checkPeerMessage(r: PeerMessageRecord, zim: ZimMessageContent, ctx: CheckContext): RecordIssue[] {
  const is = new Issues();
  if (r.from === r.to) is.add('relation.self', `${r.from} messages themselves`);
  for (const u of r.deletedBy ?? [])
    if (u !== r.from && u !== r.to) is.add('message.deleted-by', `deletedBy names ${u}, who is neither from nor to`);
  checkMessage(is, r, zim, ctx);
  return is.list;
}

export function checkGroupMessage(r: GroupMessageRecord, zim: ZimMessageContent, ctx: CheckContext): RecordIssue[] {
  const is = new Issues();
  checkMessage(is, r, zim, ctx);
  return is.list;
}

function checkMessage(is: Issues, r: MessageRecord, zim: ZimMessageContent, ctx: CheckContext): void {
  is.maxBytes('the ZIM MessageBody.Message', zim.body.Message, ctx.limits.messageBytes, 'size.message');
  is.maxBytes('extendedData', r.extendedData, ZIM_FIXED.messageExtendedDataBytes);
  is.maxBytes('body.searchableContent', zim.searchedContent, ZIM_FIXED.searchedContentBytes);
  if (r.type !== 'text' && r.type !== 'custom') {
    is.maxBytes('body.url', r.body.url, ZIM_FIXED.mediaUrlBytes);
    is.maxBytes('body.fileName', r.body.fileName, ZIM_FIXED.mediaFileNameBytes);
  }
  is.time('sentAt', r.sentAt, ctx, true);
}
