/**
 * The export `zim-migrate dev --coexist` takes once capture is on (docs/coexistence.md §10): a copy of the rehearsal's
 * sample export (the legacy system's history, seeded into the reference legacy server, src/testing/seed-legacy.ts;
 * its own files keep what the server cannot hold: profiles, friends, media bodies…) plus what the reference legacy
 * server holds beyond it: its users, groups, members and messages, under their legacy ids and times, leaving out
 * every message zim-migrate wrote into it (a mirror of a ZIM message, already in ZIM).
 */
import { appendFileSync, cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { LegacyStore } from '../legacy-server/store';
import type { SeededIds } from './seed-legacy';

/** Appends NDJSON lines to `file`, after a newline if the file does not end with one. */
function appendLines(file: string, lines: object[]): void {
  if (lines.length === 0) return;
  const existing = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
  const lead = existing.length > 0 && existing[existing.length - 1] !== 0x0a ? '\n' : '';
  appendFileSync(file, lead + lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
}

/**
 * Writes the export into `outDir` (replaced); returns the legacy messages it adds to the sample. `seeded`: what the
 * server got from the sample (not added twice). `leaveOut`: ids of messages it leaves out, as exports leave out
 * deleted or moderated ones.
 */
export function takeLegacyExport(
  legacy: LegacyStore,
  sampleDir: string,
  seeded: SeededIds,
  outDir: string,
  leaveOut: ReadonlySet<string> = new Set()
): number {
  rmSync(outDir, { recursive: true, force: true });
  cpSync(sampleDir, outDir, { recursive: true });
  const state = legacy.snapshot();
  const peer: object[] = [];
  const group: object[] = [];
  for (const c of state.conversations)
    for (const m of c.messages.slice(seeded.messages.get(c.key) ?? 0)) {
      if (m.originTag !== undefined || m.clientMsgId !== undefined || leaveOut.has(m.id)) continue;
      const common = { id: m.id, from: m.from, sentAt: m.sentAt, type: 'text', body: { text: m.body } };
      if (c.conversation.kind === 'group') group.push({ ...common, group: c.conversation.groupId });
      else peer.push({ ...common, to: m.to });
    }
  const file = (name: string) => path.join(outDir, name);
  const groups = state.groups.filter((g) => !seeded.groups.has(g.id));
  appendLines(
    file('users.ndjson'),
    state.users.filter((id) => !seeded.users.has(id)).map((id) => ({ id }))
  );
  appendLines(
    file('groups.ndjson'),
    groups.map((g) => ({ id: g.id, name: g.name, owner: g.owner }))
  );
  appendLines(
    file('group_members.ndjson'),
    groups.flatMap((g) => g.members.map((user) => ({ group: g.id, user })))
  );
  appendLines(file('peer_messages.ndjson'), peer);
  appendLines(file('group_messages.ndjson'), group);
  return peer.length + group.length;
}
