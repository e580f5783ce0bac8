/**
 * One workflow per conversation during coexistence (workflow id `coexist:<conv>`; the receiver starts it with
 * signal-with-start). It serialises both directions: events are taken in arrival batches, held a settle window so
 * a late redelivery can still take its place, sorted by time and sequence, and handled one at a time, so every
 * write in a conversation lands in order. Duplicates are dropped by event key (a bounded set carried across
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

export const SYNC_EVENT_SIGNAL = 'event';
export const syncEventSignal = defineSignal<[SyncEvent]>(SYNC_EVENT_SIGNAL);
export const syncStatsQuery = defineQuery<SyncStats>('stats');

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
  /** Mirrors the other side refused for good (unknown user, not a member…): their event keys, newest last. */
  refused: string[];
  runs: number;
  /** Events received and not handled yet (as of the query). */
  queued: number;
}

export interface ConversationSyncInput {
  conv: string;
  /** How long a batch waits for stragglers before it is sorted and handled (ms). */
  settleMs?: number;
  /** The workflow closes after this long without events; the next event starts it again (ms). */
  idleMs?: number;
  /** Continue-as-new after this many events handled in one run. */
  eventsPerRun?: number;
  /** Event keys remembered for dedup. */
  seenLimit?: number;
  // Carried across continue-as-new:
  seen?: string[];
  inbox?: SyncEvent[];
  stats?: SyncStats;
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
  refused: [],
  runs: 0,
  queued: 0,
});

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
  const inbox: SyncEvent[] = [...(input.inbox ?? [])];
  const pending = new Set(inbox.map((e) => e.eventKey));

  setHandler(syncEventSignal, (event) => {
    if (seen.has(event.eventKey) || pending.has(event.eventKey)) {
      stats.duplicatesDropped++;
      return;
    }
    pending.add(event.eventKey);
    inbox.push(event);
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
      }
    } catch (err) {
      if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)) throw err;
      stats.refused.push(e.eventKey);
      if (stats.refused.length > 100) stats.refused.shift();
    }
  }

  let handled = 0;
  for (;;) {
    if (!(await condition(() => inbox.length > 0, idleMs))) {
      // Idle: close. A signal that arrives as this completes fails the completion, and the run goes on.
      await condition(allHandlersFinished);
      if (inbox.length === 0) return stats;
      continue;
    }
    if (settleMs > 0) await sleep(settleMs);
    const batch = inbox.splice(0).sort(byPosition);
    for (const e of batch) {
      await handle(e);
      remember(e.eventKey);
      handled++;
    }
    if (handled >= eventsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof conversationSyncWorkflow>({
        ...input,
        seen: seenOrder,
        inbox,
        stats,
      });
    }
  }
}
