/**
 * `coexist parked --retry`: hands parked mirrors back to their conversations. Safe to repeat: the retry is the
 * same event under a new key (the conversation's dedup would drop the old one), and the mirror it starts is
 * settled by the mirror ledger, not by the key: a message the first attempts did land is found in the target's
 * tail and not sent again; a group change is convergent state, dropped as stale when a later one superseded it.
 */
import type { CoexistStore, ParkedRecord } from './coexist-store';
import type { SyncEvent } from './sync-event';

export interface RetryParkedResult {
  /** Handed back to their conversation (and no longer parked). */
  retried: ParkedRecord[];
  /** Parked by an older version that did not keep the event: only the listed action can settle them. */
  withoutEvent: ParkedRecord[];
  /** Keys asked for that are not parked. */
  unknown: string[];
}

/** The retry's event key: the parked one plus when it was retried, so a retry that is parked again stays apart. */
export const retryKey = (eventKey: string, at: number) => `${eventKey.replace(/#retry-\d+$/, '')}#retry-${at}`;

export async function retryParked(
  store: CoexistStore,
  handoff: (e: SyncEvent) => Promise<void>,
  which: { all: true } | { keys: readonly string[] },
  now = Date.now()
): Promise<RetryParkedResult> {
  const parked = await store.parked();
  const chosen = 'all' in which ? parked : parked.filter((p) => which.keys.includes(p.eventKey));
  const unknown = 'all' in which ? [] : which.keys.filter((k) => !parked.some((p) => p.eventKey === k));
  const result: RetryParkedResult = { retried: [], withoutEvent: [], unknown };
  for (const p of chosen) {
    if (!p.event) {
      result.withoutEvent.push(p);
      continue;
    }
    // Handed off first: a crash before the unpark leaves it parked, and retrying it again is harmless.
    await handoff({ ...p.event, eventKey: retryKey(p.eventKey, now) });
    await store.unpark(p.eventKey);
    result.retried.push(p);
  }
  return result;
}
