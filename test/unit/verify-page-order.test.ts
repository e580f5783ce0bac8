import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  VERIFY_PAGE_KINDS,
  VerifyOrderMemo,
  verifyPageOrder,
  type VerifyKindWork,
  type VerifyPageKind,
  type VerifyPageRef,
} from '../../src/staging/verify-page-order';

/** The makespan benchmark's verify: 110 owner pages (QueryPeerMsg 44 s), 6 group pages (5 s), 30 user pages (46 s). */
const BENCH: Record<VerifyPageKind, VerifyKindWork> = {
  owners: { pages: 110, seconds: 44 },
  groups: { pages: 6, seconds: 5 },
  users: { pages: 30, seconds: 46 },
};

/** The order before: owners, then groups, then users. */
const ONE_KIND_AFTER_ANOTHER: VerifyPageRef[] = VERIFY_PAGE_KINDS.flatMap((kind) =>
  Array.from({ length: BENCH[kind].pages }, (_, index) => ({ kind, index }))
);

/** Pages the stage keeps in flight at once (workflows/stage.ts, pageWindow). */
const WINDOW = 8;

/** Windows of consecutive pages, while both kinds still have pages, that hold no page of one of them. */
function windowsMissingAKind(order: VerifyPageRef[], a: VerifyPageKind, b: VerifyPageKind): number {
  const lastOf = (kind: VerifyPageKind) => order.findLastIndex((r) => r.kind === kind);
  const end = Math.min(lastOf(a), lastOf(b)) - WINDOW + 1;
  let missing = 0;
  for (let start = 0; start <= end; start++) {
    const kinds = new Set(order.slice(start, start + WINDOW).map((r) => r.kind));
    if (!kinds.has(a) || !kinds.has(b)) missing++;
  }
  return missing;
}

describe('verify page order', () => {
  it('holds every page of every kind exactly once, each kind in its own order', () => {
    for (const work of [
      BENCH,
      { owners: { pages: 1, seconds: 0.02 }, groups: { pages: 0, seconds: 0 }, users: { pages: 1, seconds: 0.02 } },
      { owners: { pages: 0, seconds: 0 }, groups: { pages: 3, seconds: 1 }, users: { pages: 7, seconds: 0 } },
      { owners: { pages: 500, seconds: 900 }, groups: { pages: 50, seconds: 3 }, users: { pages: 100, seconds: 60 } },
    ]) {
      const order = verifyPageOrder(work);
      assert.equal(order.length, work.owners.pages + work.groups.pages + work.users.pages);
      for (const kind of VERIFY_PAGE_KINDS) {
        const indexes = order.filter((r) => r.kind === kind).map((r) => r.index);
        assert.deepEqual(
          indexes,
          Array.from({ length: work[kind].pages }, (_, i) => i)
        );
      }
    }
  });

  it('keeps owner and user pages in flight together, where one kind after another used one budget at a time', () => {
    assert.ok(windowsMissingAKind(ONE_KIND_AFTER_ANOTHER, 'owners', 'users') > 0);
    assert.equal(windowsMissingAKind(verifyPageOrder(BENCH), 'owners', 'users'), 0);
  });

  it('spreads each kind over the time its reads need: a quick kind is done early, the slowest ends last', () => {
    const order = verifyPageOrder(BENCH);
    const share = (kind: VerifyPageKind) => (order.findLastIndex((r) => r.kind === kind) + 1) / order.length;
    // Groups need 5 of the stage's 46 s: their last page comes within the first fifth of the pages.
    assert.ok(share('groups') < 1 / 5, `groups end at ${share('groups')}`);
    assert.equal(order.at(-1)?.kind, 'users');
    // Owners (44 s) run nearly as long as users (46 s): their last page is among the last few.
    assert.ok(share('owners') > 0.95, `owners end at ${share('owners')}`);
  });

  it('is the same for the same work (every worker names the same pages)', () => {
    assert.deepEqual(verifyPageOrder(BENCH), verifyPageOrder(structuredClone(BENCH)));
  });

  it('is worked out again when the pages change under an open store (a catch-up round staged meanwhile)', () => {
    const memo = new VerifyOrderMemo();
    const counts = (owners: number, groups: number, users: number) =>
      new Map([
        ['verify-owners', owners],
        ['verify-groups', groups],
        ['users', users],
      ]);
    const first = memo.get([], counts(3, 1, 2));
    assert.equal(first.length, 6);
    assert.equal(memo.get([], counts(3, 1, 2)), first, 'the same pages: the same order, not worked out again');
    const later = memo.get([], counts(4, 2, 3));
    assert.equal(later.length, 9);
    assert.deepEqual(
      later.filter((r) => r.kind === 'users').map((r) => r.index),
      [0, 1, 2]
    );
  });
});
