/**
 * Catch-up rounds through the CLI (issue #13): gen, plan, start and watch a migration, then two later exports
 * (a full one, then an incremental one) each carried by `zim-migrate catch-up`, with a real Temporal dev server and
 * the ZIM emulator over HTTP. After each round ZIM holds exactly the latest export: the migration's own exactness
 * check (messages in order, relations, members, roles, nicknames) and the final-state check (profiles, no friend
 * or block left that the export removed, group data and attributes, dismissed groups gone), with every change
 * kind present in the rounds. Bad input is refused with the record and the fix named.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CHANGE_KINDS } from '../../src/catch-up/change-kinds';
import { openStaging } from '../../src/staging';
import { compareFinalState, compareWithEmulator, isExact } from '../../src/testing/exact-state';
import {
  buildStaging,
  FAST_BUDGETS,
  startFastEmulator,
  TEST_APP_ID,
  TEST_SECRET,
} from '../../src/testing/migration-rig';
import { createMigrationWorker } from '../../src/worker/migration-worker';
import type { ZimEmulator } from '../../src/zim-emulator';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');

describe('zim-migrate catch-up: rounds after a migration', () => {
  let t: TemporalTestEnv;
  let emulator: ZimEmulator;
  let dir: string;
  let staging: string;
  let env: NodeJS.ProcessEnv;
  let stopWorker: () => Promise<void>;
  const cli = async (...args: string[]) =>
    (await exec(process.execPath, [BIN, ...args], { env, cwd: dir, maxBuffer: 16 << 20 })).stdout;

  const assertExact = async (when: string) => {
    const store = await openStaging(staging, { readonly: true });
    try {
      const exactness = await compareWithEmulator(store, emulator);
      assert.ok(isExact(exactness), `${when}: ${JSON.stringify(exactness)}`);
      assert.deepEqual(await compareFinalState(store, emulator), [], when);
      const verify = (await store.ledgerCounts()).verify;
      assert.equal(verify?.failed ?? 0, 0, `${when}: verify found no difference`);
    } finally {
      await store.close();
    }
  };

  before(async () => {
    const built = await buildStaging(80, 7, { gen: ['--groups', '8', '--messages', '600', '--group-messages', '300'] });
    dir = built.dir;
    staging = built.fresh();
    [t, emulator] = await Promise.all([startTemporalTestEnv(), startFastEmulator()]);
    const taskQueue = 'catch-up-rounds';
    const worker = await createMigrationWorker({
      connection: t.server.env.nativeConnection,
      taskQueue,
      zim: {
        appId: TEST_APP_ID,
        serverSecret: TEST_SECRET,
        baseUrl: emulator.url,
        budgetDbPath: path.join(mkdtempSync(path.join(tmpdir(), 'budget-')), 'b.sqlite'),
      },
    });
    const running = worker.run();
    stopWorker = async () => {
      worker.worker.shutdown();
      await running;
    };
    env = { ...process.env, TEMPORAL_ADDRESS: t.server.address, ZIM_MIGRATE_TASK_QUEUE: taskQueue };
  });
  after(async () => {
    await stopWorker?.();
    await emulator?.stop();
    await t?.teardown();
  });

  it('migrates, then carries a full and an incremental later export exactly, every kind of change', async () => {
    const budgets = Object.entries(FAST_BUDGETS).flatMap(([a, r]) => ['--budget', `${a}=${r}`]);
    await cli('start', staging, '--name', 'acme', ...budgets);
    await cli('status', 'acme', '--watch');
    await assertExact('after the migration');

    // Round 1: a full later export.
    await cli('gen', '--evolve', 'export', '--out', 'export-2', '--seed', '2', '--change', '0.25', '--late', '1');
    const round1 = await cli('catch-up', staging, 'export-2');
    assert.match(round1, /Staged as round 1 of migration acme\./);
    assert.match(round1, /1 new message\(s\) are older than the newest one their conversation already holds/);
    assert.match(round1, / acme-round-1 COMPLETED/);
    await assertExact('after round 1');

    // Round 2: an incremental export (changes and tombstones since round 1's watermark).
    await cli('gen', '--evolve', 'export-2', '--out', 'delta-3', '--incremental', '--seed', '3', '--change', '0.25');
    const round2 = await cli('catch-up', staging, 'delta-3', '--name', 'acme');
    assert.match(round2, /Staged as round 2 of migration acme\./);
    assert.match(round2, / acme-round-2 COMPLETED/);
    await assertExact('after round 2');

    const store = await openStaging(staging, { readonly: true });
    try {
      const rounds = await store.rounds();
      assert.deepEqual(
        rounds.map((r) => [r.round, r.kind, r.state]),
        [
          [1, 'full', 'done'],
          [2, 'incremental', 'done'],
        ]
      );
      // Every kind of change was carried by a round (and so checked above); none was left out of the data.
      for (const kind of CHANGE_KINDS)
        assert.ok(
          rounds.some((r) => (r.changes[kind] ?? 0) > 0),
          `no round changed ${kind}`
        );
      // Round ops are the round's: nothing failed, nothing left pending.
      const ledger = (await store.ledgerCounts()).round!;
      assert.equal(ledger.failed ?? 0, 0);
      assert.equal(ledger.pending ?? 0, 0);
      assert.ok(ledger.done > 0);
    } finally {
      await store.close();
    }

    // report lists the rounds with their records and durations.
    const report = await cli('report', staging);
    assert.match(report, /\nCatch-up rounds:\n/);
    assert.match(report, /\n {2}round 1 +full .* done /);
    assert.match(report, /\n {2}round 2 +incremental .* done /);
  });

  it('refuses a round on the wrong migration and an export older than the last round, naming the fix', async () => {
    await assert.rejects(
      cli('catch-up', staging, 'export-2', '--name', 'other'),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2);
        assert.match(err.stderr, /is the staging of migration "acme", not "other".*--name acme/);
        return true;
      }
    );
    // A delta cut from the first export: its since is older than round 2's watermark.
    await cli('gen', '--evolve', 'export', '--out', 'stale', '--incremental', '--seed', '4');
    await assert.rejects(cli('catch-up', staging, 'stale'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(
        err.stderr,
        /export\.json: since .* is older than round 2's watermark .*Export the delta again with since = /
      );
      return true;
    });
  });
});
