/**
 * One workflow per conversation during coexistence (workflow id `coexist:<conv>`; the receiver starts it with
 * signal-with-start). It serialises both directions: each event is held a settle window after it arrives, so a
 * late redelivery of an earlier one can still take its place, then events are handled one at a time in (time,
 * sequence) order, so every write in a conversation lands in order. One later than the window is handled anyway
 * and counted as reordered. Duplicates are dropped by event key (a bounded set carried across
 * continue-as-new; the ledger behind the activities is the durable second layer). Echoes of our own writes are
 * never mirrored. No message text enters history: events carry a body reference.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { CoexistActivities } from '../activities/coexist';
import type { SyncEvent } from '../src/coexist/sync-event';
import { emptyLags, recordLag, type RecentLags } from './coexist-lag';

export const SYNC_EVENT_SIGNAL = 'event';
export const syncEventSignal = defineSignal<[SyncEvent]>(SYNC_EVENT_SIGNAL);
export const syncStatsQuery = defineQuery<SyncStats>('stats');
/** `coexist stop`: close once nothing is queued (the receivers no longer take events for the sync). */
export const closeSignal = defineSignal('close');

export interface SyncStats {
  mirroredToZim: number;
  mirroredToLegacy: number;
  /** Mirrors the ledger showed as done (a redelivery past the dedup window, or a retried run). */
  alreadyMirrored: number;
  /** Ambiguous sends settled by finding them in the target's tail. */
  resolvedByTail: number;
  echoesSuppressed: number;
  /** Ambiguous sends settled by their echo. */
  resolvedByEcho: number;
  duplicatesDropped: number;
  groupEventsNotApplied: number;
  /** Events that arrived after a later one of their side had been handled (late beyond the settle window). */
  reordered: number;
  /** Mirrors the other side refused for good (unknown user, not a member…): their event keys, newest last. */
  refused: string[];
  runs: number;
  /** Events received and not handled yet (as of the query). */
  queued: number;
  /** Recent mirrors' lags per origin, for `coexist status`. */
  lags?: RecentLags;
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
  // Carried across continue-as-new:
  seen?: string[];
  inbox?: Held[];
  stats?: SyncStats;
  closing?: boolean;
}

const acts = proxyActivities<CoexistActivities>({
  startToCloseTimeout: '1 minute',
  // Unbounded: a mirror is safe to retry (intent + tail check), and giving up would break the conversation's order.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

const emptyStats = (): SyncStats => ({
  mirroredToZim: 0,
  mirroredToLegacy: 0,
  alreadyMirrored: 0,
  resolvedByTail: 0,
  echoesSuppressed: 0,
  resolvedByEcho: 0,
  duplicatesDropped: 0,
  groupEventsNotApplied: 0,
  reordered: 0,
  refused: [],
  runs: 0,
  queued: 0,
});

/** An event and when it arrived (workflow time). */
export interface Held {
  event: SyncEvent;
  at: number;
}

/** Time first, then the side's own sequence (both are monotonic on each side). */
const byPosition = (a: SyncEvent, b: SyncEvent) => a.occurredAt - b.occurredAt || a.order - b.order;

export async function conversationSyncWorkflow(input: ConversationSyncInput): Promise<SyncStats> {
  const settleMs = input.settleMs ?? 500;
  const idleMs = input.idleMs ?? 10 * 60_000;
  const eventsPerRun = input.eventsPerRun ?? 500;
  const seenLimit = input.seenLimit ?? 2_000;
  const stats: SyncStats = { ...emptyStats(), ...input.stats, runs: (input.stats?.runs ?? 0) + 1 };
  const seenOrder = [...(input.seen ?? [])];
  const seen = new Set(seenOrder);
  const inbox: Held[] = [...(input.inbox ?? [])];
  const pending = new Set(inbox.map((h) => h.event.eventKey));
  const lastHandled: Partial<Record<SyncEvent['origin'], SyncEvent>> = {};
  const lags = (stats.lags ??= emptyLags());
  let closing = input.closing ?? false;
  setHandler(closeSignal, () => void (closing = true));

  setHandler(syncEventSignal, (event) => {
    if (seen.has(event.eventKey) || pending.has(event.eventKey)) {
      stats.duplicatesDropped++;
      return;
    }
    pending.add(event.eventKey);
    inbox.push({ event, at: Date.now() });
  });
  setHandler(syncStatsQuery, () => ({ ...stats, queued: pending.size }));

  const remember = (key: string) => {
    pending.delete(key);
    seen.add(key);
    seenOrder.push(key);
    while (seenOrder.length > seenLimit) seen.delete(seenOrder.shift()!);
  };

  async function handle(e: SyncEvent): Promise<void> {
    if (e.kind === 'group') {
      stats.groupEventsNotApplied++;
      return;
    }
    if (e.kind === 'echo') {
      stats.echoesSuppressed++;
      if (e.echoOf !== undefined && (await acts.confirmEcho(e)) === 'resolved') stats.resolvedByEcho++;
      return;
    }
    try {
      const outcome = e.origin === 'legacy' ? await acts.mirrorToZim(e) : await acts.mirrorToLegacy(e);
      if (outcome === 'already') stats.alreadyMirrored++;
      else {
        if (outcome === 'resolved') stats.resolvedByTail++;
        if (e.origin === 'legacy') stats.mirroredToZim++;
        else stats.mirroredToLegacy++;
        recordLag(lags, e, Date.now());
      }
    } catch (err) {
      if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)) throw err;
      stats.refused.push(e.eventKey);
      if (stats.refused.length > 100) stats.refused.shift();
    }
  }

  let handled = 0;
  for (;;) {
    if (!(await condition(() => inbox.length > 0 || closing, idleMs)) || (closing && inbox.length === 0)) {
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
    inbox.shift();
    const e = head.event;
    const last = lastHandled[e.origin];
    if (last && byPosition(e, last) < 0) stats.reordered++;
    else lastHandled[e.origin] = e;
    await handle(e);
    remember(e.eventKey);
    handled++;
    if (handled >= eventsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof conversationSyncWorkflow>({ ...input, seen: seenOrder, inbox, stats, closing });
    }
  }
}
