import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importBatchPage, type BatchAnswer, type BatchItem } from '../../activities/batch-import';
import type { LedgerStatus } from '../../src/staging/migration-store';

function page(ids: string[], answers: BatchAnswer[]) {
  const ledger = new Map<string, { status: LedgerStatus; zimCode?: number }>();
  const sent: string[][] = [];
  const items: BatchItem[] = ids.map((id) => ({ id, ledgerKey: `u/${id}`, sourceId: `src-${id}` }));
  return {
    ledger,
    sent,
    ports: {
      items: async () => items,
      ledgerGet: async (keys: string[]) =>
        new Map(keys.flatMap((k) => (ledger.has(k) ? [[k, ledger.get(k)!.status] as const] : []))),
      ledgerPut: async (rows: { key: string; status: LedgerStatus; zimCode?: number }[]) => {
        for (const r of rows) ledger.set(r.key, { status: r.status, zimCode: r.zimCode });
      },
      send: async (batch: BatchItem[]) => {
        sent.push(batch.map((i) => i.id));
        return answers.shift() ?? { kind: 'answered', failures: [] };
      },
    },
  };
}

describe('importBatchPage', () => {
  it('counts already-existing items as done and records permanent refusals with their code', async () => {
    const p = page(
      ['a', 'b', 'c'],
      [
        {
          kind: 'answered',
          failures: [
            { id: 'b', code: 660700002, outcome: 'already-exists' },
            { id: 'c', code: 660000012, outcome: 'permanent', message: 'user length limit' },
          ],
        },
      ]
    );
    assert.deepEqual(await importBatchPage(p.ports), { done: 2, failed: 1, skipped: 0, calls: 1 });
    assert.deepEqual(p.ledger.get('u/c'), { status: 'failed', zimCode: 660000012 });
    // A second run (Temporal retried after the result was lost) calls nothing and reports the same counts.
    assert.deepEqual(await importBatchPage(p.ports), { done: 2, failed: 1, skipped: 0, calls: 0 });
    assert.equal(p.sent.length, 1);
  });

  it('retries only the items ZIM asked to retry', async () => {
    const p = page(['a', 'b'], [{ kind: 'answered', failures: [{ id: 'b', code: 660000001, outcome: 'retryable' }] }]);
    await assert.rejects(importBatchPage(p.ports), /retry 1 item/);
    assert.deepEqual(await importBatchPage(p.ports), { done: 2, failed: 0, skipped: 0, calls: 1 });
    assert.deepEqual(p.sent, [['a', 'b'], ['b']]);
  });

  it('fails every item of a call refused as a whole, with the code', async () => {
    const p = page(['a', 'b'], [{ kind: 'refused', code: 660000002, message: 'bad parameter' }]);
    assert.deepEqual(await importBatchPage(p.ports), { done: 0, failed: 2, skipped: 0, calls: 1 });
    assert.equal(p.ledger.get('u/a')!.zimCode, 660000002);
  });
});
