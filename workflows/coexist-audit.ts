/**
 * One reconciliation audit (docs/coexistence.md §9): every conversation the sync knows, in pages of `pageSize`
 * in key order, each page one activity that reads both sides over the window, records what one side holds and the
 * other lacks, and hands each missing message back to its conversation's mirror path. Then the conversations it
 * does not know (every event of theirs lost): its users, `pageSize` at a time, have their conversations listed on
 * each side by an activity, and those active in the window are audited the same way. Continues as new every
 * `pagesPerRun` pages with its place and its tally, so a sync of any size keeps a bounded history. Only ids and
 * counts pass through it. The window is given (the caller computed it from its own, deterministic, clock).
 */
import { continueAsNew, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { AuditActivities, AuditTally } from '../activities/coexist-audit';

export interface CoexistAuditInput {
  /** Origin messages with times in [from, until] are audited (ms). */
  from: number;
  until: number;
  /** The sync whose conversations are audited (also found by their workflows' ZimCoexistSync). */
  syncName?: string;
  /** The sync's historical-import staging (`coexist start --handoff`): see AuditPageInput.handoff. */
  handoff?: string;
  /** Conversations (and users to list) per activity (default 10). */
  pageSize?: number;
  /** Pages per run before continue-as-new (default 50). */
  pagesPerRun?: number;
  /**
   * Whether the users' conversations are listed on each side for ones the sync does not know (default true; older
   * runs did not).
   */
  discover?: boolean;
  // Carried across continue-as-new:
  after?: string;
  tally?: AuditTally;
  /** Set once the known conversations are done: where the listing of users' conversations is. */
  discovering?: DiscoveryPlace;
}

/** Where the discovery is: after which user, in which page of users, after which conversation of it. */
interface DiscoveryPlace {
  afterUser?: string;
  users?: string[];
  afterConv?: string;
  /** `users` is the last page of users. */
  lastUsers?: boolean;
  /** Conversations already discovered and audited in this audit (the most recent, bounded). */
  seen: string[];
}

export interface CoexistAuditResult extends AuditTally {
  from: number;
  until: number;
}

/** Audits that began before discovery replay without it (patch marker). */
const DISCOVERY = 'coexist-audit-discovery';
/** At most this many discovered conversations are remembered (a conversation two users list is audited once). */
const SEEN_LIMIT = 5_000;

const { listAuditConversations, auditConversations, listAuditUsers, discoverAuditConversations } =
  proxyActivities<AuditActivities>({
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
  });

export async function coexistAuditWorkflow(input: CoexistAuditInput): Promise<CoexistAuditResult> {
  const pageSize = input.pageSize ?? 10;
  const pagesPerRun = input.pagesPerRun ?? 50;
  const tally: AuditTally = input.tally ?? { conversations: 0, found: 0, repaired: 0, gaps: 0, truncated: 0 };
  const add = (t: AuditTally) => {
    // By the page's keys: a tally carried from an older run may lack a newer one (waiting).
    for (const k of Object.keys(t) as (keyof AuditTally)[]) tally[k] = (tally[k] ?? 0) + (t[k] ?? 0);
  };
  const page = (conversations: string[]) =>
    auditConversations({
      conversations,
      from: input.from,
      until: input.until,
      ...(input.syncName !== undefined ? { syncName: input.syncName } : {}),
      ...(input.handoff !== undefined ? { handoff: input.handoff } : {}),
    });
  const done = () => ({ ...tally, from: input.from, until: input.until });
  let pages = 0;
  const runIsFull = () => pages >= pagesPerRun || workflowInfo().continueAsNewSuggested;

  // The conversations the sync knows.
  let after = input.after;
  if (input.discovering === undefined) {
    for (; ; pages++) {
      if (runIsFull())
        return continueAsNew<typeof coexistAuditWorkflow>({
          ...input,
          ...(after !== undefined ? { after } : {}),
          tally,
        });
      const known = await listAuditConversations({
        limit: pageSize,
        ...(after !== undefined ? { after } : {}),
        ...(input.syncName !== undefined ? { syncName: input.syncName } : {}),
      });
      if (known.conversations.length > 0) {
        add(await page(known.conversations));
        after = known.conversations.at(-1);
      }
      if (!known.more) break;
    }
    if (input.discover === false || !patched(DISCOVERY)) return done();
  }

  // Conversations it does not know: those its users were active in on either side, each audited like a known one.
  const place: DiscoveryPlace = input.discovering ?? { seen: [] };
  const seen = new Set(place.seen);
  for (; ; pages++) {
    if (runIsFull())
      return continueAsNew<typeof coexistAuditWorkflow>({
        ...input,
        tally,
        discovering: { ...place, seen: [...seen].slice(-SEEN_LIMIT) },
      });
    if (place.users === undefined) {
      const users = await listAuditUsers({
        limit: pageSize,
        ...(place.afterUser !== undefined ? { after: place.afterUser } : {}),
      });
      if (users.users.length === 0) return done();
      place.users = users.users;
      place.lastUsers = !users.more;
    }
    const found = await discoverAuditConversations({
      users: place.users,
      from: input.from,
      limit: pageSize,
      ...(place.afterConv !== undefined ? { after: place.afterConv } : {}),
      ...(input.syncName !== undefined ? { syncName: input.syncName } : {}),
    });
    tally.listingsCut = (tally.listingsCut ?? 0) + found.cut;
    const fresh = found.conversations.filter((c) => !seen.has(c));
    if (fresh.length > 0) {
      for (const c of fresh) seen.add(c);
      add(await page(fresh));
      tally.discovered = (tally.discovered ?? 0) + fresh.length;
    }
    // More new conversations than a page: the same users are listed again for the next (rare: each is a
    // conversation whose every event was lost).
    if (found.more) place.afterConv = found.conversations.at(-1)!;
    else {
      if (place.lastUsers) return done();
      place.afterUser = place.users.at(-1)!;
      delete place.users;
      delete place.afterConv;
    }
  }
}
