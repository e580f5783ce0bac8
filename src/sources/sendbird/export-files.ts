/**
 * Reads one file of a Sendbird data export (source-formats.md §1.2) and says what it is, by its top-level keys
 * (file names inside Sendbird's zip are not documented): users (`active_users`, `deactivated_users`, `users`),
 * channels (`group_channels`, `open_channels`, `channels`) or one channel's messages (`messages` with `channel`).
 * Anything else is an error naming the file, the key or field, and what to do; nothing is guessed.
 */
import { z } from 'zod';
import { sbChannel, sbMessage, sbUser, type SbChannel, type SbMessage, type SbUser } from './schemas';

export class ExportFileError extends Error {
  override name = 'ExportFileError';
}

export type ExportFileContent =
  | { kind: 'users'; users: SbUser[] }
  | { kind: 'channels'; channels: SbChannel[]; openChannels: number }
  | { kind: 'messages'; channel: SbChannel; messages: SbMessage[] };

const USER_KEYS = ['active_users', 'deactivated_users', 'users'];
const CHANNEL_KEYS = ['group_channels', 'open_channels', 'channels'];
const KNOWN = [...USER_KEYS, ...CHANNEL_KEYS, 'messages', 'channel'];

function checked<S extends z.ZodType>(file: string, where: string, schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = [where, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))]
    .join('')
    .replace(/\.\[/g, '[');
  const got = issue.path.reduce<unknown>(
    (v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined),
    value
  );
  const timeHint =
    /created_at|_ts$/.test(String(issue.path[issue.path.length - 1] ?? '')) && typeof got === 'string'
      ? ' Sendbird writes this time as a Unix number; the file was probably converted by another tool: use the JSON export as Sendbird produced it (not CSV, not re-serialised).'
      : '';
  throw new ExportFileError(
    `${file}: ${field}: ${issue.message}${got !== undefined ? ` (found ${JSON.stringify(got).slice(0, 60)})` : ''}.${timeHint || ' Check that the file is an unmodified Sendbird JSON export.'}`
  );
}

export function parseExportFile(file: string, bytes: Buffer): ExportFileContent {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ExportFileError(
      `${file} is not valid JSON (${(err as Error).message}): the file is probably truncated; download the export again (CSV exports are not read: export as JSON)`
    );
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new ExportFileError(
      `${file}: expected a JSON object with keys such as active_users, group_channels or messages`
    );
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  const unknown = keys.filter((k) => !KNOWN.includes(k));
  if (unknown.length)
    throw new ExportFileError(
      `${file}: unknown top-level key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; a Sendbird export file holds ` +
        `${KNOWN.map((k) => `"${k}"`).join(', ')}. If Sendbird added this key, tell us (docs/sources.md); else remove the file from the export`
    );
  if ('messages' in obj) {
    if (!('channel' in obj))
      throw new ExportFileError(
        `${file}: a messages file without its "channel": the channel (its URL and members) says whose messages these are. Use the messages file as Sendbird wrote it, or export the channel's messages again`
      );
    const channel = checked(file, 'channel', sbChannel, obj.channel);
    const messages = checked(file, 'messages', z.array(sbMessage), obj.messages);
    return { kind: 'messages', channel, messages };
  }
  if ('channel' in obj) throw new ExportFileError(`${file}: a "channel" without "messages": expected a messages file`);
  if (USER_KEYS.some((k) => k in obj)) {
    if (CHANNEL_KEYS.some((k) => k in obj))
      throw new ExportFileError(`${file}: users and channels in one file; expected one kind per file`);
    const users: SbUser[] = [];
    for (const k of USER_KEYS) if (k in obj) users.push(...checked(file, k, z.array(sbUser), obj[k]));
    return { kind: 'users', users };
  }
  const channels: SbChannel[] = [];
  for (const k of ['group_channels', 'channels'])
    if (k in obj) channels.push(...checked(file, k, z.array(sbChannel), obj[k]));
  const openChannels =
    'open_channels' in obj ? checked(file, 'open_channels', z.array(z.unknown()), obj.open_channels).length : 0;
  if (!keys.length) throw new ExportFileError(`${file}: an empty object; expected users, channels or messages`);
  return { kind: 'channels', channels, openChannels };
}
