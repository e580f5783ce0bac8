/**
 * One page of the read-state stage: for each read position not yet settled in the ledger, ClearConversationUnread
 * as the reader (zim-api.md §6.17), one call per conversation. Validation staged only positions at the newest
 * message of the reader's copy, so "clear the whole unread count" is exactly the source's read state. The call sets
 * a state: a repeat after an ambiguous failure changes nothing, so a retried page calls again for what is unsettled.
 * Each outcome is written as it comes, under `read/<user>/<peer|group>/<conversation>`.
 *
 * Why not C2cReadReceipt / GroupReadReceipt: they set the read receipt of given messages (by MsgSeq, ≤ 10 per call)
 * for messages sent with a receipt request, which imported history is not; whether they move the unread count at
 * all is UNCONFIRMED, and a long conversation would need one call per ten messages (docs/import-format.md).
 */
import { ledgerKeys } from '../src/staging/ledger-keys';
import type { LedgerStatus, StagedReadState } from '../src/staging/migration-store';
import type { Outcome } from './contract';

export type ClearAttempt = { kind: 'cleared' } | { kind: 'refused'; code: number; message: string };

export interface ReadStatePorts {
  items(): Promise<StagedReadState[]>;
  ledgerGet(keys: string[]): Promise<Map<string, LedgerStatus>>;
  ledgerPut(
    rows: { key: string; status: LedgerStatus; sourceId: string; zimCode?: number; zimMessage?: string }[]
  ): Promise<void>;
  /** Waits for a call slot, then calls ClearConversationUnread as the reader. Throws only for retryable trouble. */
  clear(item: StagedReadState): Promise<ClearAttempt>;
}

export const readStateKey = (r: StagedReadState) => ledgerKeys.readState(r.user, r.kind, r.conv);

export async function markReadPage(ports: ReadStatePorts): Promise<Outcome> {
  const items = await ports.items();
  const settled = await ports.ledgerGet(items.map(readStateKey));
  const outcome: Outcome = { done: 0, failed: 0, skipped: 0, calls: 0 };
  for (const item of items) {
    const key = readStateKey(item);
    const status = settled.get(key);
    if (status && status !== 'pending') {
      if (status === 'done' || status === 'failed' || status === 'skipped') outcome[status]++;
      continue;
    }
    const attempt = await ports.clear(item);
    outcome.calls++;
    if (attempt.kind === 'cleared') {
      await ports.ledgerPut([{ key, status: 'done', sourceId: item.msg }]);
      outcome.done++;
    } else {
      await ports.ledgerPut([
        { key, status: 'failed', sourceId: item.msg, zimCode: attempt.code, zimMessage: attempt.message },
      ]);
      outcome.failed++;
    }
  }
  return outcome;
}
