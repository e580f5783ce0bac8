/**
 * Bulk-loads validated records into a new staging file: prepared statements with positional
 * parameters inside large transactions, the fastest way into SQLite from Node.
 */
import type { Entity } from '../../import-format/schemas';
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

export interface UserRow {
  id: string;
  nickname: string | null;
  avatarUrl: string | null;
  extendedData: string | null;
  createdAt: number | null;
  deactivated: boolean;
}
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

export class StagingLoadWriter {
  private readonly s;
  private pending = 0;

  constructor(private readonly db: Db) {
    db.exec(LOAD_SCHEMA);
    db.prepare(`INSERT INTO meta(key, value) VALUES ('formatVersion', ?)`).run(String(STAGING_FORMAT_VERSION));
    this.s = {
      app: db.prepare(`INSERT INTO apps(idx, name, dir, rank) VALUES (?, ?, ?, ?)`),
      file: db.prepare(`INSERT INTO files(app, entity, path) VALUES (?, ?, ?)`),
      fileDone: db.prepare(`UPDATE files SET lines = ?, records = ? WHERE id = ?`),
      user: db.prepare(`INSERT INTO raw_users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      friend: db.prepare(`INSERT INTO raw_friends VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      block: db.prepare(`INSERT INTO raw_blocks VALUES (?, ?, ?, ?, ?, ?, ?)`),
      group: db.prepare(`INSERT INTO raw_groups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      member: db.prepare(`INSERT INTO raw_group_members VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      peer: db.prepare(
        `INSERT INTO peer_messages(app, src, f, t, sent, type, sub_type, body, searched, del_f, del_t, file, line, status, content)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
      ),
      groupMessage: db.prepare(
        `INSERT INTO group_messages(app, src, grp, f, sent, type, sub_type, body, searched, file, line, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
      ),
    };
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

  user(r: UserRow, p: Provenance): void {
    this.s.user.run(
      p.app,
      r.id,
      r.nickname,
      r.avatarUrl,
      r.extendedData,
      r.createdAt,
      r.deactivated ? 1 : 0,
      p.file,
      p.line,
      p.status
    );
    this.tick();
  }

  friend(r: FriendRow, p: Provenance): void {
    this.s.friend.run(p.app, r.user, r.friend, r.alias, r.wording, r.attributes, r.since, p.file, p.line, p.status);
    this.tick();
  }

  block(r: BlockRow, p: Provenance): void {
    this.s.block.run(p.app, r.user, r.blocked, r.since, p.file, p.line, p.status);
    this.tick();
  }

  group(r: GroupRow, p: Provenance): void {
    this.s.group.run(
      p.app,
      r.id,
      r.sourceId,
      r.name,
      r.owner,
      r.avatarUrl,
      r.notice,
      r.attributes,
      r.createdAt,
      p.file,
      p.line,
      p.status
    );
    this.tick();
  }

  member(r: MemberRow, p: Provenance): void {
    this.s.member.run(p.app, r.group, r.user, r.role, r.nickname, r.joinedAt, p.file, p.line, p.status);
    this.tick();
  }

  peerMessage(r: PeerMessageRow, p: Provenance): void {
    this.s.peer.run(
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
      r.content
    );
    this.tick();
  }

  groupMessage(r: GroupMessageRow, p: Provenance): void {
    this.s.groupMessage.run(
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
      p.status
    );
    this.tick();
  }

  /** Commits the load; later steps run their own statements. */
  finish(): void {
    this.db.exec('COMMIT');
  }

  private tick(): void {
    if (++this.pending >= ROWS_PER_TRANSACTION) {
      this.db.exec('COMMIT');
      this.db.exec('BEGIN');
      this.pending = 0;
    }
  }
}
