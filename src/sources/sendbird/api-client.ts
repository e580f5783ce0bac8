/**
 * Sendbird's Platform API list endpoints (source-formats.md §1.1 B), one page per call. The token goes in the
 * Api-Token header only. Message paging is forward by message_ts with next_limit up to 200; equal timestamps are
 * common, so the caller de-duplicates by message_id (see messagePages).
 */
import { z } from 'zod';
import type { RequestPacer } from '../http-fetch';
import { getJson, type FetchStats } from '../http-fetch';
import {
  blocksPage,
  channelsPage,
  exportJobsPage,
  membersPage,
  messagesPage,
  operatorsPage,
  sbExportJob,
  usersPage,
  type SbMessage,
} from './schemas';

export interface SendbirdApiOptions {
  /** e.g. https://api-APP_ID.sendbird.com, or the emulator's URL. */
  baseUrl: string;
  apiToken: string;
  pacer: RequestPacer;
  stats?: FetchStats;
}

export const PAGE_LIMIT = 100;
export const MESSAGE_PAGE_LIMIT = 200;

export class SendbirdApi {
  constructor(private readonly o: SendbirdApiOptions) {}

  private get<S extends z.ZodType>(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    schema: S,
    post?: unknown
  ) {
    const url = new URL(`/v3/${path}`, this.o.baseUrl);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    return getJson(url, schema, {
      headers: { 'Api-Token': this.o.apiToken },
      pacer: this.o.pacer,
      stats: this.o.stats,
      ...(post === undefined ? {} : { method: 'POST' as const, body: post }),
    });
  }

  /** Registers a data export job (POST /v3/export/{type}); not retried but on 429, see http-fetch. */
  createExport(dataType: string, startTs: number, endTs: number) {
    return this.get(`export/${dataType}`, {}, sbExportJob, { start_ts: startTs, end_ts: endTs, format: 'json' });
  }

  /** One export job; a done job's answer carries a freshly signed file link. */
  exportJob(dataType: string, requestId: string) {
    return this.get(`export/${dataType}/${encodeURIComponent(requestId)}`, {}, sbExportJob);
  }

  exportJobs(dataType: string, token?: string) {
    return this.get(`export/${dataType}`, { limit: PAGE_LIMIT, token }, exportJobsPage);
  }

  /** Deactivated users are hidden unless active_mode=all (the default is activated only). */
  users(token?: string) {
    return this.get('users', { limit: PAGE_LIMIT, active_mode: 'all', show_bot: true, token }, usersPage);
  }

  groupChannels(token?: string) {
    return this.get(
      'group_channels',
      {
        limit: PAGE_LIMIT,
        show_member: true,
        show_read_receipt: true,
        show_empty: true,
        show_frozen: true,
        order: 'chronological',
        token,
      },
      channelsPage
    );
  }

  openChannels(token?: string) {
    return this.get(
      'open_channels',
      { limit: PAGE_LIMIT, token },
      z.looseObject({ channels: z.array(z.unknown()), next: z.string().nullish() })
    );
  }

  members(channelUrl: string, token?: string) {
    return this.get(
      `group_channels/${encodeURIComponent(channelUrl)}/members`,
      { limit: PAGE_LIMIT, token },
      membersPage
    );
  }

  operators(channelUrl: string, token?: string) {
    return this.get(
      `group_channels/${encodeURIComponent(channelUrl)}/operators`,
      { limit: PAGE_LIMIT, token },
      operatorsPage
    );
  }

  blockedByMe(userId: string, token?: string) {
    return this.get(
      `users/${encodeURIComponent(userId)}/block`,
      { limit: PAGE_LIMIT, list: 'blocked_by_me', token },
      blocksPage
    );
  }

  /** Messages from `ts` on (inclusive), oldest first, removed ones included (the mapping decides). */
  messages(channelUrl: string, ts: number): Promise<SbMessage[]> {
    return this.get(
      `group_channels/${encodeURIComponent(channelUrl)}/messages`,
      {
        message_ts: ts,
        prev_limit: 0,
        next_limit: MESSAGE_PAGE_LIMIT,
        include: true,
        including_removed: true,
        reverse: false,
      },
      messagesPage
    ).then((p) => p.messages);
  }
}

/** Where a channel's forward paging stands: the anchor time and the ids already taken at exactly that time. */
export interface MessageCursor {
  ts: number;
  idsAtTs: number[];
}

/**
 * One forward step: the page from the cursor (inclusive), less the messages already taken at the anchor time.
 * `done` when the page was not full. A page wholly of one timestamp (200+ messages in one ms) cannot be paged past
 * by time; the step then throws, naming the channel, rather than loop (not seen in practice; see docs/sources.md).
 */
export async function nextMessages(
  api: SendbirdApi,
  channelUrl: string,
  cursor: MessageCursor
): Promise<{ messages: SbMessage[]; cursor: MessageCursor; done: boolean }> {
  const page = await api.messages(channelUrl, cursor.ts);
  const taken = new Set(cursor.idsAtTs);
  const fresh = page.filter((m) => !(m.created_at === cursor.ts && taken.has(m.message_id)));
  const done = page.length < MESSAGE_PAGE_LIMIT;
  if (!done && fresh.length === 0)
    throw new Error(
      `channel ${channelUrl}: more than ${MESSAGE_PAGE_LIMIT} messages share the time ${cursor.ts}; paging by time cannot pass them`
    );
  const last = page[page.length - 1];
  if (!last) return { messages: fresh, cursor, done: true };
  const lastTs = last.created_at;
  const idsAtTs = page.filter((m) => m.created_at === lastTs).map((m) => m.message_id);
  const carried = lastTs === cursor.ts ? [...new Set([...cursor.idsAtTs, ...idsAtTs])] : idsAtTs;
  return { messages: fresh, cursor: { ts: lastTs, idsAtTs: carried }, done };
}
