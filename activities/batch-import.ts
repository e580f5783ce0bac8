/**
 * One page of a batch stage (UserRegister, ModifyUserInfo, AddFriends, AddUsersToBlacklist): one ZIM call for the
 * page's items that the ledger has not settled yet. Batch calls are safe to repeat (ZIM answers "already exists"),
 * so no reconciliation read is needed: an item ZIM reports as already there counts as done, a permanent refusal is
 * recorded with ZIM's code, and a transient per-item refusal makes the activity fail so that Temporal retries it,
 * re-sending only the items still unsettled.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { LedgerStatus } from '../src/staging/migration-store';
import type { Outcome } from './contract';

export interface BatchItem {
  /** The id ZIM names in its failure lists: the UserId (or the target UserId for friends and blocks). */
  id: string;
  ledgerKey: string;
  sourceId: string;
}

export interface BatchItemFailure {
  id: string;
  code: number;
  message?: string;
  outcome: 'already-exists' | 'retryable' | 'permanent';
}

export type BatchAnswer =
  { kind: 'answered'; failures: BatchItemFailure[] } | { kind: 'refused'; code: number; message: string };

export interface BatchPorts {
  items(): Promise<BatchItem[]>;
  ledgerGet(keys: string[]): Promise<Map<string, LedgerStatus>>;
  ledgerPut(
    rows: { key: string; status: LedgerStatus; sourceId: string; zimCode?: number; zimMessage?: string }[]
  ): Promise<void>;
  /** Waits for a call slot, then makes the batch call. Throws only for retryable trouble. */
  send(items: BatchItem[]): Promise<BatchAnswer>;
}

export async function importBatchPage(ports: BatchPorts): Promise<Outcome> {
  const items = await ports.items();
  const settled = await ports.ledgerGet(items.map((i) => i.ledgerKey));
  const outcome: Outcome = { done: 0, failed: 0, skipped: 0, calls: 0 };
  const count = (status: LedgerStatus | undefined) => {
    if (status === 'done') outcome.done++;
    else if (status === 'failed') outcome.failed++;
    else if (status === 'skipped') outcome.skipped++;
  };
  const unsettled = items.filter((i) => {
    const status = settled.get(i.ledgerKey);
    if (status && status !== 'pending') {
      count(status);
      return false;
    }
    return true;
  });
  if (unsettled.length === 0) return outcome;

  const answer = await ports.send(unsettled);
  outcome.calls++;
  const rows: Parameters<BatchPorts['ledgerPut']>[0] = [];
  const retryLater: BatchItemFailure[] = [];
  if (answer.kind === 'refused') {
    for (const item of unsettled)
      rows.push({
        key: item.ledgerKey,
        status: 'failed',
        sourceId: item.sourceId,
        zimCode: answer.code,
        zimMessage: answer.message,
      });
  } else {
    const failureById = new Map(answer.failures.map((f) => [f.id, f]));
    for (const item of unsettled) {
      const failure = failureById.get(item.id);
      if (!failure || failure.outcome === 'already-exists') {
        rows.push({ key: item.ledgerKey, status: 'done', sourceId: item.sourceId, zimCode: failure?.code });
      } else if (failure.outcome === 'permanent') {
        rows.push({
          key: item.ledgerKey,
          status: 'failed',
          sourceId: item.sourceId,
          zimCode: failure.code,
          zimMessage: failure.message,
        });
      } else {
        retryLater.push(failure);
      }
    }
  }
  await ports.ledgerPut(rows);
  if (retryLater.length > 0) {
    throw ApplicationFailure.retryable(
      `ZIM asked to retry ${retryLater.length} item(s) later (e.g. ${retryLater[0]!.id}: code ${retryLater[0]!.code})`,
      'ZimItemsRetryable'
    );
  }
  for (const row of rows) count(row.status);
  return outcome;
}
