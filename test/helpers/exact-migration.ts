/** What every migration test asks of a finished run: ZIM holds exactly what was staged, and the ledger is settled. */
import assert from 'node:assert/strict';
import type { MigrationStore } from '../../src/staging/migration-store';
import { compareWithEmulator, isExact } from '../../src/testing/exact-state';
import type { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import type { ZimEmulator } from '../../src/zim-emulator';

type StageResults = Awaited<ReturnType<typeof migrateIntoEmulator>>['stages'];

export async function assertExactAndSettled(
  store: MigrationStore,
  emulator: ZimEmulator,
  stages: StageResults
): Promise<void> {
  const exactness = await compareWithEmulator(store, emulator);
  assert.ok(isExact(exactness), JSON.stringify(exactness));
  assert.ok(exactness.messages > 300, `too small a dataset: ${exactness.messages} messages`);
  const counts = await store.ledgerCounts();
  for (const stage of stages) {
    assert.equal(stage.status, 'done', stage.stage);
    assert.equal(stage.failed, 0, `${stage.stage} failed ${stage.failed}`);
    assert.equal(stage.done + stage.skipped, stage.planned, `${stage.stage}: ${JSON.stringify(stage)}`);
    const c = counts[stage.stage] ?? { pending: 0, done: 0, failed: 0, skipped: 0 };
    assert.equal(c.failed, 0, stage.stage);
    assert.equal(c.pending, 0, `${stage.stage}: nothing left pending in the ledger`);
  }
}
