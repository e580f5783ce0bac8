/** What a `gen --shape real` export says one conversation copy must hold, read straight from its files. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ExportMessage {
  from?: unknown;
  to?: string;
  sentAt: number | string;
  type: string;
  body: { text?: string };
  deletedBy?: string[];
}

/** ZIM message types as `expectedCopy` names them (text is compared by its text). */
export const TYPE_NAMES: Record<number, string> = { 11: 'image', 12: 'file', 13: 'audio', 14: 'video', 200: 'custom' };

/**
 * `owner`'s copy of the conversation with `peer` as [sender, send time, text or type]: the valid messages (a sender,
 * a non-empty text) that the owner did not delete, by send time, messages sent at the same time in the file's order.
 */
export function expectedCopy(exportDir: string, owner: string, peer: string): [unknown, number, string][] {
  const lines = readFileSync(path.join(exportDir, 'peer_messages.ndjson'), 'utf8').trim().split('\n');
  const messages = lines
    .map((l) => JSON.parse(l) as ExportMessage)
    .filter((m) => typeof m.from === 'string' && !(m.type === 'text' && m.body.text === ''))
    .filter((m) => (m.from === owner && m.to === peer) || (m.from === peer && m.to === owner))
    .filter((m) => !m.deletedBy?.includes(owner))
    .map((m) => ({ m, t: typeof m.sentAt === 'number' ? m.sentAt : Date.parse(m.sentAt) }));
  // Array.prototype.sort is stable: equal times keep the order of the file.
  messages.sort((a, b) => a.t - b.t);
  return messages.map(({ m, t }) => [m.from, t, m.type === 'text' ? m.body.text! : m.type]);
}
