/**
 * Bulk-loads validated records into a new staging file: prepared statements with positional
 * parameters inside large transactions, the fastest way into SQLite from Node.
 */
import type { Entity } from '../../import-format/schemas';
import type { StagedUser } from '../migration-store';
import type { Statement } from 'better-sqlite3';
import type { Db } from './database';
import { LOAD_SCHEMA, STAGING_FORMAT_VERSION } from './schema';

const ROWS_PER_TRANSACTION = 50_000;

/** Where a record came from and what became of it. */
export interface Provenance {
  app: number;
  file: number;
  line: number;
  status: number;
}

/** A user record of one app, before the merge fills `apps`. */
export type UserRow = Omit<StagedUser, 'apps'>;
export interface FriendRow {
  user: string;
  friend: string;
  alias: string | null;
  wording: string | null;
  attributes: string | null;
  since: number | null;
}
export interface BlockRow {
  user: string;
  blocked: string;
  since: number | null;
}
export interface GroupRow {
  id: string;
  sourceId: string;
  name: string | null;
  owner: string;
  avatarUrl: string | null;
  notice: string | null;
  attributes: string | null;
  createdAt: number | null;
  /** 1: mute the group after its history (MuteGroup). */
  muted: number;
}
export interface MemberRow {
  group: string;
  user: string;
  role: string;
  nickname: string | null;
  joinedAt: number | null;
}
export interface MessageRow {
  src: string;
  from: string;
  sent: number;
  type: number;
  subType: number;
  /** The ZIM MessageBody as JSON. */
  body: string;
  searched: string | null;
}
export interface PeerMessageRow extends MessageRow {
  to: string;
  deletedByFrom: boolean;
  deletedByTo: boolean;
  /** Set when several apps merge: the content compared to find duplicates (see merge-apps.ts). */
  content: string | null;
}
export interface GroupMessageRow extends MessageRow {
  group: string;
}
export interface ReadStateRow {
  user: string;
  kind: 'peer' | 'group';
  /** The peer user or the group (its prefixed id). */
  conv: string;
  /** The last-read message's source id (its prefixed id). */
  msg: string;
}

/** Each entity's row as the positional parameters of its INSERT, in the order of STAGED_COLUMNS. */
export const TO_PARAMS = {
  users: (r: UserRow, p: Provenance) => [
    p.app,
    r.id,
    r.nickname,
    r.avatarUrl,
    r.extendedData,
    r.createdAt,
    r.deactivated ? 1 : 0,
    p.file,
    p.line,
    p.status,
  ],
  friends: (r: FriendRow, p: Provenance) => [
    p.app,
    r.user,
    r.friend,
    r.alias,
    r.wording,
    r.attributes,
    r.since,
    p.file,
    p.line,
    p.status,
  ],
  blocks: (r: BlockRow, p: Provenance) => [p.app, r.user, r.blocked, r.since, p.file, p.line, p.status],
  groups: (r: GroupRow, p: Provenance) => [
    p.app,
    r.id,
    r.sourceId,
    r.name,
    r.owner,
    r.avatarUrl,
    r.notice,
    r.attributes,
    r.createdAt,
    r.muted,
    p.file,
    p.line,
    p.status,
  ],
  group_members: (r: MemberRow, p: Provenance) => [
    p.app,
    r.group,
    r.user,
    r.role,
    r.nickname,
    r.joinedAt,
    p.file,
    p.line,
    p.status,
  ],
  peer_messages: (r: PeerMessageRow, p: Provenance) => [
    p.app,
    r.src,
    r.from,
    r.to,
    r.sent,
    r.type,
    r.subType,
    r.body,
    r.searched,
    r.deletedByFrom ? 1 : 0,
    r.deletedByTo ? 1 : 0,
    p.file,
    p.line,
    p.status,
    r.content,
  ],
  group_messages: (r: GroupMessageRow, p: Provenance) => [
    p.app,
    r.src,
    r.group,
    r.from,
    r.sent,
    r.type,
    r.subType,
    r.body,
    r.searched,
    p.file,
    p.line,
    p.status,
  ],
  read_states: (r: ReadStateRow, p: Provenance) => [p.app, r.user, r.kind, r.conv, r.msg, p.file, p.line, p.status],
} satisfies Record<Entity, (row: never, p: Provenance) => unknown[]>;

/** The table and columns each entity's TO_PARAMS fills, in order. */
export const STAGED_COLUMNS: Record<Entity, { table: string; columns: readonly string[] }> = {
  users: {
    table: 'raw_users',
    columns: [
      'app',
      'id',
      'nickname',
      'avatar_url',
      'extended_data',
      'created_at',
      'deactivated',
      'file',
      'line',
      'status',
    ],
  },
  friends: {
    table: 'raw_friends',
    columns: ['app', 'user', 'friend', 'alias', 'wording', 'attributes', 'since', 'file', 'line', 'status'],
  },
  blocks: { table: 'raw_blocks', columns: ['app', 'user', 'blocked', 'since', 'file', 'line', 'status'] },
  groups: {
    table: 'raw_groups',
    columns: [
      'app',
      'id',
      'source_id',
      'name',
      'owner',
      'avatar_url',
      'notice',
      'attributes',
      'created_at',
      'muted',
      'file',
      'line',
      'status',
    ],
  },
  group_members: {
    table: 'raw_group_members',
    columns: ['app', 'grp', 'user', 'role', 'nickname', 'joined_at', 'file', 'line', 'status'],
  },
  peer_messages: {
    table: 'peer_messages',
    columns: [
      'app',
      'src',
      'f',
      't',
      'sent',
      'type',
      'sub_type',
      'body',
      'searched',
      'del_f',
      'del_t',
      'file',
      'line',
      'status',
      'content',
    ],
  },
  group_messages: {
    table: 'group_messages',
    columns: ['app', 'src', 'grp', 'f', 'sent', 'type', 'sub_type', 'body', 'searched', 'file', 'line', 'status'],
  },
  read_states: {
    table: 'raw_read_states',
    columns: ['app', 'user', 'kind', 'conv', 'msg', 'file', 'line', 'status'],
  },
};

export class StagingLoadWriter {
  private readonly s;
  private readonly inserts: Record<Entity, Statement>;
  private pending = 0;

  constructor(private readonly db: Db) {
    db.exec(LOAD_SCHEMA);
    db.prepare(`INSERT INTO meta(key, value) VALUES ('formatVersion', ?)`).run(String(STAGING_FORMAT_VERSION));
    this.s = {
      app: db.prepare(`INSERT INTO apps(idx, name, dir, rank) VALUES (?, ?, ?, ?)`),
      file: db.prepare(`INSERT INTO files(app, entity, path) VALUES (?, ?, ?)`),
      fileDone: db.prepare(`UPDATE files SET lines = ?, records = ? WHERE id = ?`),
    };
    this.inserts = Object.fromEntries(
      Object.entries(STAGED_COLUMNS).map(([entity, { table, columns }]) => [
        entity,
        db.prepare(`INSERT INTO ${table}(${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`),
      ])
    ) as Record<Entity, Statement>;
    db.exec('BEGIN');
  }

  addApp(idx: number, name: string, dir: string, rank: number): void {
    this.s.app.run(idx, name, dir, rank);
  }

  addFile(app: number, entity: Entity, path: string): number {
    return Number(this.s.file.run(app, entity, path).lastInsertRowid);
  }

  fileDone(file: number, lines: number, records: number): void {
    this.s.fileDone.run(lines, records, file);
  }

  /** Stages one record given as TO_PARAMS[entity] made it. */
  insert(entity: Entity, params: unknown[]): void {
    this.inserts[entity].run(params);
    if (++this.pending >= ROWS_PER_TRANSACTION) {
      this.db.exec('COMMIT');
      this.db.exec('BEGIN');
      this.pending = 0;
    }
  }

  /** Commits the load; later steps run their own statements. */
  finish(): void {
    this.db.exec('COMMIT');
  }
}
