/**
 * Echoes settled at the receiver (docs/coexistence.md §2): an echo proves one of our mirrors landed; when the ledger
 * already holds that mirror SENT, the echo changes nothing, so the receiver records it in the store (counted once by
 * its event key) and answers without a Temporal call. An echo of a mirror not recorded SENT yet (its send was
 * ambiguous) still goes to its conversation, whose confirmEcho settles the ledger row.
 */
import type { CoexistStore, Origin } from '../coexist-store';
import type { SyncEvent } from '../sync-event';

/** settled: counted here, now; seen: an earlier delivery took it (here or to its workflow); hand-off: to the workflow. */
export type EchoVerdict = 'settled' | 'seen' | 'hand-off';

export interface EchoSettling {
  /** What to do with an echo (`kind` echo with `echoOf`) before any hand-off. */
  check(event: SyncEvent): Promise<EchoVerdict>;
  /** The echo's workflow took it (it counts it): recorded, so that a redelivery is not counted here as well. */
  handedOff(event: SyncEvent): Promise<void>;
}

/** The ledger row an echo proves: a ZIM echo is of a legacy message we sent, a legacy echo of a ZIM message. */
export const provenMirror = (e: SyncEvent): { origin: Origin; id: string } => ({
  origin: e.origin === 'zim' ? 'legacy' : 'zim',
  id: e.echoOf!,
});

export function settleEchoesInStore(store: CoexistStore, sync = ''): EchoSettling {
  const key = (e: SyncEvent) => ({ eventKey: e.eventKey, conv: e.conv, sync });
  return {
    async check(e) {
      const proven = provenMirror(e);
      if ((await store.record(proven.origin, proven.id))?.state === 'SENT')
        // One statement decides between racing deliveries: only the one that recorded the key counts it.
        return (await store.settleEcho(key(e))) ? 'settled' : 'seen';
      // Not SENT: its workflow settles the row; a copy it already took need not be handed again (it drops duplicates).
      return (await store.echoSettledBy(e.eventKey)) === 'workflow' ? 'seen' : 'hand-off';
    },
    handedOff: (e) => store.echoHandedOff(key(e)),
  };
}
