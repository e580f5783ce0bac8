/**
 * A `gen --shape real` export (issue #16), planned through the CLI with the plan settings it needs, migrated into an
 * emulator with the same retention and member cap: every staged record lands exactly (the 700-member room, the odd
 * ids, the empty-looking texts), equal send times in the order of the file, and verify finds nothing wrong.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStaging } from '../../src/staging';
import { LARGEST_ROOM, REAL_SHAPE_PLAN_FLAGS, realGroupId, realUserId } from '../../src/synthetic/real-shape';
import { compareWithEmulator, isExact } from '../../src/testing/exact-state';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import { buildStaging, budgetsAt, startFastEmulator } from '../../src/testing/migration-rig';
import { expectedCopy, TYPE_NAMES } from '../helpers/real-shape';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

/** What plan was given (REAL_SHAPE_PLAN_FLAGS), so that the emulator refuses nothing that staging holds. */
const EMULATOR_LIMITS = { retentionDays: 10_000, maxGroupMembers: 2000 };

describe('gen --shape real migrated into the emulator', () => {
  let t: TemporalTestEnv;
  let staging: Awaited<ReturnType<typeof buildStaging>>;
  before(async () => {
    [t, staging] = await Promise.all([
      startTemporalTestEnv(),
      buildStaging(800, 4, {
        gen: ['--shape', 'real', '--messages', '400', '--group-messages', '200', '--groups', '12'],
        plan: [...REAL_SHAPE_PLAN_FLAGS, '--exclude-errors'],
      }),
    ]);
  });
  after(async () => {
    await t?.teardown();
  });

  it('lands every staged record exactly, equal send times in file order, and verifies', async () => {
    const rate = 1000;
    const emulator = await startFastEmulator({}, rate, EMULATOR_LIMITS);
    const stagingPath = staging.fresh();
    try {
      const result = await migrateIntoEmulator({
        connection: t.server.env.nativeConnection,
        client: t.client,
        emulator,
        stagingPath,
        migrationId: 'real-shape',
        budgets: budgetsAt(rate),
      });
      const store = await openStaging(stagingPath);
      const exactness = await compareWithEmulator(store, emulator);
      await store.close();
      assert.equal(result.status, 'completed');
      assert.ok(isExact(exactness), JSON.stringify(exactness));
      for (const stage of result.stages) {
        assert.equal(stage.status, 'done', stage.stage);
        assert.equal(stage.failed, 0, `${stage.stage} failed ${stage.failed}: ${JSON.stringify(stage)}`);
      }
      assert.equal(emulator.inspect.group(realGroupId(0))?.members.length, LARGEST_ROOM);
      const [owner, peer] = [realUserId(0), realUserId(1)];
      const landed = emulator.inspect.conversation(owner, peer, { limit: Infinity })!;
      assert.deepEqual(
        landed.map((m) => [m.sender, m.time, m.msgType === 1 ? m.body : TYPE_NAMES[m.msgType]]),
        expectedCopy(path.join(staging.dir, 'export'), owner, peer)
      );
    } finally {
      await emulator.stop();
    }
  });
});
