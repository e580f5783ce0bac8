/**
 * `zim-migrate dev --coexist` seeds the reference legacy server with its sample export before capture starts: the
 * export stands for the legacy system's history, so the legacy side must hold what the import gives ZIM (its
 * users, groups with their members and profiles, messages), or the audit finds every imported group on ZIM only.
 * Lines the import format rejects are skipped (plan rejects them too). Returns what it seeded, which the export
 * (src/testing/legacy-export.ts) takes from the sample's own files, at full fidelity, instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import type { LegacyStore } from '../legacy-server/store';
import {
  groupMemberRecord,
  groupMessageRecord,
  groupRecord,
  peerMessageRecord,
  userRecord,
  type MessageRecord,
} from '../import-format/schemas';
import { toEpochMs } from '../import-format/time';

export interface SeededIds {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  /** Messages seeded per conversation key: its first ones (seeded before any send), whatever their ids. */
  messages: ReadonlyMap<string, number>;
}

/** The valid records of one NDJSON file of the export (none when it has no such file). */
function records<T extends z.ZodType>(dir: string, file: string, schema: T): Array<z.output<T>> {
  const at = path.join(dir, file);
  if (!existsSync(at)) return [];
  const out: Array<z.output<T>> = [];
  for (const line of readFileSync(at, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      continue;
    }
    const r = schema.safeParse(json);
    if (r.success) out.push(r.data);
  }
  return out;
}

/** The legacy contract carries text: a text message's text, another type's body as JSON. */
const bodyOf = (m: MessageRecord) => (m.type === 'text' ? m.body.text : JSON.stringify(m.body));

export function seedLegacyFromExport(store: LegacyStore, exportDir: string): SeededIds {
  const users = records(exportDir, 'users.ndjson', userRecord);
  store.addUsers(users.map((u) => u.id));
  // The import gives a deactivated account no memberships (docs/import-format.md), and this server has no
  // deactivated state: such a member would be on the legacy side only.
  const active = new Set(users.filter((u) => !u.deactivated).map((u) => u.id));
  const members = new Map<string, string[]>();
  for (const m of records(exportDir, 'group_members.ndjson', groupMemberRecord))
    if (active.has(m.user)) members.set(m.group, [...(members.get(m.group) ?? []), m.user]);
  const groups = records(exportDir, 'groups.ndjson', groupRecord);
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
    ...records(exportDir, 'peer_messages.ndjson', peerMessageRecord),
    ...records(exportDir, 'group_messages.ndjson', groupMessageRecord),
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
