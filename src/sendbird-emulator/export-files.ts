/**
 * The workspace as a Sendbird data export in the shape of source-formats.md §1.2: a users file
 * (`{"active_users":[…]}`, deactivated ones under `deactivated_users`), a channels file (`{"group_channels":[…]}`,
 * members as name/image) and one messages file per channel (`{"messages":[…],"channel":{…}}`). Exact file names
 * inside Sendbird's zip are unconfirmed; the connector classifies files by content, not by name.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import yazl from 'yazl';
import { channelJson, messageJson, type Workspace } from './workspace';

export interface ExportEntry {
  name: string;
  json: () => string;
}

/** What one export job holds: a data type, and objects created in [startMs, endMs) (source-formats.md §1.1 A). */
export interface ExportSelection {
  dataType: 'users' | 'channels' | 'messages';
  startMs: number;
  endMs: number;
}

/** The whole workspace as one export, or only what one export job selects. */
export function exportEntries(ws: Workspace, sel?: ExportSelection): ExportEntry[] {
  const inWindow = (ms: number) => !sel || (ms >= sel.startMs && ms < sel.endMs);
  const wsUsers = ws.users.filter((u) => inWindow(u.created_at * 1000));
  const wsChannels = ws.channels.filter((c) => inWindow(c.created_at * 1000));
  const user = (u: Workspace['users'][number]) => ({
    ...u,
    has_ever_logged_in: true,
    last_seen_at: '2026-09-01 12:00:00+0000',
    access_token: '',
    session_tokens: [],
  });
  const entries: ExportEntry[] = [
    {
      name: 'users.json',
      json: () =>
        JSON.stringify({
          active_users: wsUsers.filter((u) => u.is_active).map(user),
          deactivated_users: wsUsers.filter((u) => !u.is_active).map(user),
        }),
    },
    {
      name: 'channels.json',
      json: () =>
        JSON.stringify({
          group_channels: wsChannels.map((ch) => {
            const c = channelJson(ws, ch, true, true) as {
              members: { user_id: string; nickname: string; profile_url: string; is_active: boolean }[];
            };
            return {
              ...c,
              members: c.members.map((m) => ({
                user_id: m.user_id,
                name: m.nickname,
                image: m.profile_url,
                is_active: m.is_active,
                is_bot: false,
              })),
            };
          }),
        }),
    },
  ].filter((e) => !sel || e.name === `${sel.dataType}.json`);
  for (const ch of sel && sel.dataType !== 'messages' ? [] : ws.channels) {
    const picked = [...ch.ts.keys()].filter((i) => inWindow(ch.ts[i]!));
    if (picked.length === 0) continue;
    entries.push({
      name: `messages/${ch.channel_url}.json`,
      json: () => {
        const messages = picked.map((i) => messageJson(ws, ch, i));
        // Operators are not in the export (§1.2); members carry role "operator".
        return JSON.stringify({ messages, channel: channelJson(ws, ch, true, true) });
      },
    });
  }
  return entries;
}

export function writeExportDir(ws: Workspace, dir: string): void {
  for (const e of exportEntries(ws)) {
    const file = path.join(dir, e.name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, e.json());
  }
}

export function exportZip(ws: Workspace, sel?: ExportSelection): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of exportEntries(ws, sel)) zip.addBuffer(Buffer.from(e.json()), e.name);
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}
