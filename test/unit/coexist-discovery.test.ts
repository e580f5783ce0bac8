/** The audit's discovery: each side's listing of a user's conversations, paged to the end, filtered by time. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  legacyConversationsSince,
  zimConversationsSince,
  type ZimConversationPage,
  ZIM_CONVERSATION_PAGE,
  ZIM_LISTED_CONVERSATIONS,
} from '../../src/coexist/discovery';
import type { LegacyUserConversations } from '../../src/coexist/legacy-contract';

const T0 = 1_800_000_000_000;

/** ZIM's QueryConversationList as documented: ascending by UpdateTime, the newest 1000 only, offset cursors, "0" at the end. */
function zimListing(all: ZimConversationPage['conversations']) {
  const calls: { Next?: string }[] = [];
  const listed = [...all].sort((a, b) => a.updateTime - b.updateTime).slice(-ZIM_LISTED_CONVERSATIONS);
  const read = async (cursor: { Next?: string }): Promise<ZimConversationPage> => {
    calls.push(cursor);
    const start = Number(cursor.Next ?? '0');
    const page = listed.slice(start, start + ZIM_CONVERSATION_PAGE);
    const end = start + page.length;
    return { conversations: page, next: end < listed.length ? String(end) : '0' };
  };
  return { read, calls };
}

const peers = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ convId: `p${String(i).padStart(4, '0')}`, convType: 0, updateTime: T0 + i }));

describe('discovery: ZIM QueryConversationList', () => {
  it('reads every page (the newest come last) and keeps the conversations updated since the window', async () => {
    const z = zimListing(peers(1200));
    // Conversations 200..1199 are listed (the newest 1000); those since #1100 are in the window.
    const r = await zimConversationsSince(z.read, 'u', T0 + 1100, 20);
    assert.deepEqual(z.calls, [{}, { Next: '500' }], 'two pages of 500');
    assert.equal(r.keys.length, 100);
    assert.ok(r.keys.every((k) => /^peer:p1[01]\d\d:u$/.test(k)));
    assert.equal(r.cut, false, 'the oldest listed is older than the window: nothing active left out');
  });

  it('is cut when the 1000 newest are all in the window (older active ones are beyond its reach)', async () => {
    const r = await zimConversationsSince(zimListing(peers(1200)).read, 'u', T0, 20);
    assert.deepEqual([r.keys.length, r.cut], [1000, true]);
    const under = await zimConversationsSince(zimListing(peers(999)).read, 'u', T0, 20);
    assert.deepEqual([under.keys.length, under.cut], [999, false], 'fewer than 1000: the whole list');
  });

  it('is cut when its pages run out first', async () => {
    const z = zimListing(peers(800));
    const r = await zimConversationsSince(z.read, 'u', T0, 1);
    assert.deepEqual([z.calls.length, r.keys.length, r.cut], [1, 500, true]);
  });

  it('keys one-to-one conversations in order and groups by id, times in seconds too, other types skipped', async () => {
    const z = zimListing([
      { convId: 'a', convType: 0, updateTime: T0 },
      { convId: 'zed', convType: 0, updateTime: T0 + 5 },
      { convId: 'g1', convType: 2, updateTime: T0 + 10 },
      { convId: 'old', convType: 0, updateTime: T0 - 60_000 },
      { convId: 'secs', convType: 2, updateTime: Math.floor(T0 / 1000) + 1 },
      { convId: 'room', convType: 1, updateTime: T0 + 20 },
    ]);
    const r = await zimConversationsSince(z.read, 'm', T0, 20);
    assert.deepEqual(r.keys.sort(), ['group:g1', 'group:secs', 'peer:a:m', 'peer:m:zed']);
    assert.equal(r.cut, false);
  });
});

describe('discovery: the legacy GET /v1/users/{id}/conversations', () => {
  function legacyListing(pages: LegacyUserConversations[]) {
    const calls: (string | undefined)[] = [];
    return {
      calls,
      client: {
        async userConversations(user: string, since: number, limit: number, cursor?: string) {
          assert.deepEqual([user, since, limit], ['m', T0, 2]);
          calls.push(cursor);
          return pages[cursor === undefined ? 0 : Number(cursor)]!;
        },
      },
    };
  }

  it('follows its cursor to the last page, keys checked and put in order', async () => {
    const l = legacyListing([
      {
        conversations: [
          { key: 'peer:zed:m', lastMessageAt: T0 },
          { key: 'group:g1', lastMessageAt: T0 + 1 },
        ],
        next: '1',
      },
      {
        conversations: [
          { key: 'peer:a:b', lastMessageAt: T0 }, // not m's: dropped
          { key: 'peer:a:m', lastMessageAt: T0 - 1 }, // before the window: dropped
          { key: 'group:g2', lastMessageAt: T0 + 2 },
        ],
        next: '2',
      },
      { conversations: [{ key: 'peer:m:n', lastMessageAt: T0 }] },
    ]);
    const r = await legacyConversationsSince(l.client, 'm', T0, 2, 20);
    assert.deepEqual(l.calls, [undefined, '1', '2']);
    assert.deepEqual(r.keys.sort(), ['group:g1', 'group:g2', 'peer:m:n', 'peer:m:zed']);
    assert.equal(r.cut, false);
  });

  it('is cut when its pages run out first', async () => {
    const page = { conversations: [{ key: 'group:g', lastMessageAt: T0 }], next: '0' };
    const l = legacyListing([page]);
    const r = await legacyConversationsSince(l.client, 'm', T0, 2, 3);
    assert.deepEqual([l.calls.length, r.keys, r.cut], [3, ['group:g'], true]);
  });
});
