/**
 * `zim-migrate dev --coexist` seeds the reference legacy server with its sample export before capture starts: the
 * export stands for the legacy system's history, so the legacy side must hold what the import gives ZIM (its
 * users, groups with their members and profiles, messages), or the audit finds every imported group on ZIM only.
 * Read with the import's own reader (plain, gzip or split files); lines the import format rejects are skipped (plan
 * rejects them too). Returns what it seeded, which the export
 * (src/testing/legacy-export.ts) takes from the sample's own files, at full fidelity, instead.
 */
import type { z } from 'zod';
import { scanExportDir, type ExportDir } from '../import-format/export-dir';
import { readNdjsonFile } from '../import-format/ndjson-reader';
import type { LegacyStore } from '../legacy-server/store';
import {
  groupMemberRecord,
  groupMessageRecord,
  groupRecord,
  peerMessageRecord,
  userRecord,
  type Entity,
  type MessageRecord,
} from '../import-format/schemas';
import { toEpochMs } from '../import-format/time';

export interface SeededIds {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  /** Messages seeded per conversation key: its first ones (seeded before any send), whatever their ids. */
  messages: ReadonlyMap<string, number>;
}

/** The valid records of one entity's files (plain, gzip or in parts; none when the export has none). */
async function records<T extends z.ZodType>(dir: ExportDir, entity: Entity, schema: T): Promise<Array<z.output<T>>> {
  const out: Array<z.output<T>> = [];
  for (const file of dir.files.filter((f) => f.entity === entity))
    await readNdjsonFile(file.path, {
      record: (_line, value) => {
        const r = schema.safeParse(value);
        if (r.success) out.push(r.data);
      },
      reject: () => undefined,
    });
  return out;
}

/** The legacy contract carries text: a text message's text, another type's body as JSON. */
const bodyOf = (m: MessageRecord) => (m.type === 'text' ? m.body.text : JSON.stringify(m.body));

export async function seedLegacyFromExport(store: LegacyStore, exportDir: string): Promise<SeededIds> {
  const dir = scanExportDir(exportDir);
  const users = await records(dir, 'users', userRecord);
  store.addUsers(users.map((u) => u.id));
  // The import gives a deactivated account no memberships (docs/import-format.md), and this server has no
  // deactivated state: such a member would be on the legacy side only.
  const active = new Set(users.filter((u) => !u.deactivated).map((u) => u.id));
  const members = new Map<string, string[]>();
  for (const m of await records(dir, 'group_members', groupMemberRecord))
    if (active.has(m.user)) members.set(m.group, [...(members.get(m.group) ?? []), m.user]);
  const groups = await records(dir, 'groups', groupRecord);
  for (const g of groups)
    store.seedGroup({
      id: g.id,
      name: g.name ?? '',
      owner: g.owner,
      members: members.get(g.id) ?? [],
      createdAt: g.createdAt !== undefined ? toEpochMs(g.createdAt) : 0,
      ...(g.notice !== undefined ? { notice: g.notice } : {}),
      ...(g.avatarUrl !== undefined ? { avatar: g.avatarUrl } : {}),
    });
  const messages = [
    ...(await records(dir, 'peer_messages', peerMessageRecord)),
    ...(await records(dir, 'group_messages', groupMessageRecord)),
  ]
    .map((m) => ({ m, sentAt: toEpochMs(m.sentAt) }))
    .sort((a, b) => a.sentAt - b.sentAt);
  const seeded = new Map<string, number>();
  for (const { m, sentAt } of messages) {
    const key = store.seedMessage({
      id: m.id,
      from: m.from,
      ...('to' in m ? { to: m.to } : { groupId: m.group }),
      body: bodyOf(m),
      sentAt,
    });
    seeded.set(key, (seeded.get(key) ?? 0) + 1);
  }
  return {
    users: new Set(users.map((u) => u.id)),
    groups: new Set(groups.map((g) => g.id)),
    messages: seeded,
  };
}
