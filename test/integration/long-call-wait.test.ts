/**
 * An import attempt that waits for its call slot longer than the activity's heartbeat timeout is still alive: it
 * must not be taken for dead. If it were, Temporal would start a second attempt while the first still holds its
 * slot; the second reconciles (nothing landed yet), sends, and the first then sends the same message again.
 * At ZIM's 20 calls/s a slot 10 s out only needs 200 imports of one Action in flight (50 owners × 4 lanes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createActivities } from '../../activities';
import { SqliteCallScheduler, type CallScheduler } from '../../src/rate-limit/call-scheduler';
import { workflowIds } from '../../src/shared/workflow-api';
import { openStaging } from '../../src/staging';
import type { MigrationStore } from '../../src/staging/migration-store';
import { compareWithEmulator, isExact } from '../../src/testing/exact-state';
import {
  buildStaging,
  FAST_BUDGETS,
  startFastEmulator,
  TEST_APP_ID,
  TEST_SECRET,
} from '../../src/testing/migration-rig';
import { ZimClient } from '../../src/zim-client';
import type { ZimEmulator } from '../../src/zim-emulator';
import { migrationWorkflow } from '../../workflows';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

/** Longer than ZIM_CALL_ACTIVITY_OPTIONS.heartbeatTimeout (10 s) plus the first retry's back-off. */
const SLOW_SLOT_MS = 14_000;

/** Holds the first `action` caller `ms` before its slot: a long queue at a low budget, in one place. */
class OneSlowSlot implements CallScheduler {
  #held = false;
  released?: Promise<void>;
  constructor(
    private readonly inner: CallScheduler,
    private readonly action: string,
    private readonly ms: number
  ) {}
  async acquire(action: string, key?: string, signal?: AbortSignal): Promise<number> {
    if (action === this.action && !this.#held) {
      this.#held = true;
      this.released = new Promise((r) => setTimeout(r, this.ms));
      await this.released;
    }
    return this.inner.acquire(action, key, signal);
  }
  backOff(action: string, key: string | undefined, ms: number) {
    return this.inner.backOff(action, key, ms);
  }
  sentInWindow(windowMs: number) {
    return this.inner.sentInWindow(windowMs);
  }
  setRate(action: string, rate: number) {
    return this.inner.setRate(action, rate);
  }
  close() {
    return this.inner.close();
  }
}

describe('an import waiting long for its call slot', () => {
  let t: TemporalTestEnv;
  let emulator: ZimEmulator;
  let staging: Awaited<ReturnType<typeof buildStaging>>;
  before(async () => {
    [t, staging, emulator] = await Promise.all([startTemporalTestEnv(), buildStaging(4, 5), startFastEmulator()]);
    // Lenient: a late duplicate is sorted in instead of refused, so the comparison sees it either way.
    emulator.configure({ behaviour: { ordering: 'lenient' } });
  });
  after(async () => {
    await emulator?.stop();
    await t?.teardown();
  });

  it('is neither retried alongside nor sent twice', async () => {
    const stagingPath = staging.fresh();
    const scheduler = new OneSlowSlot(
      new SqliteCallScheduler(':memory:', { appId: TEST_APP_ID }),
      'ImportPeerMsg',
      SLOW_SLOT_MS
    );
    const zim = new ZimClient({ baseUrl: emulator.url, appId: TEST_APP_ID, serverSecret: TEST_SECRET });
    const opened = new Map<string, Promise<MigrationStore>>();
    const openStore = (p: string) => {
      if (!opened.has(p)) opened.set(p, openStaging(p));
      return opened.get(p)!;
    };
    const worker = await t.createWorker({ activities: createActivities({ zim, scheduler, openStore }) });
    try {
      const result = await t.client.workflow.execute(migrationWorkflow, {
        taskQueue: worker.taskQueue,
        workflowId: workflowIds.migration('long-wait'),
        args: [{ migrationId: 'long-wait', stagingPath, budgets: FAST_BUDGETS }],
      });
      // The held attempt calls ZIM once its slot comes, unless it learnt that Temporal gave up on it.
      assert.ok(scheduler.released, 'no import waited for its slot');
      await scheduler.released;
      await new Promise((r) => setTimeout(r, 1_000));

      const store = await openStaging(stagingPath);
      const exactness = await compareWithEmulator(store, emulator);
      await store.close();
      assert.ok(isExact(exactness), JSON.stringify(exactness));
      const failed = result.stages.reduce((n, s) => n + s.failed, 0);
      assert.equal(failed, 0, 'the ledger records a failure for a message that landed');
    } finally {
      await worker.stop();
      await zim.close();
      await scheduler.close();
      for (const d of opened.values()) await (await d).close();
    }
  });
});
