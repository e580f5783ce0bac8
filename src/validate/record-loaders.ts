/**
 * One handler per entity file: check a parsed JSON line against its schema and ZIM's rules, report what
 * is wrong, and stage it unless an error makes it unimportable. Records are checked one at a time;
 * what needs other records (references, duplicates, caps) is checked in SQL afterwards.
 * Hot path (millions of records): no closures or throwaway functions are created per record.
 */
import type { z } from 'zod';
import { toZimContent } from '../import-format/message-body';
import {
  blockRecord,
  friendRecord,
  groupId,
  groupMemberRecord,
  groupMessageRecord,
  groupRecord,
  peerMessageRecord,
  readStateRecord,
  userRecord,
  type Entity,
  type TimeValue,
} from '../import-format/schemas';
import { toEpochMs } from '../import-format/time';
import {
  checkBlock,
  checkFriend,
  checkGroup,
  checkGroupMember,
  checkGroupMessage,
  checkPeerMessage,
  checkUser,
  type CheckContext,
  type RecordIssue,
} from '../import-format/zim-checks';
import type {
  BlockRow,
  FriendRow,
  GroupMessageRow,
  GroupRow,
  MemberRow,
  PeerMessageRow,
  Provenance,
  ReadStateRow,
  UserRow,
} from '../staging/sqlite/load-writer';
import { TO_PARAMS } from '../staging/sqlite/load-writer';
import { schemaIssues } from './record-issues';

export interface FileContext {
  app: number;
  file: number;
  check: CheckContext;
  groupIdPrefix: string;
  messageIdPrefix: string;
  /** Several apps merge: keep what identifies a message's content for the duplicate check. */
  multiApp: boolean;
}

/** Takes a record to stage, as the positional parameters of its entity's INSERT (TO_PARAMS). */
export type RowSink = (params: unknown[]) => void;

/** Reports a record's issues and says what becomes of it: a status (RowStatus) or null (not staged). */
export type IssueReporter = (line: number, recordId: string | null, issues: RecordIssue[]) => number | null;

export type RecordHandler = (line: number, value: Record<string, unknown>) => void;

interface Prepared<R> {
  recordId: string;
  issues: RecordIssue[];
  row: R;
}

interface EntitySpec<T, R> {
  schema: z.ZodType<T>;
  /** The record id for a reject when the record does not even parse. */
  rawId(raw: Record<string, unknown>): string | null;
  prepare(r: T, fc: FileContext): Prepared<R>;
  toParams(row: R, p: Provenance): unknown[];
}

function handler<T, R>(spec: EntitySpec<T, R>) {
  return (fc: FileContext, report: IssueReporter, emit: RowSink): RecordHandler =>
    (line, value) => {
      const parsed = spec.schema.safeParse(value);
      if (!parsed.success) {
        report(line, spec.rawId(value), schemaIssues(parsed.error, value));
        return;
      }
      const prepared = spec.prepare(parsed.data, fc);
      const status = report(line, prepared.recordId, prepared.issues);
      if (status !== null) emit(spec.toParams(prepared.row, { app: fc.app, file: fc.file, line, status }));
    };
}

const ms = (t: TimeValue | undefined) => (t === undefined ? null : toEpochMs(t));
const opt = <T>(v: T | undefined) => v ?? null;
const json = (v: object | undefined) => (v === undefined ? null : JSON.stringify(v));
const str = (raw: Record<string, unknown>, name: string) => (typeof raw[name] === 'string' ? raw[name] : null);
const pairId = (raw: Record<string, unknown>, a: string, b: string, sep: string) =>
  typeof raw[a] === 'string' ? `${raw[a]}${sep}${String(raw[b])}` : null;

/** The app's group id prefix applied; the prefixed id must still be a valid ZIM id. */
function mappedGroupId(id: string, fc: FileContext, issues: RecordIssue[]): string {
  if (!fc.groupIdPrefix) return id;
  const mapped = fc.groupIdPrefix + id;
  if (!groupId.safeParse(mapped).success)
    issues.push({
      rule: 'id.invalid',
      message: `group id ${id} with prefix ${fc.groupIdPrefix} is not a valid ZIM id`,
    });
  return mapped;
}

export const RECORD_HANDLERS: Record<Entity, (fc: FileContext, report: IssueReporter, emit: RowSink) => RecordHandler> =
  {
    users: handler<z.infer<typeof userRecord>, UserRow>({
      schema: userRecord,
      rawId: (raw) => str(raw, 'id'),
      prepare: (r, fc) => ({
        recordId: r.id,
        issues: checkUser(r, fc.check),
        row: {
          id: r.id,
          nickname: opt(r.nickname),
          avatarUrl: opt(r.avatarUrl),
          extendedData: opt(r.extendedData),
          createdAt: ms(r.createdAt),
          deactivated: r.deactivated ?? false,
        },
      }),
      toParams: TO_PARAMS.users,
    }),

    friends: handler<z.infer<typeof friendRecord>, FriendRow>({
      schema: friendRecord,
      rawId: (raw) => pairId(raw, 'user', 'friend', '→'),
      prepare: (r, fc) => ({
        recordId: `${r.user}→${r.friend}`,
        issues: checkFriend(r, fc.check),
        row: {
          user: r.user,
          friend: r.friend,
          alias: opt(r.alias),
          wording: opt(r.wording),
          attributes: json(r.attributes),
          since: ms(r.since),
        },
      }),
      toParams: TO_PARAMS.friends,
    }),

    blocks: handler<z.infer<typeof blockRecord>, BlockRow>({
      schema: blockRecord,
      rawId: (raw) => pairId(raw, 'user', 'blocked', '→'),
      prepare: (r, fc) => ({
        recordId: `${r.user}→${r.blocked}`,
        issues: checkBlock(r, fc.check),
        row: { user: r.user, blocked: r.blocked, since: ms(r.since) },
      }),
      toParams: TO_PARAMS.blocks,
    }),

    groups: handler<z.infer<typeof groupRecord>, GroupRow>({
      schema: groupRecord,
      rawId: (raw) => str(raw, 'id'),
      prepare: (r, fc) => {
        const issues = checkGroup(r, fc.check);
        const row: GroupRow = {
          id: mappedGroupId(r.id, fc, issues),
          sourceId: r.id,
          name: opt(r.name),
          owner: r.owner,
          avatarUrl: opt(r.avatarUrl),
          notice: opt(r.notice),
          attributes: json(r.attributes),
          createdAt: ms(r.createdAt),
          muted: r.muted ? 1 : 0,
        };
        return { recordId: r.id, issues, row };
      },
      toParams: TO_PARAMS.groups,
    }),

    group_members: handler<z.infer<typeof groupMemberRecord>, MemberRow>({
      schema: groupMemberRecord,
      rawId: (raw) => pairId(raw, 'group', 'user', '/'),
      prepare: (r, fc) => {
        const issues = checkGroupMember(r, fc.check);
        const row: MemberRow = {
          group: mappedGroupId(r.group, fc, issues),
          user: r.user,
          role: r.role ?? 'member',
          nickname: opt(r.nickname),
          joinedAt: ms(r.joinedAt),
        };
        return { recordId: `${r.group}/${r.user}`, issues, row };
      },
      toParams: TO_PARAMS.group_members,
    }),

    peer_messages: handler<z.infer<typeof peerMessageRecord>, PeerMessageRow>({
      schema: peerMessageRecord,
      rawId: (raw) => str(raw, 'id'),
      prepare: (r, fc) => {
        const zim = toZimContent(r);
        const deletedBy = r.deletedBy;
        const row: PeerMessageRow = {
          src: fc.messageIdPrefix + r.id,
          from: r.from,
          to: r.to,
          sent: toEpochMs(r.sentAt),
          type: zim.messageType,
          subType: zim.subType,
          body: JSON.stringify(zim.body),
          searched: opt(zim.searchedContent),
          deletedByFrom: deletedBy !== undefined && deletedBy.includes(r.from),
          deletedByTo: deletedBy !== undefined && deletedBy.includes(r.to),
          content: fc.multiApp ? JSON.stringify([r.type, r.body, r.extendedData ?? null]) : null,
        };
        return { recordId: r.id, issues: checkPeerMessage(r, zim, fc.check), row };
      },
      toParams: TO_PARAMS.peer_messages,
    }),

    group_messages: handler<z.infer<typeof groupMessageRecord>, GroupMessageRow>({
      schema: groupMessageRecord,
      rawId: (raw) => str(raw, 'id'),
      prepare: (r, fc) => {
        const zim = toZimContent(r);
        const issues = checkGroupMessage(r, zim, fc.check);
        const row: GroupMessageRow = {
          src: fc.messageIdPrefix + r.id,
          group: mappedGroupId(r.group, fc, issues),
          from: r.from,
          sent: toEpochMs(r.sentAt),
          type: zim.messageType,
          subType: zim.subType,
          body: JSON.stringify(zim.body),
          searched: opt(zim.searchedContent),
        };
        return { recordId: r.id, issues, row };
      },
      toParams: TO_PARAMS.group_messages,
    }),

    read_states: handler<z.infer<typeof readStateRecord>, ReadStateRow>({
      schema: readStateRecord,
      rawId: (raw) => pairId(raw, 'user', typeof raw.group === 'string' ? 'group' : 'peer', '/'),
      prepare: (r, fc) => {
        const issues: RecordIssue[] = [];
        if (r.peer === r.user)
          issues.push({ rule: 'relation.self', message: `${r.user} reads a conversation with themselves` });
        const row: ReadStateRow =
          r.group === undefined
            ? { user: r.user, kind: 'peer', conv: r.peer!, msg: fc.messageIdPrefix + r.lastReadMessage }
            : {
                user: r.user,
                kind: 'group',
                conv: mappedGroupId(r.group, fc, issues),
                msg: fc.messageIdPrefix + r.lastReadMessage,
              };
        return { recordId: `${r.user}/${r.group ?? r.peer!}`, issues, row };
      },
      toParams: TO_PARAMS.read_states,
    }),
  };
