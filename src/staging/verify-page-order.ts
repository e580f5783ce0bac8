/**
 * The order of verify's pages. A page holds one kind, read with its own Actions: owners (QueryPeerMsg), groups
 * (QueryGroupMsg, QueryGroupMemberList) or users (QueryUserInfos, QueryFriendList, QueryBlacklist). Numbered
 * owners, then groups, then users, the stage's window of pages in flight held one kind at a time, so one budget was
 * in use while the others idled and verify took the sum of its kinds' times instead of the longest
 * (docs/benchmarks.md, makespan). Here each kind's pages are spread over the stage in proportion to the time its
 * reads need at the plan's budgets: a kind with t seconds of reads puts its i-th of n pages at (i + ½)·t/n, and
 * pages go in that order. Every budget then has pages in flight at once, each kind at about its own pace, and
 * the kinds that need less time finish earlier rather than trickling to the end.
 */

export const VERIFY_PAGE_KINDS = ['owners', 'groups', 'users'] as const;
export type VerifyPageKind = (typeof VERIFY_PAGE_KINDS)[number];

/** The Actions each kind reads with (activities/verify.ts, verify-users.ts). */
export const VERIFY_KIND_ACTIONS: Readonly<Record<VerifyPageKind, readonly string[]>> = {
  owners: ['QueryPeerMsg'],
  groups: ['QueryGroupMsg', 'QueryGroupMemberList'],
  users: ['QueryUserInfos', 'QueryFriendList', 'QueryBlacklist'],
};

export interface VerifyKindWork {
  /** Pages of this kind. */
  pages: number;
  /** Seconds its reads take at the budgets (its busiest Action's calls / budget). */
  seconds: number;
}

export interface VerifyPageRef {
  kind: VerifyPageKind;
  /** The page's number among its kind's pages. */
  index: number;
}

/**
 * Every page once, in stage order: page p of the stage is the p-th entry. Deterministic (the same work gives the
 * same order in every worker), so a page number names the same owners, groups or users wherever it runs.
 */
export function verifyPageOrder(work: Record<VerifyPageKind, VerifyKindWork>): VerifyPageRef[] {
  const at = (kind: VerifyPageKind, index: number) =>
    ((index + 0.5) * Math.max(0, work[kind].seconds)) / work[kind].pages;
  const refs = VERIFY_PAGE_KINDS.flatMap((kind) =>
    Array.from({ length: work[kind].pages }, (_, index) => ({ kind, index, at: at(kind, index) }))
  );
  // Equal times go owners, groups, users (the listed order), each kind's own pages in their order.
  refs.sort((a, b) => a.at - b.at);
  return refs.map(({ kind, index }) => ({ kind, index }));
}

/** The page tables that hold each kind's verify pages. */
const PAGE_TABLE_KIND: Readonly<Record<VerifyPageKind, string>> = {
  owners: 'verify-owners',
  groups: 'verify-groups',
  users: 'users',
};

/**
 * Both engines' page order from the same inputs: each kind's page count and the planned seconds of its slowest read
 * Action (a plan without verify's Actions, staged before they were planned, spreads the kinds by pages).
 */
export function stagedVerifyOrder(
  planActions: readonly { action: string; seconds: number }[],
  pageCount: (pageKind: string) => number
): VerifyPageRef[] {
  const work = Object.fromEntries(
    VERIFY_PAGE_KINDS.map((kind) => {
      const n = pageCount(PAGE_TABLE_KIND[kind]);
      const seconds = Math.max(
        0,
        ...planActions.filter((a) => VERIFY_KIND_ACTIONS[kind].includes(a.action)).map((a) => a.seconds)
      );
      return [kind, { pages: n, seconds: seconds > 0 ? seconds : n }];
    })
  ) as Record<VerifyPageKind, VerifyKindWork>;
  return verifyPageOrder(work);
}

/**
 * `stagedVerifyOrder`, worked out again whenever its inputs change. A worker keeps its store open for days; a
 * catch-up round staged by another process meanwhile rebuilds the pages, and an order kept from the migration's
 * verify left the round's verify pages past the old count empty (whole kinds unchecked, progress short of 100%).
 */
export class VerifyOrderMemo {
  private last: { key: string; order: VerifyPageRef[] } | undefined;

  get(
    planActions: readonly { action: string; seconds: number }[],
    counts: ReadonlyMap<string, number>
  ): VerifyPageRef[] {
    const key = JSON.stringify([Object.values(PAGE_TABLE_KIND).map((k) => counts.get(k) ?? 0), planActions]);
    if (this.last?.key !== key)
      this.last = { key, order: stagedVerifyOrder(planActions, (kind) => counts.get(kind) ?? 0) };
    return this.last.order;
  }

  /** The page tables whose counts `get` needs. */
  static readonly pageKinds: readonly string[] = Object.values(PAGE_TABLE_KIND);
}
