/**
 * Reading a conversation back from its newest message, a page at a time, until a page reaches back past a time:
 * the mirror's tail check (activities/coexist.ts) and the reconciliation audit (activities/coexist-audit.ts) both
 * read each side this way. Each page comes with `last`: nothing older needs reading (the page reached `since`, or
 * the conversation's start). The reader stops after `maxPages` pages whatever it reached.
 */
import type { LegacyClient } from './legacy-client';
import type { LegacyMessage } from './legacy-contract';

export interface PageBack<M> {
  messages: M[];
  last: boolean;
}

/** ZIM's pages by their `Next` cursor (`'0'`: no more); `read` makes the call (in its call-schedule slot). */
export async function* zimPagesBack<M extends { msgTime: number }>(
  read: (cursor: { Next?: string }) => Promise<{ messages: M[]; next: string }>,
  since: number,
  maxPages: number
): AsyncGenerator<PageBack<M>> {
  let next: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const r = await read(next === undefined ? {} : { Next: next });
    const oldest = r.messages.at(-1);
    const last = !oldest || oldest.msgTime < since || r.next === '0';
    yield { messages: r.messages, last };
    if (last) return;
    next = r.next;
  }
}

/** The legacy side's pages by its per-conversation sequence, newest first. */
export async function* legacyPagesBack(
  legacy: Pick<LegacyClient, 'page'>,
  conv: string,
  since: number,
  pageSize: number,
  maxPages: number
): AsyncGenerator<PageBack<LegacyMessage>> {
  let end = (await legacy.page(conv, 0, 1)).position;
  if (end <= 0) {
    yield { messages: [], last: true };
    return;
  }
  for (let page = 0; page < maxPages; page++) {
    const start = Math.max(0, end - pageSize);
    const { messages } = await legacy.page(conv, start, end - start);
    const last = start === 0 || (messages[0]?.sentAt ?? 0) < since;
    yield { messages, last };
    if (last) return;
    end = start;
  }
}
