/**
 * An incremental export made whole (issue #13): the app as the migration staged it, with the delta's records
 * upserted by key and its tombstones applied, written as a full export directory. A round then validates and
 * compares it like any later full export, so references in the delta (a new friendship of an account staged long
 * ago) are checked against everything, and one difference computation serves both kinds of export.
 *
 * Messages are the delta's only: history staged earlier is never re-imported, and a message's absence from a delta
 * means nothing. Memory holds the delta's keys (its size), never the staged app's: staged rows stream from SQLite.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { scanExportDir } from '../import-format/export-dir';
import { renderManifest, type ExportManifest } from '../import-format/manifest';
import { readNdjsonFile } from '../import-format/ndjson-reader';
import { deletionRecord, type Entity } from '../import-format/schemas';
import { NdjsonFileWriter } from '../synthetic/ndjson-writer';
import { UsageError } from '../shared/usage-error';

type Rec = Record<string, unknown>;
type HeldEntity = 'users' | 'friends' | 'blocks' | 'groups' | 'group_members';
const HELD: readonly HeldEntity[] = ['users', 'friends', 'blocks', 'groups', 'group_members'];
const k2 = (a: unknown, b: unknown) => `${String(a)}\u0000${String(b)}`;

/** An export record's key, as its file keys it. */
const KEY: Record<HeldEntity, (r: Rec) => string> = {
  users: (r) => String(r.id),
  friends: (r) => k2(r.user, r.friend),
  blocks: (r) => k2(r.user, r.blocked),
  groups: (r) => String(r.id),
  group_members: (r) => k2(r.group, r.user),
};

/** Staged rows back into export records (source group ids, optional fields left out when empty). */
const compact = (r: Rec): Rec => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null && v !== undefined));
const parsed = (v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as Rec) : undefined);
const STAGED: Record<HeldEntity, { sql: string; record: (r: Rec) => Rec }> = {
  users: {
    sql: `SELECT * FROM users ORDER BY id`,
    record: (r) =>
      compact({
        id: r.id,
        nickname: r.nickname,
        avatarUrl: r.avatar_url,
        extendedData: r.extended_data,
        createdAt: r.created_at,
        deactivated: r.deactivated === 1 ? true : undefined,
      }),
  },
  friends: {
    sql: `SELECT * FROM friends ORDER BY user, friend`,
    record: (r) =>
      compact({
        user: r.user,
        friend: r.friend,
        alias: r.alias,
        wording: r.wording,
        attributes: parsed(r.attributes),
        since: r.since,
      }),
  },
  blocks: {
    sql: `SELECT * FROM blocks ORDER BY user, blocked`,
    record: (r) => compact({ user: r.user, blocked: r.blocked, since: r.since }),
  },
  groups: {
    sql: `SELECT * FROM groups ORDER BY id`,
    record: (r) =>
      compact({
        id: r.source_id,
        name: r.name,
        owner: r.owner,
        avatarUrl: r.avatar_url,
        notice: r.notice,
        attributes: parsed(r.attributes),
        createdAt: r.created_at,
      }),
  },
  group_members: {
    sql: `SELECT m.*, g.source_id FROM group_members m JOIN groups g ON g.id = m.grp ORDER BY m.grp, m.user`,
    record: (r) =>
      compact({ group: r.source_id, user: r.user, role: r.role, nickname: r.nickname, joinedAt: r.joined_at }),
  },
};

async function readAll(file: string, each: (r: Rec, where: string) => void): Promise<void> {
  await readNdjsonFile(file, {
    record: (line, value) => each(value, `${file}:${line}`),
    reject: (line, rule, message) => {
      throw new UsageError(`${file}${line ? `:${line}` : ''}: ${rule}: ${message}; fix the delta and run again`);
    },
  });
}

/**
 * Writes `<outDir>` as the full export the delta brings the staged app to. A tombstone for a record the migration
 * never staged is an error naming it: the delta does not continue this migration's exports.
 */
export async function materializeIncremental(
  staging: string,
  deltaDir: string,
  manifest: Extract<ExportManifest, { kind: 'incremental' }>,
  outDir: string
): Promise<void> {
  const delta = scanExportDir(deltaDir);
  // Read positions name messages of earlier rounds, which a delta does not hold: refused, never dropped silently.
  const readStates = delta.files.find((f) => f.entity === 'read_states');
  if (readStates)
    throw new UsageError(
      `${readStates.path}: read states are not taken from incremental exports yet; leave them out of the delta, or give a full export for this round`
    );
  const upserted = new Map<HeldEntity, Set<string>>(HELD.map((e) => [e, new Set()]));
  for (const f of delta.files)
    if ((HELD as readonly Entity[]).includes(f.entity)) {
      const entity = f.entity as HeldEntity;
      await readAll(f.path, (r) => upserted.get(entity)!.add(KEY[entity](r)));
    }
  const deleted = new Map<HeldEntity, Map<string, string>>(HELD.map((e) => [e, new Map()]));
  for (const file of delta.deletions)
    await readAll(file, (raw, where) => {
      const t = deletionRecord.safeParse(raw);
      if (!t.success)
        throw new UsageError(
          `${where}: not a tombstone (${t.error.issues.map((i) => i.message).join('; ')}); ` +
            'see docs/import-format.md#incremental-exports'
        );
      const { entity, at: _at, ...key } = t.data;
      deleted.get(entity)!.set(KEY[entity](key), where);
    });

  const db = new Database(staging, { readonly: true });
  try {
    // Every tombstone must name something staged (a dismissed group's members go with it).
    const has = {
      users: db.prepare(`SELECT 1 FROM users WHERE id = ?`),
      friends: db.prepare(`SELECT 1 FROM friends WHERE user = ? AND friend = ?`),
      blocks: db.prepare(`SELECT 1 FROM blocks WHERE user = ? AND blocked = ?`),
      groups: db.prepare(`SELECT 1 FROM groups WHERE source_id = ?`),
      group_members: db.prepare(
        `SELECT 1 FROM group_members m JOIN groups g ON g.id = m.grp WHERE g.source_id = ? AND m.user = ?`
      ),
    };
    for (const [entity, keys] of deleted)
      for (const [key, where] of keys)
        if (!has[entity].get(...key.split('\u0000')))
          throw new UsageError(
            `${where}: a tombstone for ${entity} ${key.replace('\u0000', ' / ')}, which this migration never staged; ` +
              'the delta does not continue this migration (check its since), or the record was left out when planning'
          );
    const goneGroups = deleted.get('groups')!;

    mkdirSync(outDir, { recursive: true });
    for (const entity of HELD) {
      const w = new NdjsonFileWriter(path.join(outDir, `${entity}.ndjson`), false);
      for (const row of db.prepare(STAGED[entity].sql).iterate() as Iterable<Rec>) {
        const r = STAGED[entity].record(row);
        const key = KEY[entity](r);
        if (upserted.get(entity)!.has(key) || deleted.get(entity)!.has(key)) continue;
        if (entity === 'group_members' && goneGroups.has(String(r.group))) continue;
        w.write(r);
        await w.settle();
      }
      for (const f of delta.files.filter((x) => x.entity === entity)) await readAll(f.path, (r) => w.write(r));
      await w.close();
    }
  } finally {
    db.close();
  }
  // History: the delta's messages as they are (file names keep their parts and compression).
  for (const f of delta.files.filter((x) => x.entity === 'peer_messages' || x.entity === 'group_messages'))
    copyFileSync(f.path, path.join(outDir, path.basename(f.path)));
  writeFileSync(path.join(outDir, 'export.json'), renderManifest({ kind: 'full', untilMs: manifest.untilMs }));
}
