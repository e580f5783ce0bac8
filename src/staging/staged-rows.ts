/** Table rows to staged types: the same columns on every engine (SQLite, PostgreSQL), so one mapping serves both. */
import type { ZimMessageBody } from '../import-format/message-body';
import type {
  LedgerEntry,
  LedgerStatus,
  StagedBlock,
  StagedFriend,
  StagedGroup,
  StagedGroupMember,
  StagedReadState,
  StagedUser,
} from './migration-store';

export type Row = Record<string, unknown>;
const str = (v: unknown) => v as string;
const optStr = (v: unknown) => (v ?? null) as string | null;
const optNum = (v: unknown) => (v ?? null) as number | null;
const optJson = <T>(v: unknown) => (v == null ? null : (JSON.parse(v as string) as T));

export function userOf(r: Row): StagedUser {
  return {
    id: str(r.id),
    nickname: optStr(r.nickname),
    avatarUrl: optStr(r.avatar_url),
    extendedData: optStr(r.extended_data),
    createdAt: optNum(r.created_at),
    deactivated: r.deactivated === 1,
    apps: JSON.parse(str(r.apps)) as string[],
  };
}

export function friendOf(r: Row): StagedFriend {
  return {
    user: str(r.user),
    friend: str(r.friend),
    alias: optStr(r.alias),
    wording: optStr(r.wording),
    attributes: optJson<Record<string, string>>(r.attributes),
    since: optNum(r.since),
  };
}

export function blockOf(r: Row): StagedBlock {
  return { user: str(r.user), blocked: str(r.blocked), since: optNum(r.since) };
}

export function groupOf(r: Row): StagedGroup {
  return {
    id: str(r.id),
    sourceId: str(r.source_id),
    app: str(r.app),
    name: optStr(r.name),
    owner: str(r.owner),
    avatarUrl: optStr(r.avatar_url),
    notice: optStr(r.notice),
    attributes: optJson<Record<string, string>>(r.attributes),
    createdAt: optNum(r.created_at),
    memberCount: r.member_count as number,
    adminCount: r.admin_count as number,
    nicknameCount: r.nickname_count as number,
    messageCount: r.message_count as number,
    // Absent from staging files planned before the column existed.
    muted: Number(r.muted ?? 0) === 1,
  };
}

export function memberOf(r: Row): StagedGroupMember {
  return {
    groupId: str(r.grp),
    user: str(r.user),
    role: r.role as StagedGroupMember['role'],
    nickname: optStr(r.nickname),
    joinedAt: optNum(r.joined_at),
  };
}

export function readStateOf(r: Row): StagedReadState {
  return { user: str(r.user), kind: r.kind as StagedReadState['kind'], conv: str(r.conv), msg: str(r.msg) };
}

/** Page `page` of the read-state stage: ids are dense from 1 in read order (finalize.ts). */
export const readStatePageRange = (page: number, size: number) => [page * size, (page + 1) * size] as const;

export function entryOf(r: Row): LedgerEntry {
  const entry: LedgerEntry = { status: r.status as LedgerStatus };
  if (r.zim_code != null) entry.zimCode = r.zim_code as number;
  if (r.zim_message != null) entry.zimMessage = str(r.zim_message);
  if (r.msg_id != null) entry.msgId = str(r.msg_id);
  if (r.msg_seq != null) entry.msgSeq = r.msg_seq as number;
  return entry;
}

export function messageFields(r: Row) {
  const m = {
    sourceId: str(r.src),
    from: str(r.f),
    sentTime: r.sent as number,
    type: r.type as number,
    subType: r.sub_type as number,
    body: JSON.parse(str(r.body)) as ZimMessageBody,
  };
  return r.searched == null ? m : { ...m, searchedContent: str(r.searched) };
}
