/**
 * One workflow per conversation during coexistence (workflow id `coexist:<conv>`; the receiver starts it with
 * signal-with-start). It serialises both directions: each event is held a settle window after it arrives, so a
 * late redelivery of an earlier one can still take its place, then events are handled one at a time in (time,
 * sequence) order, so every write in a conversation lands in order. One later than the window is handled anyway
 * and counted as reordered. Duplicates are dropped by event key (a bounded set carried across
 * continue-as-new; the ledger behind the activities is the durable second layer). Echoes of our own writes are
 * never mirrored. No message text enters history: events carry a body reference.
 * A group's membership and profile events run in the group conversation's workflow, in the same (time, sequence)
 * order as its messages, so a joiner's first message is mirrored after the join and nothing is sent into a group
 * after its dismissal was mirrored (a message refused for that is counted as refused, not retried forever).
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { BatchOutcome, CoexistActivities, MirrorOutcome } from '../activities/coexist';
import type { SyncEvent } from '../src/coexist/sync-event';
import type { HandoffSetting } from '../src/coexist/handoff-setting';
import { emptyLags, recordLag, type RecentLags } from './coexist-lag';
import { handoffGate, type HandoffCarry, type HandoffStats } from './coexist-handoff';

export const SYNC_EVENT_SIGNAL = 'event';
export const syncEventSignal = defineSignal<[SyncEvent]>(SYNC_EVENT_SIGNAL);
export const syncStatsQuery = defineQuery<SyncStats>('stats');
/**
 * The events this conversation holds and has not finished (queued, or the one being handled): messages as
 * `<origin>:<id>`, group events as `group:<event key>`. The audit does not take what is on its way for lost.
 */
export const queuedEventsQuery = defineQuery<string[]>('queuedEvents');
/** `coexist stop`: close once nothing is queued (the receivers no longer take events for the sync). */
export const closeSignal = defineSignal('close');

export interface SyncStats {
  mirroredToZim: number;
  mirroredToLegacy: number;
  /** Mirrors the ledger showed as done (a redelivery past the dedup window, a retried run, a ZIM edit of one). */
  alreadyMirrored: number;
  /** Ambiguous sends settled by finding them in the target's tail. */
  resolvedByTail: number;
  echoesSuppressed: number;
  /** Ambiguous sends settled by their echo. */
  resolvedByEcho: number;
  duplicatesDropped: number;
  /** Group changes (create, dismiss, profile, joins, leaves) applied to the other side. */
  groupChangesToZim: number;
  groupChangesToLegacy: number;
  /** Group events older than a later change their side made to the same thing (superseded, not applied). */
  groupStale: number;
  /** Events that arrived after a later one of their side had been handled (late beyond the settle window). */
  reordered: number;
  /** Mirrors given up after their retries and parked for an operator (the store lists them): the last 100 keys. */
  parked: string[];
  /** Mirrors the other side refused for good (unknown user, not a member…): the last 100 event keys, newest last. */
  refused: string[];
  /** How many were parked and refused in all (the lists above keep only the last 100); absent in older runs. */
  parkedTotal?: number;
  refusedTotal?: number;
  runs: number;
  /** Events received and not handled yet (as of the query). */
  queued: number;
  /** Recent mirrors' lags per origin, for `coexist status`. */
  lags?: RecentLags;
  /** The historical-import handoff (workflows/coexist-handoff.ts), when the sync has one. */
  handoff?: HandoffStats;
}

export interface ConversationSyncInput {
  conv: string;
  /** How long each event is held after it arrives, for earlier stragglers to overtake it (ms). */
  settleMs?: number;
  /** The workflow closes after this long without events; the next event starts it again (ms). */
  idleMs?: number;
  /** Continue-as-new after this many events handled in one run. */
  eventsPerRun?: number;
  /** Event keys remembered for dedup. */
  seenLimit?: number;
  /**
   * Attempts of one mirror before it is parked for an operator and the conversation goes on (default 30: about a
   * quarter of an hour at the 30-s longest backoff; the first message of a batch failed for good gets up to
   * SETTLE_ALONE_ATTEMPTS more alone, mirrorBatch). 0: retry without limit.
   */
  mirrorAttempts?: number;
  /**
   * Most messages one mirror activity sends (default 20): a backlog of ready messages, nothing else between them,
   * goes in batches of this many, one activity each. 1: one activity per message.
   */
  batchMax?: number;
  /** The sync's historical-import handoff (`coexist start --handoff`): hold legacy messages until imported. */
  handoff?: HandoffSetting;
  // Carried across continue-as-new:
  handoffState?: HandoffCarry;
  seen?: string[];
  /** The last MIRRORED_LIMIT messages this conversation mirrored (`<origin>:<id>`): their echoes need no lookup. */
  mirrored?: string[];
  inbox?: Held[];
  stats?: SyncStats;
  closing?: boolean;
}

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;
/** Bookkeeping (park, echo) is retried without limit: it only writes our own store. */
const bookkeeping = proxyActivities<CoexistActivities>({ startToCloseTimeout: '1 minute', retry });

const emptyStats = (): SyncStats => ({
  mirroredToZim: 0,
  mirroredToLegacy: 0,
  alreadyMirrored: 0,
  resolvedByTail: 0,
  echoesSuppressed: 0,
  resolvedByEcho: 0,
  duplicatesDropped: 0,
  groupChangesToZim: 0,
  groupChangesToLegacy: 0,
  groupStale: 0,
  reordered: 0,
  refused: [],
  parked: [],
  refusedTotal: 0,
  parkedTotal: 0,
  runs: 0,
  queued: 0,
});

const MIRRORED_LIMIT = 1_000;
/** Echoes of a message this workflow saw mirrored are counted without an activity (patch marker). */
const ECHO_OF_KNOWN_MIRROR = 'echo-of-known-mirror';
/** Live legacy messages held until the conversation's history is imported (patch marker). */
const IMPORT_HANDOFF = 'import-handoff';
/** A backlog of ready messages mirrored by one activity (patch marker; of one side until the next). */
const MIRROR_BATCH = 'mirror-batch';
/** A batch takes the messages of both sides in their order, not only the head's side's (patch marker). */
const MIRROR_BATCH_EITHER_SIDE = 'mirror-batch-either-side';
/** Messages the import handoff releases go in batches too (patch marker). */
const RELEASE_IN_BATCHES = 'handoff-release-batch';
/** A batch failed for good settles its head by a single mirror, as its other messages, not by parking it (patch marker). */
const FAILED_BATCH_BY_LEDGER = 'mirror-batch-failed-by-ledger';

/**
 * Attempts of the single mirror that settles a failed batch's first message (at most mirrorAttempts): enough to find
 * it in the ledger or, after its send lease, in the tail; not another quarter of an hour of retries before the park.
 */
const SETTLE_ALONE_ATTEMPTS = 3;

/** An event and when it arrived (workflow time). */
export interface Held {
  event: SyncEvent;
  at: number;
  /** Batches (`<runId>/<activityId>`) that failed for good holding it: what they recorded SENT is its own mirror. */
  adopt?: string[];
}

/** Time first, then the side's own sequence (both are monotonic on each side). */
const byPosition = (a: SyncEvent, b: SyncEvent) => a.occurredAt - b.occurredAt || a.order - b.order;

export async function conversationSyncWorkflow(input: ConversationSyncInput): Promise<SyncStats> {
  const settleMs = input.settleMs ?? 500;
  const idleMs = input.idleMs ?? 10 * 60_000;
  const eventsPerRun = input.eventsPerRun ?? 500;
  const batchMax = Math.max(1, input.batchMax ?? 20);
  const seenLimit = input.seenLimit ?? 2_000;
  // A mirror is safe to retry (intent + tail check, or a convergent group write); one that still fails after
  // mirrorAttempts is parked rather than holding the conversation forever.
  const mirrorAttempts = input.mirrorAttempts ?? 30;
  const options: ActivityOptions = {
    startToCloseTimeout: '1 minute',
    retry: { ...retry, ...(mirrorAttempts > 0 ? { maximumAttempts: mirrorAttempts } : {}) },
  };
  // Mirrors heartbeat: a dead worker's attempt is retried within seconds, and the send lease keeps that retry from
  // doubling a send still in flight. Group writes have no lease, so they keep waiting out the start-to-close timeout
  // (a late write of a dead attempt could undo a later change). Activity options are not part of replay's command
  // matching (ids and types are): no patch.
  const acts = proxyActivities<CoexistActivities>({ ...options, heartbeatTimeout: '10 seconds' });
  const settleAloneActs = proxyActivities<CoexistActivities>({
    ...options,
    heartbeatTimeout: '10 seconds',
    retry: { ...retry, maximumAttempts: Math.min(mirrorAttempts, SETTLE_ALONE_ATTEMPTS) },
  });
  const groupActs = proxyActivities<CoexistActivities>(options);
  const stats: SyncStats = { ...emptyStats(), ...input.stats, runs: (input.stats?.runs ?? 0) + 1 };
  const seenOrder = [...(input.seen ?? [])];
  const seen = new Set(seenOrder);
  const mirroredOrder = [...(input.mirrored ?? [])];
  const mirrored = new Set(mirroredOrder);
  const markMirrored = (e: SyncEvent) => {
    mirrored.add(`${e.origin}:${e.msgId ?? ''}`);
    mirroredOrder.push(`${e.origin}:${e.msgId ?? ''}`);
    while (mirroredOrder.length > MIRRORED_LIMIT) mirrored.delete(mirroredOrder.shift()!);
  };
  // An echo proves a write landed; when this workflow saw that write recorded, there is nothing left to settle.
  const echoOfKnownMirror = (e: SyncEvent) =>
    e.kind === 'echo' &&
    e.echoOf !== undefined &&
    mirrored.has(`${e.origin === 'zim' ? 'legacy' : 'zim'}:${e.echoOf}`) &&
    patched(ECHO_OF_KNOWN_MIRROR);
  const inbox: Held[] = [...(input.inbox ?? [])];
  const pending = new Set(inbox.map((h) => h.event.eventKey));
  const lastHandled: Partial<Record<SyncEvent['origin'], SyncEvent>> = {};
  const lags = (stats.lags ??= emptyLags());
  let closing = input.closing ?? false;
  setHandler(closeSignal, () => void (closing = true));
  const handoff =
    input.handoff && patched(IMPORT_HANDOFF)
      ? handoffGate(
          input.handoff,
          input.conv,
          input.handoffState,
          (stats.handoff ??= { held: 0, dropped: 0, released: 0, parked: 0 }),
          (e, reason) => bookkeeping.park(e, reason)
        )
      : undefined;

  // Before the handlers: setHandler delivers signals that arrived with the start at once.
  const remember = (key: string) => {
    pending.delete(key);
    seen.add(key);
    seenOrder.push(key);
    while (seenOrder.length > seenLimit) seen.delete(seenOrder.shift()!);
  };

  setHandler(syncEventSignal, (event) => {
    if (seen.has(event.eventKey) || pending.has(event.eventKey)) {
      stats.duplicatesDropped++;
      return;
    }
    if (echoOfKnownMirror(event)) {
      // Not queued: it changes nothing on either side, so it need not wait its turn (or hold up the others').
      stats.echoesSuppressed++;
      remember(event.eventKey);
      return;
    }
    pending.add(event.eventKey);
    inbox.push({ event, at: Date.now() });
  });
  setHandler(syncStatsQuery, () => ({ ...stats, queued: pending.size }));
  let handling: SyncEvent[] = [];
  setHandler(queuedEventsQuery, () =>
    [...inbox.map((h) => h.event), ...handling].flatMap((e) =>
      e.kind === 'group' ? [`group:${e.eventKey}`] : e.kind === 'message' ? [`${e.origin}:${e.msgId ?? ''}`] : []
    )
  );

  async function handleGroup(e: SyncEvent): Promise<void> {
    const outcome = await groupActs.applyGroup(e);
    // Unchanged: the other side already matches, so it is our own write coming back (or a redelivery).
    if (outcome === 'unchanged') stats.echoesSuppressed++;
    else if (outcome === 'stale') stats.groupStale++;
    else if (e.origin === 'legacy') stats.groupChangesToZim++;
    else stats.groupChangesToLegacy++;
  }

  /** A message's single mirror; `adopt`: as the activity's (activities/coexist.ts), none for runs of before it. */
  function mirror(e: SyncEvent, adopt: string[], via = acts): Promise<MirrorOutcome> {
    const act = e.origin === 'legacy' ? via.mirrorToZim : via.mirrorToLegacy;
    return adopt.length > 0 ? act(e, adopt) : act(e);
  }

  async function handle(e: SyncEvent, adopt: string[] = [], via = acts): Promise<void> {
    if (e.kind === 'echo') {
      stats.echoesSuppressed++;
      if (echoOfKnownMirror(e)) return;
      if (e.echoOf !== undefined && (await bookkeeping.confirmEcho(e)) === 'resolved') stats.resolvedByEcho++;
      return;
    }
    try {
      if (e.kind === 'group') return await handleGroup(e);
      const outcome = await mirror(e, adopt, via);
      countMirror(e, outcome, Date.now());
    } catch (err) {
      await mirrorFailed(e, err);
    }
  }

  function countMirror(e: SyncEvent, mirror: MirrorOutcome, at: number): void {
    // The ledger sends a message once, but reports `sent` to every event of it (a ZIM edit has another event key)
    // that the execution which sent it mirrors, or that names that execution (`adopt`): counted once, by the first.
    // Counts only, no command: no patch marker.
    const outcome = mirror !== 'already' && mirrored.has(`${e.origin}:${e.msgId ?? ''}`) ? 'already' : mirror;
    markMirrored(e);
    if (outcome === 'already') stats.alreadyMirrored++;
    else {
      if (outcome === 'resolved') stats.resolvedByTail++;
      if (e.origin === 'legacy') stats.mirroredToZim++;
      else stats.mirroredToLegacy++;
      recordLag(lags, e, at);
    }
  }

  /** The last 100 keys of refused (or parked) events, and their total (absent in stats of older runs). */
  function countIn(kind: 'refused' | 'parked', e: SyncEvent): void {
    const keys = stats[kind];
    keys.push(e.eventKey);
    if (keys.length > 100) keys.shift();
    const total = kind === 'refused' ? 'refusedTotal' : 'parkedTotal';
    stats[total] = (stats[total] ?? keys.length - 1) + 1;
  }
  const countRefused = (e: SyncEvent) => countIn('refused', e);

  async function mirrorFailed(e: SyncEvent, err: unknown): Promise<void> {
    if (!(err instanceof ActivityFailure)) throw err;
    if (err.cause instanceof ApplicationFailure && err.cause.nonRetryable) return countRefused(e);
    // Retries exhausted: park it for an operator and go on with the conversation.
    await bookkeeping.park(e, err.cause?.message ?? err.message);
    countIn('parked', e);
  }

  /**
   * The head and the ready messages right behind it (of either side), up to batchMax, with nothing else between
   * them (and none the handoff could take), and no more than the run has left; none when there are not two.
   */
  function backlog(head: SyncEvent, most: number): SyncEvent[] {
    const passes = (e: SyncEvent) => e.kind === 'message' && (handoff?.passes(e) ?? true);
    if (most < 2 || !passes(head)) return [];
    const now = Date.now();
    // Messages of the other side join the batch too (asked once, when one is next in line: runs recorded while
    // batches took one side only replay so).
    let eitherSide: boolean | undefined;
    const joins = (e: SyncEvent) =>
      passes(e) && (e.origin === head.origin || (eitherSide ??= patched(MIRROR_BATCH_EITHER_SIDE)));
    let n = 1;
    while (n < most && n < inbox.length && inbox[n]!.at + settleMs <= now && joins(inbox[n]!.event)) n++;
    // Only now: a lone message (or a run that never batches) records no marker.
    return n >= 2 && patched(MIRROR_BATCH) ? inbox.slice(0, n).map((h) => h.event) : [];
  }

  /**
   * One activity for the batch; each outcome is counted as its single mirror's would be. Returns how many it
   * settled: the rest (it stopped at a message failing retryably) go back to the inbox for a batch of their own.
   * Failed for good non-retryably: its first message is counted refused, as a single mirror's. Failed for good
   * otherwise: its last attempt may have timed out (a dead worker) after sending its first messages, unreported, so
   * parking the first could be a false alarm, and the rest would find their sends done `already`. The ledger knows
   * what it did, the workflow does not; so, the simplest that keeps the counts and the parks true: the first takes a
   * single mirror, which settles it by the ledger (SENT, or an intent by its lease and the tail) or sends it, and
   * parks it only if that fails for good too; and the failed execution joins `adopt`, passed to the mirrors of the
   * rest (also back in the inbox), for which its SENT is their own send. A message that keeps failing is parked after
   * its batch's attempts and at most SETTLE_ALONE_ATTEMPTS of its own (seconds at the backoff's start).
   */
  async function mirrorBatch(batch: SyncEvent[], adopt: string[]): Promise<number> {
    let outcomes: BatchOutcome[];
    try {
      outcomes = await (adopt.length > 0 ? acts.mirrorBatch(batch, adopt) : acts.mirrorBatch(batch));
    } catch (err) {
      const refused =
        err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable;
      if (err instanceof ActivityFailure && !refused) {
        if (err.activityId !== undefined) adopt.push(`${workflowInfo().runId}/${err.activityId}`);
        // Runs recorded before parked the first message here.
        if (patched(FAILED_BATCH_BY_LEDGER)) {
          await handle(batch[0]!, adopt, settleAloneActs);
          return 1;
        }
      }
      await mirrorFailed(batch[0]!, err);
      return 1;
    }
    outcomes.forEach((o, i) => ('refused' in o ? countRefused(batch[i]!) : countMirror(batch[i]!, o.outcome, o.at)));
    return Math.max(1, outcomes.length);
  }

  /**
   * What the handoff releases once the history is imported (up to its hold limit, 1,000 by default): consecutive
   * messages in batches like a backlog, anything else alone, in their order.
   */
  async function release(events: SyncEvent[]): Promise<void> {
    if (events.length < 2 || !patched(RELEASE_IN_BATCHES)) {
      for (const e of events) await handle(e);
      return;
    }
    // A failed batch's execution adopted for all that follow (only its own messages can have its SENT).
    const adopt: string[] = [];
    for (let i = 0; i < events.length;) {
      let n = 0;
      while (n < batchMax && i + n < events.length && events[i + n]!.kind === 'message') n++;
      if (n < 2) await handle(events[i++]!, adopt);
      else i += await mirrorBatch(events.slice(i, i + n), adopt);
    }
  }

  let handled = 0;
  for (;;) {
    await handoff?.tick(release);
    const waitMs = handoff?.waitMs(idleMs) ?? idleMs;
    if (!(await condition(() => inbox.length > 0 || closing, waitMs)) || (closing && inbox.length === 0)) {
      // Holding messages for the import: a check is due, not idle.
      if (!closing && handoff?.holding()) continue;
      await handoff?.close(release);
      // Idle: close. A signal that arrives as this completes fails the completion, and the run goes on.
      await condition(allHandlersFinished);
      if (inbox.length === 0) return stats;
      continue;
    }
    inbox.sort((a, b) => byPosition(a.event, b.event));
    const head = inbox[0]!;
    const wait = head.at + settleMs - Date.now();
    if (wait > 0) {
      // Something earlier may still arrive; after the wait the order is looked at again.
      await sleep(wait);
      continue;
    }
    const batch = backlog(head.event, Math.min(batchMax, eventsPerRun - handled));
    const taken = inbox.splice(0, Math.max(1, batch.length));
    handling = taken.map((h) => h.event);
    // Of all taken (an execution's SENT can only be of its own messages): what the batch adds goes with the rest.
    const adopt = [...new Set(taken.flatMap((h) => h.adopt ?? []))];
    let done = 1;
    if (batch.length > 0) done = await mirrorBatch(batch, adopt);
    else if (!(await handoff?.intercept(head.event))) await handle(head.event, adopt);
    // Not reached by the batch: first in line again, for the next one.
    inbox.unshift(...taken.splice(done).map((h) => (adopt.length > 0 ? { ...h, adopt } : h)));
    handling = [];
    for (const { event: e } of taken) {
      const last = lastHandled[e.origin];
      if (last && byPosition(e, last) < 0) stats.reordered++;
      else lastHandled[e.origin] = e;
      remember(e.eventKey);
    }
    handled += done;
    if (handled >= eventsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof conversationSyncWorkflow>({
        ...input,
        seen: seenOrder,
        mirrored: mirroredOrder,
        inbox,
        stats,
        closing,
        ...(handoff ? { handoffState: handoff.carry() } : {}),
      });
    }
  }
}
